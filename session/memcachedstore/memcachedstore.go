// Package memcachedstore keeps sessions in Memcached, as session.Backend:
// one item per session, its key Config.Prefix + the session's key, its
// value the session's JSON as the core encodes it, its flags the record's
// expiry (unix seconds), since Memcached's text protocol does not tell an
// item's time left.
//
// Keys are spread over the servers by consistent hashing (see ring), and a
// server that is down is never taken out of the ring: the sessions it
// holds fail (the service answers 503) until it is back, and nobody else's
// sessions move. Taking it out would move its sessions' keys to other
// servers, where they are missing (visitors are logged out), and moving
// them back when it returns would revive what it still holds: a session
// ended meanwhile on the other server would come back to life.
//
// A read is one round trip (two when the core asks for a refresh, which it
// does at most once per hundredth of the lifetime); a change is a gets and
// a cas, written only over the value the request loaded (compare and set).
//
// Memcached keeps nothing on disk and evicts items when it runs out of
// memory: a restarted or full server loses sessions (those visitors are
// logged out). It cannot walk its keys, so this Backend is no
// session.Lister: sessions are found and ended by their ID only.
package memcachedstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sessionsvc/sessionsvc/session"
)

// Config configures a Backend.
type Config struct {
	// Servers are the Memcached servers, each host:port or a unix socket's
	// path (with a slash); at least one. Their order does not matter to
	// the ring, only the names do: every replica must list the same.
	Servers []string
	// Prefix starts every key: Prefix + the session's key.
	Prefix string
	// Timeout bounds each operation's dial, write and read (500 ms when
	// zero).
	Timeout time.Duration
	// MaxIdle is how many idle connections are kept per server (64 when
	// zero): a request that finds none dials a new one.
	MaxIdle int
}

// Backend keeps sessions in Memcached. It is safe for concurrent use.
type Backend struct {
	cfg     Config
	ring    ring
	servers []*server
}

// server is one Memcached server, with a client of its own, so that the
// idle connections of one server can be dropped without the others'.
type server struct {
	addr string
	mc   *memcache.Client
}

// Backend's abilities (see session/backend.go).
var (
	_ session.Backend   = (*Backend)(nil)
	_ session.Getter    = (*Backend)(nil)
	_ session.Inspector = (*Backend)(nil)
	_ session.Describer = (*Backend)(nil)
)

// Limits of Memcached's keys, and of the core's.
const (
	maxKeyLen        = 250 // Memcached's
	maxSessionKeyLen = 64  // the core's longest key
)

// ErrKeyPrefix is the error of New for a Config.Prefix that would make
// keys Memcached refuses.
var ErrKeyPrefix = fmt.Errorf("want a prefix of at most %d bytes (memcached keys are at most %d) without spaces or control characters", maxKeyLen-maxSessionKeyLen, maxKeyLen)

// New returns a Backend over cfg.Servers. It does not connect (nor resolve
// host names): each operation dials when it finds no idle connection. It
// fails only on a configuration that cannot work.
func New(cfg Config) (*Backend, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("no memcached server given")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.MaxIdle <= 0 {
		cfg.MaxIdle = 64
	}
	if !legalKey(cfg.Prefix) || len(cfg.Prefix)+maxSessionKeyLen > maxKeyLen {
		return nil, ErrKeyPrefix
	}
	b := &Backend{cfg: cfg, ring: newRing(cfg.Servers, nil)}
	seen := map[string]bool{}
	for _, addr := range cfg.Servers {
		if seen[addr] {
			return nil, fmt.Errorf("memcached server %q listed twice", addr)
		}
		seen[addr] = true
		network := "unix"
		if !strings.Contains(addr, "/") {
			network = "tcp"
			host, port, err := net.SplitHostPort(addr)
			if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
				return nil, fmt.Errorf("memcached server %q: want host:port or a unix socket's path", addr)
			}
		}
		mc := memcache.NewFromSelector(oneServer{staticAddr{network, addr}})
		mc.Timeout, mc.MaxIdleConns = cfg.Timeout, cfg.MaxIdle
		b.servers = append(b.servers, &server{addr: addr, mc: mc})
	}
	return b, nil
}

// legalKey reports whether s may be (part of) a Memcached key: no spaces or
// control characters.
func legalKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// oneServer is a memcache.ServerSelector of one server.
type oneServer struct{ addr net.Addr }

func (s oneServer) PickServer(string) (net.Addr, error) { return s.addr, nil }
func (s oneServer) Each(fn func(net.Addr) error) error  { return fn(s.addr) }

// staticAddr is a server's address as configured: the dialer resolves a
// host name at each dial, not once at start.
type staticAddr struct{ network, addr string }

func (a staticAddr) Network() string { return a.network }
func (a staticAddr) String() string  { return a.addr }

