package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Redis Sentinel support, following the Sentinel client guidelines
// (https://redis.io/docs/latest/develop/reference/sentinel-clients/):
//
//   - a new connection asks the sentinels, in turn, for the master's address
//     (the one that answered last is asked first), connects to it and checks
//     with ROLE that it is the master;
//   - every sentinel's events are followed: when one starts failing the
//     master over (+try-failover), writes are refused (ErrUnavailable, so
//     503) until a sentinel announces the new master (+switch-master) or
//     the attempt is given up. Otherwise a write could land on the old
//     master after a replica was promoted, be acknowledged by another
//     replica still attached to it, and vanish when that replica follows
//     the new master;
//   - after a +switch-master, a sentinel that still names the old master
//     (sentinels hear of a failover some time apart) is not believed for
//     fenceMax, so connections never go back to the old master;
//   - a background watch also asks a sentinel every sentinelPoll for the
//     master, in case an event was missed;
//   - when the pool lends a connection, one made to an address that is no
//     longer the master's is dropped (no round trip), and one that sat idle
//     for roleCheckAfter or longer is checked with ROLE. Busy connections
//     are not, so under load a read stays one command; sentinels also
//     disconnect the clients of a server they demote, and a READONLY reply
//     drops the pool (see Redis.do).

const (
	defaultSentinelPort = "26379"
	sentinelPoll        = 500 * time.Millisecond
	roleCheckAfter      = time.Second
	// fenceMax bounds how long one failover attempt holds writes back when
	// its end is never announced.
	fenceMax = 10 * time.Second
	// eventPing is how often an event subscription checks its sentinel
	// still answers.
	eventPing = time.Second
)

// parseSentinelURL parses
// redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername,
// the shape Lettuce uses. Ports default to 26379. A lone word before "@" is
// the password.
func parseSentinelURL(raw string) (RedisURL, error) {
	rest, name, ok := strings.Cut(strings.TrimPrefix(raw, "redis-sentinel://"), "#")
	if !ok || name == "" {
		return RedisURL{}, errors.New("no master name: end the URL with #mastername")
	}
	r := RedisURL{Network: "sentinel"}
	var err error
	if r.MasterName, err = url.PathUnescape(name); err != nil || strings.ContainsAny(r.MasterName, " \r\n") {
		return RedisURL{}, fmt.Errorf("master name %q is not valid", name)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, both := strings.Cut(rest[:at], ":")
		if !both {
			user, pass = "", user
		}
		r.Username, err = url.PathUnescape(user)
		if err == nil {
			r.Password, err = url.PathUnescape(pass)
		}
		if err != nil {
			return RedisURL{}, errors.New("bad escape in user or password")
		}
		rest = rest[at+1:]
	}
	hosts, db, _ := strings.Cut(rest, "/")
	if hosts == "" {
		return RedisURL{}, errors.New("no sentinel host")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		addr, err := sentinelAddr(h)
		if err != nil {
			return RedisURL{}, err
		}
		addrs = append(addrs, addr)
	}
	r.Address = strings.Join(addrs, ",")
	if db != "" {
		if r.DB, err = strconv.Atoi(db); err != nil || r.DB < 0 {
			return RedisURL{}, fmt.Errorf("database %q is not a number", db)
		}
	}
	return r, nil
}

// sentinelAddr reads host[:port] or [ipv6][:port] into host:port.
func sentinelAddr(h string) (string, error) {
	host, port := h, defaultSentinelPort
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		host, port = h[:i], h[i+1:]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("sentinel %q: port %q is not a port number", h, port)
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") || strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("sentinel %q is not host[:port]", h)
	}
	return net.JoinHostPort(host, port), nil
}

