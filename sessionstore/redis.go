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
	Network  string // "tcp", "unix" or "sentinel"
	Address  string // host:port, or the socket's path; for "sentinel", the sentinels' host:port, comma-separated
	Username string
	Password string
	DB       int
	TLS      bool

	// MasterName is the master's name in the sentinels' configuration.
	MasterName string
}

// ParseRedisURL parses redis://[user:password@]host[:port][/db],
// rediss://... (TLS), unix://[user:password@]/path/to/socket[?db=N] and
// redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername.
// The port defaults to 6379 (26379 for sentinels) and the database to 0.
// Errors never contain the password.
func ParseRedisURL(raw string) (RedisURL, error) {
	if strings.HasPrefix(raw, "redis-sentinel://") {
		return parseSentinelURL(raw)
	}
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
		return RedisURL{}, errors.New("scheme must be redis, rediss, unix or redis-sentinel")
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
	// IndexPrefix starts the keys of the owner index (see OwnerIndex): a
	// sorted set per owner, IndexPrefix + the owner in lower case, of
	// session keys scored by expiry. It must not start with Prefix, so that
	// a scan of Prefix* finds sessions only. Empty means "by-owner:" +
	// Prefix.
	IndexPrefix string
	// MinReplicas, when positive, makes every write and delete wait (WAIT,
	// sent with the write) until that many replicas have it; too few
	// within the timeout fail the call. Zero waits for none.
	MinReplicas int
}

// Redis keeps sessions as Redis strings (prefix + ID -> JSON) with a TTL.
// Its commands share a few connections, pipelined automatically (see
// pipeline). It sends no PING on borrow: a connection that breaks is
// retried once on a fresh one, and every connection idle since the failure
// is replaced, so a Redis restart costs no request.
type Redis struct {
	pool        connPool
	prefix      string
	indexPrefix string
	timeout     time.Duration
	lastFail    atomic.Int64 // unix nanoseconds of the last broken connection
	dialed      atomic.Pointer[string]

	minReplicas int       // see RedisConfig.MinReplicas
	sentinel    *sentinel // nil unless the URL is redis-sentinel://
	pruneOneIn  int       // an owner index is pruned on one write to it in this many, at random
}

// NewRedis returns a Redis backend. It does not connect to Redis: the first
// use does, so the process starts while Redis is down. With Sentinel it
// starts watching the sentinels at once, until Close.
func NewRedis(cfg RedisConfig) *Redis {
	b := &Redis{prefix: cfg.Prefix, indexPrefix: cfg.IndexPrefix, timeout: cfg.Timeout, minReplicas: cfg.MinReplicas, pruneOneIn: indexPruneOneIn}
	if b.indexPrefix == "" {
		b.indexPrefix = "by-owner:" + cfg.Prefix
	}
	b.noteDialed(cfg.URL.Address)
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
	pipelined := cfg.URL.Network != "sentinel" && cfg.MinReplicas <= 0
	if pipelined {
		// redigo sets a deadline for every command it sends and every reply
		// it reads; a shared connection gets one per system call instead.
		dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 5 * time.Minute}
		opts = append(opts, redis.DialReadTimeout(0), redis.DialWriteTimeout(0),
			redis.DialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return ioDeadlineConn{c, cfg.Timeout}, nil
			}))
	}
	dial := func(ctx context.Context) (redis.Conn, error) {
		b.noteDialed(cfg.URL.Address)
		return redis.DialContext(ctx, cfg.URL.Network, cfg.URL.Address, opts...)
	}
	stale := func(returned time.Time) error {
		if returned.UnixNano() < b.lastFail.Load() {
			return errStale
		}
		return nil
	}
	if pipelined {
		b.pool = newPipeline(cfg.PoolSize, dial, stale)
		return b
	}
	// Sentinel checks a connection's role before reuse, and WAIT blocks its
	// connection: both need connections of their own, from a classic pool.
	if cfg.URL.Network == "sentinel" {
		b.sentinel = newSentinel(cfg.URL, cfg.Timeout, opts)
		dial = func(ctx context.Context) (redis.Conn, error) {
			c, err := b.sentinel.dial(ctx)
			if mc, ok := c.(masterConn); ok {
				b.noteDialed(mc.addr)
			}
			return c, err
		}
	}
	b.pool = &classicPool{Pool: &redis.Pool{
		DialContext: dial,
		MaxIdle:     cfg.PoolSize,
		MaxActive:   cfg.PoolSize,
		Wait:        true,
		IdleTimeout: 5 * time.Minute,
		TestOnBorrow: func(c redis.Conn, returned time.Time) error {
			if err := stale(returned); err != nil || b.sentinel == nil {
				return err
			}
			return b.sentinel.check(c, returned)
		},
	}}
	return b
}

// ioDeadlineConn gives each read and write a deadline timeout away.
type ioDeadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c ioDeadlineConn) Read(p []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c ioDeadlineConn) Write(p []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// connPool hands out connections: a *classicPool, or the shared, pipelined
// connections of a *pipeline.
type connPool interface {
	GetContext(ctx context.Context) (redis.Conn, error)
	Close() error
}

// classicPool is a redigo pool that counts the callers waiting for a
// connection.
type classicPool struct {
	*redis.Pool
	waiting atomic.Int64
}

func (p *classicPool) GetContext(ctx context.Context) (redis.Conn, error) {
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	return p.Pool.GetContext(ctx)
}

var errStale = errors.New("connection idle since a failure")

// do runs fn on a pooled connection. When the connection breaks, or its
// server turned out to be a read-only replica (a failover), fn runs once
// more on a fresh one; every command this backend sends is idempotent, so a
// retry cannot apply a write twice.
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
		broken := c.Err() != nil || isReadOnly(err)
		c.Close()
		if err == nil || !broken || attempt > 0 || ctx.Err() != nil {
			return err
		}
		b.lastFail.Store(time.Now().UnixNano())
	}
}

// Load implements Backend with one GET, or GETEX when refreshing.
func (b *Redis) Load(ctx context.Context, key string, refresh time.Duration) (data []byte, found bool, err error) {
	key = b.prefix + key
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

// Write implements Backend: one SET ... PX (or DEL), or when there is more
// to do (several records, or an owner index to keep in step) MULTI, the
// commands, EXEC; with MinReplicas a WAIT follows. All go in one round trip.
func (b *Redis) Write(ctx context.Context, recs ...Record) error {
	now := time.Now()
	cmds := make([]command, 0, 6*len(recs)) // at most 6 each: SET or DEL, ZREM, ZADD, ZREMRANGEBYSCORE, 2 PEXPIRE
	for _, r := range recs {
		cmds = b.commands(cmds, r, now)
	}
	return b.do(ctx, func(c redis.Conn, timeout time.Duration) error {
		return b.write(c, timeout, cmds)
	})
}

// Ping implements Backend.
func (b *Redis) Ping(ctx context.Context) error {
	return b.do(ctx, func(c redis.Conn, timeout time.Duration) error {
		_, err := redis.DoWithTimeout(c, timeout, "PING")
		return err
	})
}

// Close closes the pool's connections (and stops watching the sentinels).
func (b *Redis) Close() error {
	if b.sentinel != nil {
		b.sentinel.Close()
	}
	return b.pool.Close()
}