// locate returns the server of key and the key as stored.
func (b *Backend) locate(key string) (*server, string) {
	return b.servers[b.ring.pick(b.cfg.Prefix+key)], b.cfg.Prefix + key
}

// do runs op on s's client. A connection that the server closed while it
// sat idle (the server restarted, or the network cut it) fails at its next
// use; the others idle beside it are likely dead too, so they are dropped
// and op runs once more, on a new connection. A dead idle connection never
// carried op to the server, so running it again applies it at most once.
func (s *server) do(op func(*memcache.Client) error) error {
	err := op(s.mc)
	if closedByPeer(err) {
		s.mc.Close() // drops the idle connections only
		err = op(s.mc)
	}
	if err == nil || errors.Is(err, memcache.ErrCacheMiss) || errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrNotStored) {
		return err
	}
	if strings.Contains(err.Error(), "object too large for cache") {
		return fmt.Errorf("%w: memcached %s: object too large for cache", session.ErrTooLarge, s.addr)
	}
	return fmt.Errorf("memcached %s: %w", s.addr, err)
}

// closedByPeer reports whether err is that of a connection the other side
// had closed.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// get returns the item under k (with its cas id), nil when there is none.
func (s *server) get(k string) (*memcache.Item, error) {
	var it *memcache.Item
	err := s.do(func(mc *memcache.Client) (err error) {
		it, err = mc.Get(k)
		return err
	})
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, nil
	}
	return it, err
}

// maxRelative is the longest exptime Memcached reads as seconds from now:
// above it, an exptime is a Unix time.
const maxRelative = 30 * 24 * 60 * 60

// expiry returns the exptime and flags of an item that must live ttl from
// now: flags is the end, in unix seconds rounded up, and exptime the
// seconds from now to it (at least 1) or, beyond 30 days, the end itself.
// Memcached expires an item at a whole second of its clock, so the item
// lives at least ttl and at most a second more.
func expiry(ttl time.Duration, now time.Time) (exptime int32, flags uint32) {
	end := now.Add(ttl)
	at := end.Unix()
	if end.Nanosecond() > 0 {
		at++
	}
	secs := max(at-now.Unix(), 1)
	at = now.Unix() + secs
	if secs > maxRelative {
		return int32(at), uint32(at)
	}
	return int32(secs), uint32(at)
}

// timeLeft is what flags (an item's end, from expiry) leave from now, in
// whole seconds rounded down; -1 (no expiry) for an item without an end,
// which this store never writes.
func timeLeft(flags uint32, now time.Time) time.Duration {
	if flags == 0 {
		return -1
	}
	return max(time.Unix(int64(flags), 0).Sub(now).Truncate(time.Second), 0)
}

// Load implements session.Backend: a get; with refresh, a cas of the same
// value with the new expiry, which is skipped when another request wrote
// the item meanwhile (that write refreshed it).
func (b *Backend) Load(ctx context.Context, key string, refresh time.Duration) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s, k := b.locate(key)
	it, err := s.get(k)
	if err != nil || it == nil {
		return nil, false, err
	}
	if refresh > 0 {
		it.Expiration, it.Flags = expiry(refresh, time.Now())
		err := s.do(func(mc *memcache.Client) error { return mc.CompareAndSwap(it) })
		if err != nil && !errors.Is(err, memcache.ErrCASConflict) && !errors.Is(err, memcache.ErrNotStored) && !errors.Is(err, memcache.ErrCacheMiss) {
			return nil, false, err
		}
	}
	return it.Value, true, nil
}

// Write implements session.Backend, one record after the other:
//
//   - a plain record (Loaded nil) is a set, or a delete for nil Data;
//   - a conditional one is a gets, then, when the value is what the
//     request loaded, a cas of the new value (or, for nil Data, a cas with
//     a negative exptime, which Memcached reads as "expired at once": a
//     delete that applies only over the item as read); when it is not, or
//     the cas finds the item changed, Write returns a *session.Conflict
//     with the item as it is now.
//
// Records on different servers are not written atomically. When a record
// conflicts or fails, the plain sets this Write made before it are deleted
// again (they are new, random keys no one else knows), so that a renewal
// (the new key set, then the old one conditionally) either completes or
// leaves the old session as it was; should those deletes fail too, the
// error says so, and the new keys, known to no client, expire with their
// TTL. An item over the server's size limit gives an error wrapping
// session.ErrTooLarge; a conditional write refused so leaves the item as
// it was (Memcached drops an item whose plain set is too large, but plain
// sets are of new keys).
func (b *Backend) Write(ctx context.Context, recs ...session.Record) error {
	var written []session.Record // the plain sets so far
	for _, r := range recs {
		err := ctx.Err()
		if err == nil {
			err = b.apply(r)
		}
		if err != nil {
			return b.undo(written, err)
		}
		if r.Loaded == nil && r.Data != nil {
			written = append(written, r)
		}
	}
	return nil
}

