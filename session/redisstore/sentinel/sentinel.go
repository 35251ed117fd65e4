// Package sentinel finds the Redis master through Redis Sentinel for
// redigo, and notices when it moves. It exists because redigo, the
// project's Redis client, has no Sentinel support, and the small libraries
// that add it to redigo are unmaintained; what a client must do is short
// and written down in the Sentinel client guidelines
// (https://redis.io/docs/latest/develop/reference/sentinel-clients/), which
// this package follows:
//
//   - a new connection asks the sentinels, in turn, for the master's address
//     (the one that answered last is asked first), connects to it and checks
//     with ROLE that it is the master;
//   - every sentinel's events are followed: when one starts failing the
//     master over (+try-failover), Fenced reports true, and writes are to
//     be refused until a sentinel announces the new master (+switch-master) or
//     the attempt is given up. Otherwise a write could land on the old
//     master after a replica was promoted, be acknowledged by another
//     replica still attached to it, and vanish when that replica follows
//     the new master;
//   - after a +switch-master, a sentinel that still names the old master
//     (sentinels hear of a failover some time apart) is not believed for
//     fenceMax, so connections never go back to the old master;
//   - a background watch also asks a sentinel every sentinelPoll for the
//     master, in case an event was missed;
//   - Check, called when a pool lends a connection, drops one made to an
//     address that is no longer the master's (no round trip), and asks ROLE
//     on one that sat idle for roleCheckAfter or longer. Busy connections
//     are not checked, so under load a read stays one command; sentinels
//     also disconnect the clients of a server they demote, and a READONLY
//     reply is for the pool's owner to act on.
package sentinel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

const (
	sentinelPoll   = 500 * time.Millisecond
	roleCheckAfter = time.Second
	// fenceMax bounds how long one failover attempt holds writes back when
	// its end is never announced.
	fenceMax = 10 * time.Second
	// eventPing is how often an event subscription checks its sentinel
	// still answers.
	eventPing = time.Second
)

// Sentinel finds the master through Redis Sentinel and notices when it
// moves. Create it with New; Close stops its goroutines.
type Sentinel struct {
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

// Config says where the sentinels are and what they watch.
type Config struct {
	// Addrs are the sentinels' host:port addresses.
	Addrs []string
	// MasterName is the master's name in the sentinels' configuration.
	MasterName string
	// Username and Password are offered to a sentinel that asks for them.
	Username, Password string
	// Timeout bounds each exchange with a sentinel.
	Timeout time.Duration
	// DialOptions are the options for dialling the master.
	DialOptions []redis.DialOption
}

// New returns a Sentinel and starts its watch and event subscriptions.
func New(cfg Config) *Sentinel {
	s := &Sentinel{
		name: cfg.MasterName, user: cfg.Username, password: cfg.Password,
		timeout: cfg.Timeout, opts: cfg.DialOptions,
		sentinels: slices.Clone(cfg.Addrs),
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

// Dial connects to the master: it asks each sentinel in turn for its
// address, and accepts a server that says it is the master.
func (s *Sentinel) Dial(ctx context.Context) (redis.Conn, error) {
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
func (s *Sentinel) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sentinels)
}

// found records that the sentinel at addr named master.
func (s *Sentinel) found(addr, master string) {
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
func (s *Sentinel) isRetired(master string) bool {
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
func (s *Sentinel) ask(ctx context.Context, addr string) (string, error) {
	c, err := s.dialSentinel(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return s.askOn(ctx, c, addr)
}

func (s *Sentinel) dialSentinel(ctx context.Context, addr string) (redis.Conn, error) {
	c, err := redis.DialContext(ctx, "tcp", addr, redis.DialConnectTimeout(s.timeout), redis.DialReadTimeout(s.timeout), redis.DialWriteTimeout(s.timeout))
	if err != nil {
		return nil, fmt.Errorf("sentinel %s: %w", addr, err)
	}
	return c, nil
}

// askOn asks the sentinel on c. A sentinel that demands a password gets the
// URL's credentials.
func (s *Sentinel) askOn(ctx context.Context, c redis.Conn, addr string) (string, error) {
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

// Check is for a pool's TestOnBorrow: it fails for a connection to a
// former master, and asks ROLE on one that sat idle (returned to the pool
// at returned) for roleCheckAfter or more.
func (s *Sentinel) Check(c redis.Conn, returned time.Time) error {
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
func (s *Sentinel) watch() {
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
func (s *Sentinel) rotate(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.sentinels, addr); i >= 0 {
		s.sentinels = append(slices.Delete(s.sentinels, i, i+1), addr)
	}
}

// ErrFailover is for refusing a write while Fenced reports true.
var ErrFailover = errors.New("the master is being failed over")

// fence is a failover a sentinel started: of the master at master, given up
// at until if nothing is heard of it before.
type fence struct {
	master string
	until  time.Time
}

// Fenced reports whether a sentinel is failing over the master that
// connections are made to, so that writes must wait. Once the new master is
// known, a fence on the old one no longer counts.
func (s *Sentinel) Fenced() bool {
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
func (s *Sentinel) follow(addr string) {
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
func (s *Sentinel) subscribe(addr string) {
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
func (s *Sentinel) event(addr, channel string, f []string) {
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

// Master returns the master's address as last heard from a sentinel; ""
// before the first Dial.
func (s *Sentinel) Master() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.master
}

// Close stops the watch and the event subscriptions.
func (s *Sentinel) Close() {
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
