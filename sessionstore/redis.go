package sessionstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
)

// RedisURL is a parsed SESSION_REDIS address.
type RedisURL struct {
	Network  string // "tcp" or "unix"
	Address  string // host:port, or the socket's path
	Username string
	Password string
	DB       int
	TLS      bool
}

// ParseRedisURL parses redis://[user:password@]host[:port][/db],
// rediss://... (TLS) and unix://[user:password@]/path/to/socket[?db=N].
// The port defaults to 6379 and the database to 0. Errors never contain the
// password.
func ParseRedisURL(raw string) (RedisURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return RedisURL{}, errors.New("not a URL")
	}
	var r RedisURL
	if u.User != nil {
		r.Username = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	db := ""
	switch u.Scheme {
	case "redis", "rediss":
		r.Network, r.TLS = "tcp", u.Scheme == "rediss"
		host, port := u.Hostname(), u.Port()
		if host == "" {
			return RedisURL{}, errors.New("no host")
		}
		if port == "" {
			port = "6379"
		}
		r.Address = net.JoinHostPort(host, port)
		db = strings.TrimPrefix(u.Path, "/")
	case "unix":
		if u.Path == "" {
			return RedisURL{}, errors.New("no socket path")
		}
		r.Network, r.Address = "unix", u.Path
		db = u.Query().Get("db")
	default:
		return RedisURL{}, errors.New("scheme must be redis, rediss or unix")
	}
	if db != "" {
		if r.DB, err = strconv.Atoi(db); err != nil || r.DB < 0 {
			return RedisURL{}, fmt.Errorf("database %q is not a number", db)
		}
	}
	return r, nil
}

// RedisConfig configures a Redis backend.
type RedisConfig struct {
	URL RedisURL
	// Prefix starts every key; the key is Prefix + session ID.
	Prefix string
	// Timeout bounds connecting and each command's write and read.
	Timeout time.Duration
	// PoolSize is the most connections open at once. Callers share them,
	// pipelined: one per four CPUs, up to PoolSize.
	PoolSize int
	// TLS is used for rediss:// URLs; nil means the system's roots.
	TLS *tls.Config
}

// Redis keeps sessions as Redis strings (prefix + ID -> JSON) with a TTL.
// Its commands share a few connections, pipelined automatically (see
// pipeline). It sends no PING on borrow: a connection that breaks is
// retried once on a fresh one, and every connection idle since the failure
// is replaced, so a Redis restart costs no request.
type Redis struct {
	pool     *pipeline
	prefix   string
	timeout  time.Duration
	lastFail atomic.Int64 // unix nanoseconds of the last broken connection
}

// NewRedis returns a Redis backend. It does not connect: the first use does,
// so the process starts while Redis is down.
func NewRedis(cfg RedisConfig) *Redis {
	b := &Redis{prefix: cfg.Prefix, timeout: cfg.Timeout}
	opts := []redis.DialOption{
		redis.DialConnectTimeout(cfg.Timeout),
		redis.DialReadTimeout(cfg.Timeout),
		redis.DialWriteTimeout(cfg.Timeout),
		redis.DialTLSHandshakeTimeout(cfg.Timeout),
		redis.DialUsername(cfg.URL.Username),
		redis.DialPassword(cfg.URL.Password),
		redis.DialDatabase(cfg.URL.DB),
		redis.DialUseTLS(cfg.URL.TLS),
		redis.DialTLSConfig(cfg.TLS),
	}
	dial := func(ctx context.Context) (redis.Conn, error) {
		return redis.DialContext(ctx, cfg.URL.Network, cfg.URL.Address, opts...)
	}
	b.pool = newPipeline(cfg.PoolSize, dial, func(lastOK time.Time) error {
		if lastOK.UnixNano() < b.lastFail.Load() {
			return errStale
		}
		return nil
	})
	return b
}

var errStale = errors.New("connection idle since a failure")

// do runs fn on a pooled connection. When the connection breaks, fn runs
// once more on a fresh one; every command this backend sends is idempotent,
// so a retry cannot apply a write twice.
func (b *Redis) do(ctx context.Context, fn func(c redis.Conn, timeout time.Duration) error) error {
	for attempt := 0; ; attempt++ {
		c, err := b.pool.GetContext(ctx)
		if err != nil {
			return err
		}
		timeout := b.timeout
		if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
			timeout = time.Until(d)
		}
		err = fn(c, timeout)
		broken := c.Err() != nil
		c.Close()
		if err == nil || !broken || attempt > 0 || ctx.Err() != nil {
			return err
		}
		b.lastFail.Store(time.Now().UnixNano())
	}
}

// Load implements Backend with one GET, or GETEX when refreshing.
func (b *Redis) Load(ctx context.Context, id string, refresh time.Duration) (data []byte, found bool, err error) {
	key := b.prefix + id
	err = b.do(ctx, func(c redis.Conn, timeout time.Duration) (err error) {
		if refresh > 0 {
			data, err = redis.Bytes(redis.DoWithTimeout(c, timeout, "GETEX", key, "PX", refresh.Milliseconds()))
		} else {
			data, err = redis.Bytes(redis.DoWithTimeout(c, timeout, "GET", key))
		}
		return err
	})
	if errors.Is(err, redis.ErrNil) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// Save implements Backend with one SET ... PX.
func (b *Redis) Save(ctx context.Context, id string, data []byte, ttl time.Duration) error {
	return b.do(ctx, func(c redis.Conn, timeout time.Duration) error {
		_, err := redis.DoWithTimeout(c, timeout, "SET", b.prefix+id, data, "PX", ttl.Milliseconds())
		return err
	})
}

// Delete implements Backend with one DEL.
func (b *Redis) Delete(ctx context.Context, id string) error {
	return b.do(ctx, func(c redis.Conn, timeout time.Duration) error {
		_, err := redis.DoWithTimeout(c, timeout, "DEL", b.prefix+id)
		return err
	})
}

// Ping implements Backend.
func (b *Redis) Ping(ctx context.Context) error {
	return b.do(ctx, func(c redis.Conn, timeout time.Duration) error {
		_, err := redis.DoWithTimeout(c, timeout, "PING")
		return err
	})
}

// Close closes the pool's connections.
func (b *Redis) Close() error {
	return b.pool.Close()
}