// apply writes r (see Write).
func (b *Backend) apply(r session.Record) error {
	s, k := b.locate(r.Key)
	if r.Loaded == nil {
		if r.Data == nil {
			err := s.do(func(mc *memcache.Client) error { return mc.Delete(k) })
			if errors.Is(err, memcache.ErrCacheMiss) {
				return nil
			}
			return err
		}
		it := &memcache.Item{Key: k, Value: r.Data}
		it.Expiration, it.Flags = expiry(r.TTL, time.Now())
		return s.do(func(mc *memcache.Client) error { return mc.Set(it) })
	}
	cur, err := s.get(k)
	if err != nil {
		return err
	}
	if cur == nil || !bytes.Equal(cur.Value, r.Loaded) {
		return conflict(r.Key, cur)
	}
	it := &memcache.Item{Key: k, Value: r.Data, CasID: cur.CasID}
	if r.Data == nil {
		it.Expiration = -1 // expired at once: gone, for every read from now on
	} else {
		it.Expiration, it.Flags = expiry(r.TTL, time.Now())
	}
	err = s.do(func(mc *memcache.Client) error { return mc.CompareAndSwap(it) })
	if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrNotStored) || errors.Is(err, memcache.ErrCacheMiss) {
		if cur, err = s.get(k); err != nil {
			return err
		}
		return conflict(r.Key, cur)
	}
	return err
}

// conflict is the *session.Conflict of key, which holds it now (nil: none).
func conflict(key string, it *memcache.Item) *session.Conflict {
	c := &session.Conflict{Key: key}
	if it != nil {
		c.Data = it.Value
	}
	return c
}

// undo deletes the keys of written after err, and returns err.
func (b *Backend) undo(written []session.Record, err error) error {
	var failed []string
	for _, r := range written {
		if uerr := b.apply(session.Record{Key: r.Key}); uerr != nil {
			failed = append(failed, uerr.Error())
		}
	}
	if failed != nil {
		return fmt.Errorf("%w (and deleting the records written before it failed: %s)", err, strings.Join(failed, "; "))
	}
	return err
}

// Ping implements session.Backend: it succeeds when at least one server
// answers. A server that is down fails only the sessions it holds (503 for
// those visitors), so a readiness check that failed for it would take
// every replica out of the load balancer, and every visitor with them. It
// fails, naming each server and its error, when none answers.
func (b *Backend) Ping(ctx context.Context) error {
	errs := make(chan error, len(b.servers))
	for _, s := range b.servers {
		go func() { errs <- s.do((*memcache.Client).Ping) }()
	}
	var failed []string
	for range b.servers {
		select {
		case err := <-errs:
			if err == nil {
				return nil
			}
			failed = append(failed, err.Error())
		case <-ctx.Done():
			return fmt.Errorf("no memcached server answered in time: %w", ctx.Err())
		}
	}
	return fmt.Errorf("no memcached server answers: %s", strings.Join(failed, "; "))
}

// Close closes the idle connections.
func (b *Backend) Close() error {
	for _, s := range b.servers {
		s.mc.Close()
	}
	return nil
}

// Get implements session.Getter: one multi-key get per server involved;
// it fails if any of them does not answer.
func (b *Backend) Get(ctx context.Context, keys ...string) ([]session.Stored, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	byServer := map[*server][]string{}
	for _, key := range keys {
		s, k := b.locate(key)
		byServer[s] = append(byServer[s], k)
	}
	items := map[string]*memcache.Item{}
	for s, ks := range byServer {
		err := s.do(func(mc *memcache.Client) error {
			got, err := mc.GetMulti(ks)
			for k, it := range got {
				items[k] = it
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	now := time.Now()
	var stored []session.Stored
	for _, key := range keys {
		if it, ok := items[b.cfg.Prefix+key]; ok {
			stored = append(stored, session.Stored{Key: key, Data: it.Value, TTL: timeLeft(it.Flags, now)})
		}
	}
	return stored, nil
}

// Location implements session.Inspector: the server's address, a slash,
// and the item's key.
func (b *Backend) Location(key string) string {
	s, k := b.locate(key)
	return s.addr + "/" + k
}

// TTL implements session.Inspector, from the item's flags (its end, in
// whole seconds).
func (b *Backend) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	s, k := b.locate(key)
	it, err := s.get(k)
	if err != nil || it == nil {
		return 0, false, err
	}
	return timeLeft(it.Flags, time.Now()), true, nil
}

// Describe implements session.Describer: the servers, comma-separated, as
// configured.
func (b *Backend) Describe() map[string]string {
	return map[string]string{"servers": strings.Join(b.cfg.Servers, ",")}
}
