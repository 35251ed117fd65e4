// Package redisstore keeps sessions in Redis, as session.Backend: one
// string per session (prefix + key -> JSON) with a TTL, and a sorted set
// per owner (see session.OwnerIndex). Its commands share a few pipelined
// connections (package pipeline), or, with Sentinel (package sentinel) or
// MinReplicas, a classic redigo pool; every call has connect, read and
// write timeouts.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore/pipeline"
	"github.com/sessionsvc/sessionsvc/session/redisstore/sentinel"
)

// URL says where Redis is and how to log in. Its fields are those of
// config.RedisURL, a parsed SESSION_REDIS, which converts to it.
type URL struct {
	Network  string // "tcp", "unix" or "sentinel"
	Address  string // host:port, or the socket's path; for "sentinel", the sentinels' host:port, comma-separated
	Username string
	Password string
	DB       int
	TLS      bool

	// MasterName is the master's name in the sentinels' configuration.
	MasterName string
}

// Config configures a Backend.
type Config struct {
	URL URL
	// Prefix starts every key; the key is Prefix + session ID.
	Prefix string
	// Timeout bounds connecting and each command's write and read.
	Timeout time.Duration
	// PoolSize is the most connections open at once. Callers share them,
	// pipelined: one per four CPUs, up to PoolSize.
	PoolSize int
	// TLS is used for rediss:// URLs; nil means the system's roots.
	TLS *tls.Config
	// IndexPrefix starts the keys of the owner index (session.OwnerIndex): a
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

// Backend keeps sessions as Redis strings (prefix + ID -> JSON) with a
// TTL. Its commands share a few connections, pipelined automatically (see
// package pipeline). It sends no PING on borrow: a connection that breaks is
// retried once on a fresh one, and every connection idle since the failure
// is replaced, so a Redis restart costs no request.
type Backend struct {
	pool        connPool
	prefix      string
	indexPrefix string
	timeout     time.Duration
	lastFail    atomic.Int64 // unix nanoseconds of the last broken connection
	dialed      atomic.Pointer[string]

	minReplicas int                // see Config.MinReplicas
	sentinel    *sentinel.Sentinel // nil unless the URL is redis-sentinel://
	pruneOneIn  int                // an owner index is pruned on one write to it in this many, at random
}

// Backend has every ability of session/backend.go.
var (
	_ session.Backend      = (*Backend)(nil)
	_ session.Lister       = (*Backend)(nil)
	_ session.OwnerIndex   = (*Backend)(nil)
	_ session.Inspector    = (*Backend)(nil)
	_ session.Describer    = (*Backend)(nil)
	_ session.PoolReporter = (*Backend)(nil)
)

// New returns a Backend. It does not connect to Redis: the first
// use does, so the process starts while Redis is down. With Sentinel it
// starts watching the sentinels at once, until Close.
func New(cfg Config) *Backend {
	b := &Backend{prefix: cfg.Prefix, indexPrefix: cfg.IndexPrefix, timeout: cfg.Timeout, minReplicas: cfg.MinReplicas, pruneOneIn: indexPruneOneIn}
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
		b.pool = pipeline.New(cfg.PoolSize, dial, stale)
		return b
	}
	// Sentinel checks a connection's role before reuse, and WAIT blocks its
	// connection: both need connections of their own, from a classic pool.
	if cfg.URL.Network == "sentinel" {
		b.sentinel = sentinel.New(sentinel.Config{
			Addrs: strings.Split(cfg.URL.Address, ","), MasterName: cfg.URL.MasterName,
			Username: cfg.URL.Username, Password: cfg.URL.Password,
			Timeout: cfg.Timeout, DialOptions: opts,
		})
		dial = func(ctx context.Context) (redis.Conn, error) {
			c, err := b.sentinel.Dial(ctx)
			if err == nil {
				b.noteDialed(b.sentinel.Master())
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
			return b.sentinel.Check(c, returned)
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
// connections of a *pipeline.Pipeline.
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

// do sends cmds in one round trip on a pooled connection and returns
// their replies, one each; a reply that is a Redis error is a redis.Error
// in replies, not err. When the connection breaks, or its server turned
// out to be a read-only replica (a failover), cmds go once more on a fresh
// one; every command this backend sends is idempotent, so a retry cannot
// apply a write twice. (A conditional write retried after it applied finds
// its own data and reports a conflict, which the Store resolves by finding
// nothing left to write.)
func (b *Backend) do(ctx context.Context, cmds ...command) (replies []any, err error) {
	for attempt := 0; ; attempt++ {
		c, err := b.pool.GetContext(ctx)
		if err != nil {
			return nil, err
		}
		timeout := b.timeout
		if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
			timeout = time.Until(d)
		}
		for _, cmd := range cmds {
			c.Send(cmd.name, cmd.args...) // a failure shows in Flush
		}
		err = c.Flush()
		replies = make([]any, 0, len(cmds))
		readOnly := false
		for range cmds {
			if err != nil {
				break
			}
			var reply any
			reply, err = redis.ReceiveWithTimeout(c, timeout)
			if re, ok := err.(redis.Error); ok {
				reply, err = re, nil
				readOnly = readOnly || strings.HasPrefix(string(re), "READONLY")
			}
			replies = append(replies, reply)
		}
		broken := c.Err() != nil || readOnly
		c.Close()
		if !broken || attempt > 0 || ctx.Err() != nil {
			return replies, err
		}
		b.lastFail.Store(time.Now().UnixNano())
	}
}

// Load implements session.Backend with one GET, or GETEX when refreshing.
func (b *Backend) Load(ctx context.Context, key string, refresh time.Duration) (data []byte, found bool, err error) {
	cmd := command{"GET", []any{b.prefix + key}}
	if refresh > 0 {
		cmd = command{"GETEX", []any{b.prefix + key, "PX", refresh.Milliseconds()}}
	}
	replies, err := b.do(ctx, cmd)
	if err == nil {
		data, err = redis.Bytes(replies[0], nil)
	}
	if errors.Is(err, redis.ErrNil) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// Write implements session.Backend: one SET ... PX (or DEL), or when there
// is more to do (several records, or an owner index to keep in step)
// MULTI, the commands, EXEC; with MinReplicas a WAIT follows. When a
// record is conditional (Loaded), the commands go instead to a script that
// checks first (see writeIfLoaded). All go in one round trip (see write).
func (b *Backend) Write(ctx context.Context, recs ...session.Record) error {
	now := time.Now()
	cmds := make([]command, 0, 6*len(recs)+3) // at most 6 each: SET or DEL, ZREM, ZADD, ZREMRANGEBYSCORE, 2 PEXPIRE; MULTI, EXEC, WAIT
	conditional := false
	for _, r := range recs {
		cmds = b.commands(cmds, r, now)
		conditional = conditional || r.Loaded != nil
	}
	if conditional {
		return b.writeIfLoaded(ctx, recs, cmds)
	}
	_, err := b.write(ctx, cmds)
	return err
}

// Ping implements session.Backend.
func (b *Backend) Ping(ctx context.Context) error {
	replies, err := b.do(ctx, command{"PING", nil})
	if err == nil {
		_, err = redis.String(replies[0], nil)
	}
	return err
}

// Close closes the pool's connections (and stops watching the sentinels).
func (b *Backend) Close() error {
	if b.sentinel != nil {
		b.sentinel.Close()
	}
	return b.pool.Close()
}