// sentinel finds the master through Redis Sentinel and notices when it
// moves. Create it with newSentinel; Close stops its goroutines.
type sentinel struct {
	name     string
	user     string // credentials, offered to a sentinel that asks for them
	password string
	timeout  time.Duration
	opts     []redis.DialOption // for the master

	mu        sync.Mutex
	sentinels []string             // the one that answered last first
	master    string               // the master's address as last heard from a sentinel
	fences    map[string]fence     // sentinel -> the failover it is attempting
	retired   map[string]time.Time // former master -> until when to disbelieve sentinels naming it
	subs      map[string]redis.Conn

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// newSentinel returns a sentinel for u (Network "sentinel") and starts its
// watch and event subscriptions. opts are the options for dialling the
// master.
func newSentinel(u RedisURL, timeout time.Duration, opts []redis.DialOption) *sentinel {
	s := &sentinel{
		name: u.MasterName, user: u.Username, password: u.Password,
		timeout: timeout, opts: opts,
		sentinels: strings.Split(u.Address, ","),
		fences:    map[string]fence{},
		retired:   map[string]time.Time{},
		subs:      map[string]redis.Conn{},
		stop:      make(chan struct{}),
	}
	s.wg.Go(s.watch)
	for _, addr := range s.sentinels {
		s.wg.Go(func() { s.follow(addr) })
	}
	return s
}

// masterConn is a connection to the server that was the master at addr when
// it was made.
type masterConn struct {
	conn
	addr string
}

// conn is what redigo's connections implement, and what the pool needs for
// DoWithTimeout and DoContext.
type conn interface {
	redis.ConnWithTimeout
	redis.ConnWithContext
}

// dial connects to the master: it asks each sentinel in turn for its
// address, and accepts a server that says it is the master.
func (s *sentinel) dial(ctx context.Context) (redis.Conn, error) {
	var errs []string
	tried := map[string]bool{}
	for _, addr := range s.list() {
		master, err := s.ask(ctx, addr)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if s.isRetired(master) {
			errs = append(errs, fmt.Sprintf("sentinel %s still names the former master %s", addr, master))
			continue
		}
		if tried[master] {
			continue
		}
		tried[master] = true
		c, err := redis.DialContext(ctx, "tcp", master, s.opts...)
		if err == nil {
			if err = checkMaster(ctx, c); err != nil {
				c.Close()
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("master %s from sentinel %s: %v", master, addr, err))
			continue
		}
		s.found(addr, master)
		return masterConn{c.(conn), master}, nil
	}
	return nil, fmt.Errorf("find master %q through sentinels: %s", s.name, strings.Join(errs, "; "))
}

// list returns the sentinels' addresses, the last to answer first.
func (s *sentinel) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sentinels)
}

// found records that the sentinel at addr named master.
func (s *sentinel) found(addr, master string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.sentinels, addr); i > 0 {
		copy(s.sentinels[1:i+1], s.sentinels[:i])
		s.sentinels[0] = addr
	}
	s.master = master
}

// isRetired reports whether a sentinel announced lately that master was
// replaced: a sentinel that still names it has not heard yet (sentinels
// learn of a failover some time apart), and following it would mean going
// back to the old master.
func (s *sentinel) isRetired(master string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.retired[master]
	if ok && time.Now().After(until) {
		delete(s.retired, master)
		return false
	}
	return ok
}

// ask asks the sentinel at addr for the master's address on a new
// connection.
func (s *sentinel) ask(ctx context.Context, addr string) (string, error) {
	c, err := s.dialSentinel(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return s.askOn(ctx, c, addr)
}

func (s *sentinel) dialSentinel(ctx context.Context, addr string) (redis.Conn, error) {
	c, err := redis.DialContext(ctx, "tcp", addr, redis.DialConnectTimeout(s.timeout), redis.DialReadTimeout(s.timeout), redis.DialWriteTimeout(s.timeout))
	if err != nil {
		return nil, fmt.Errorf("sentinel %s: %w", addr, err)
	}
	return c, nil
}

// askOn asks the sentinel on c. A sentinel that demands a password gets the
// URL's credentials.
func (s *sentinel) askOn(ctx context.Context, c redis.Conn, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	reply, err := redis.Strings(redis.DoContext(c, ctx, "SENTINEL", "get-master-addr-by-name", s.name))
	if err != nil && strings.HasPrefix(err.Error(), "NOAUTH") && s.password != "" {
		args := []any{s.password}
		if s.user != "" {
			args = []any{s.user, s.password}
		}
		if _, err = redis.DoContext(c, ctx, "AUTH", args...); err == nil {
			reply, err = redis.Strings(redis.DoContext(c, ctx, "SENTINEL", "get-master-addr-by-name", s.name))
		}
	}
	switch {
	case errors.Is(err, redis.ErrNil):
		return "", fmt.Errorf("sentinel %s does not know master %q", addr, s.name)
	case err != nil:
		return "", fmt.Errorf("sentinel %s: %w", addr, err)
	case len(reply) != 2:
		return "", fmt.Errorf("sentinel %s: unexpected reply %q", addr, reply)
	}
	return net.JoinHostPort(reply[0], reply[1]), nil
}

// checkMaster fails unless the server on c says it is a master.
func checkMaster(ctx context.Context, c redis.Conn) error {
	role, err := redis.Values(redis.DoContext(c, ctx, "ROLE"))
	if err != nil {
		return fmt.Errorf("ROLE: %w", err)
	}
	if len(role) == 0 {
		return errors.New("ROLE: empty reply")
	}
	if r, _ := redis.String(role[0], nil); r != "master" {
		return fmt.Errorf("server is a %s, not the master", r)
	}
	return nil
}

var errNotMaster = errors.New("connection to a server that is no longer the master")

// check runs when the pool lends c: a connection to a former master is
// dropped, and one that sat idle for roleCheckAfter or more is asked ROLE.
func (s *sentinel) check(c redis.Conn, returned time.Time) error {
	mc, ok := c.(masterConn)
	s.mu.Lock()
	master := s.master
	s.mu.Unlock()
	if !ok || mc.addr != master {
		return errNotMaster
	}
	if time.Since(returned) < roleCheckAfter {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return checkMaster(ctx, c)
}

// watch asks a sentinel for the master every sentinelPoll, on one kept
// connection, until Close, so that connections to a former master are
// dropped even when nothing broke them.
func (s *sentinel) watch() {
	tick := time.NewTicker(sentinelPoll)
	defer tick.Stop()
	var c redis.Conn
	var addr string
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		var err error
		if c == nil {
			addr = s.list()[0]
			c, err = s.dialSentinel(context.Background(), addr)
		}
		var master string
		if err == nil {
			master, err = s.askOn(context.Background(), c, addr)
		}
		if err != nil {
			// Ask another sentinel next time.
			if c != nil {
				c.Close()
				c = nil
			}
			s.rotate(addr)
			continue
		}
		if !s.isRetired(master) {
			s.found(addr, master)
		}
	}
}

// rotate moves a sentinel that did not answer to the end of the list.
func (s *sentinel) rotate(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.sentinels, addr); i >= 0 {
		s.sentinels = append(slices.Delete(s.sentinels, i, i+1), addr)
	}
}

// errFailover is a write refused while the sentinels fail the master over.
var errFailover = errors.New("the master is being failed over")

// fence is a failover a sentinel started: of the master at master, given up
// at until if nothing is heard of it before.
type fence struct {
	master string
	until  time.Time
}

// fenced reports whether a sentinel is failing over the master that
// connections are made to, so that writes must wait. Once the new master is
// known, a fence on the old one no longer counts.
func (s *sentinel) fenced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for addr, f := range s.fences {
		switch {
		case now.After(f.until):
			delete(s.fences, addr)
		case f.master == s.master:
			return true
		}
	}
	return false
}

// follow subscribes to the failover events of the sentinel at addr until
// Close, connecting again after a failure.
func (s *sentinel) follow(addr string) {
	for {
		s.subscribe(addr)
		select {
		case <-s.stop:
			return
		case <-time.After(sentinelPoll):
		}
	}
}

// subscribe receives the events of the sentinel at addr until its
// connection fails or Close closes it.
func (s *sentinel) subscribe(addr string) {
	c, err := s.dialSentinel(context.Background(), addr)
	if err != nil {
		return
	}
	defer c.Close()
	// Asking first authenticates to a sentinel that wants a password.
	if _, err := s.askOn(context.Background(), c, addr); err != nil {
		return
	}
	s.mu.Lock()
	select {
	case <-s.stop:
		s.mu.Unlock()
		return
	default:
		s.subs[addr] = c
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, addr)
		s.mu.Unlock()
	}()

	psc := redis.PubSubConn{Conn: c}
	if err := psc.Subscribe("+try-failover", "+switch-master"); err != nil {
		return
	}
	if err := psc.PSubscribe("-failover-abort-*"); err != nil {
		return
	}
	pinged := make(chan struct{})
	defer close(pinged)
	go func() {
		for {
			select {
			case <-pinged:
				return
			case <-time.After(eventPing):
				if psc.Ping("") != nil {
					return
				}
			}
		}
	}()
	for {
		switch m := psc.ReceiveWithTimeout(3 * eventPing).(type) {
		case error:
			return
		case redis.Message:
			s.event(addr, m.Channel, strings.Fields(string(m.Data)))
		}
	}
}

// event handles one event from the sentinel at addr:
//
//	+try-failover master <name> <ip> <port>
//	-failover-abort-<why> master <name> <ip> <port>
//	+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>
func (s *sentinel) event(addr, channel string, f []string) {
	switch {
	case channel == "+switch-master" && len(f) == 5 && f[0] == s.name:
		old, now := net.JoinHostPort(f[1], f[2]), net.JoinHostPort(f[3], f[4])
		s.mu.Lock()
		s.master = now
		delete(s.retired, now) // a failback
		s.retired[old] = time.Now().Add(fenceMax)
		s.mu.Unlock()
	case len(f) == 4 && f[0] == "master" && f[1] == s.name:
		s.mu.Lock()
		if channel == "+try-failover" {
			s.fences[addr] = fence{master: net.JoinHostPort(f[2], f[3]), until: time.Now().Add(fenceMax)}
		} else {
			delete(s.fences, addr)
		}
		s.mu.Unlock()
	}
}

// Close stops the watch and the event subscriptions.
func (s *sentinel) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.stop)
		for _, c := range s.subs {
			c.Close() // ends its Receive
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
}
