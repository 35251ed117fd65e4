// Package pipeline shares a few redigo connections among all callers and
// pipelines their commands automatically. Whatever commands are waiting go
// out in one write, and one reader per connection hands the replies back
// in order: a loaded server makes one write and one read per batch instead
// of per command, and Redis reads and answers a batch in one go, with no
// new connections in steady state.
//
// It exists because redigo, the project's Redis client, has no automatic
// pipelining: its Pool lends each caller a connection of its own, so every
// request costs a round trip of its own on its own socket. Clients that do
// pipeline automatically (go-redis, rueidis) are other client libraries,
// not layers for redigo. Measured on two CPUs with scripts/bench.sh, the
// shared connections took less CPU per request, in the service and in
// Redis, than a pool of one connection per caller.
//
// Pipeline.GetContext returns a redis.Conn for one caller, as redis.Pool
// does, with the same semantics: Do, Send, Flush and Receive, and the
// timeouts of DoWithTimeout and ReceiveWithTimeout (redis.ConnWithTimeout)
// and DoContext and ReceiveContext (redis.ConnWithContext). A caller's
// commands stay together: what it flushes at once (MULTI ... EXEC, or
// several Sends) is written contiguously, so transactions work. Commands
// that change a connection's state for later commands (SELECT, WATCH,
// SUBSCRIBE, MONITOR) are refused; blocking commands (WAIT, BLPOP) would
// hold up the other callers of their connection and must not be sent.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Pipeline is a set of shared connections. Create it with New.
type Pipeline struct {
	dial func(ctx context.Context) (redis.Conn, error)
	// test, when set, is asked before a connection that last answered at
	// lastOK is used; an error makes the pipeline dial a fresh one.
	test  func(lastOK time.Time) error
	slots []pipeSlot
	next  atomic.Uint32
}

type pipeSlot struct {
	mu sync.Mutex // held while dialling
	pc *pipeConn
}

// pipeQueueLen bounds the callers waiting for replies on one connection;
// more wait for room (until their context ends).
const pipeQueueLen = 1024

// New returns a Pipeline of one connection per four CPUs, but no more
// than size, dialled by dial when first needed. test, when not nil, is
// asked before a connection that last answered at lastOK is lent; an
// error makes the Pipeline dial a fresh one. Redis runs commands one at a
// time, so more connections only split the batches: on two CPUs one
// connection took less CPU per request, here and in Redis, than two.
func New(size int, dial func(ctx context.Context) (redis.Conn, error), test func(lastOK time.Time) error) *Pipeline {
	n := max(1, min(size, (runtime.GOMAXPROCS(0)+3)/4))
	return &Pipeline{dial: dial, test: test, slots: make([]pipeSlot, n)}
}

// GetContext returns a connection for one caller, dialling a shared one if
// its slot has none, or has one that broke or failed the test. The
// returned conn waits for replies until ctx ends.
func (p *Pipeline) GetContext(ctx context.Context) (redis.Conn, error) {
	s := &p.slots[int(p.next.Add(1))%len(p.slots)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pc != nil && s.pc.err.Load() == nil && (p.test == nil || p.test(time.Unix(0, s.pc.lastOK.Load())) == nil) {
		return &sharedConn{pc: s.pc, ctx: ctx}, nil
	}
	if s.pc != nil {
		s.pc.fail(errReplaced)
	}
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.pc = newPipeConn(c)
	return &sharedConn{pc: s.pc, ctx: ctx}, nil
}

// Close closes every connection; callers waiting for replies get an error.
func (p *Pipeline) Close() error {
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		if s.pc != nil {
			s.pc.fail(errPipelineClosed)
			s.pc = nil
		}
		s.mu.Unlock()
	}
	return nil
}

var (
	errPipelineClosed = errors.New("redis connections closed")
	errReplaced       = errors.New("redis connection replaced: it failed its test")
)

// Stats returns how many shared connections are open, and how many
// callers' batches are waiting for their replies.
func (p *Pipeline) Stats() (open, waiting int) {
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		if s.pc != nil && s.pc.err.Load() == nil {
			open++
			waiting += len(s.pc.room)
		}
		s.mu.Unlock()
	}
	return open, waiting
}

// pipeConn is one shared connection and the goroutine reading its replies.
type pipeConn struct {
	c        redis.Conn
	mu       sync.Mutex    // serializes Send and Flush on c, and queueing
	flushing bool          // under mu: a sender is about to flush for all
	room     chan struct{} // a token per queued batch: the queue never blocks under mu
	queue    chan *batch   // batches sent, in order, awaiting replies
	err      atomic.Pointer[error]
	lastOK   atomic.Int64 // unix nanoseconds of the last reply
	closed   chan struct{}
	once     sync.Once
}

// batch is the commands one caller flushed together, and their replies.
type batch struct {
	n       int
	replies []any // redis.Error values are replies, not failures
	err     error // the connection broke before all replies came
	done    chan struct{}
}

func newPipeConn(c redis.Conn) *pipeConn {
	pc := &pipeConn{
		c:      c,
		room:   make(chan struct{}, pipeQueueLen),
		queue:  make(chan *batch, pipeQueueLen),
		closed: make(chan struct{}),
	}
	pc.lastOK.Store(time.Now().UnixNano())
	go pc.read()
	return pc
}

// send queues cmds as batch b, whose replies must have room for them. The
// first sender to find no flush due flushes, after yielding once so that
// callers about to send join its write.
func (pc *pipeConn) send(ctx context.Context, b *batch, cmds []command) error {
	select {
	case pc.room <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-pc.closed:
		return *pc.err.Load()
	}
	b.n, b.done = len(cmds), make(chan struct{})
	pc.mu.Lock()
	if errp := pc.err.Load(); errp != nil {
		pc.mu.Unlock()
		<-pc.room
		return *errp
	}
	for _, cmd := range cmds {
		if err := pc.c.Send(cmd.name, cmd.args...); err != nil {
			// The batch is partly buffered: nothing after it can be trusted.
			pc.mu.Unlock()
			<-pc.room
			pc.fail(err)
			return err
		}
	}
	pc.queue <- b
	lead := !pc.flushing
	pc.flushing = true
	pc.mu.Unlock()
	if lead {
		runtime.Gosched()
		pc.mu.Lock()
		err := pc.c.Flush()
		pc.flushing = false
		pc.mu.Unlock()
		if err != nil {
			pc.fail(err) // the reader fails b and every other queued batch
		}
	}
	return nil
}

// read hands each batch its replies. Once the connection fails, it fails
// every batch still queued; none can be queued after that.
func (pc *pipeConn) read() {
	for {
		var b *batch
		select {
		case b = <-pc.queue:
		case <-pc.closed:
			pc.drain()
			return
		}
		for len(b.replies) < b.n {
			reply, err := pc.c.Receive()
			if _, isReply := err.(redis.Error); isReply {
				reply, err = err, nil
			}
			if err != nil {
				pc.fail(err)
				b.err = err
				close(b.done)
				<-pc.room
				pc.drain()
				return
			}
			b.replies = append(b.replies, reply)
		}
		pc.lastOK.Store(time.Now().UnixNano())
		close(b.done)
		<-pc.room
	}
}

// drain fails the batches left in the queue after the connection failed.
func (pc *pipeConn) drain() {
	err := *pc.err.Load()
	pc.mu.Lock() // no send is between its error check and its queueing
	defer pc.mu.Unlock()
	for {
		select {
		case b := <-pc.queue:
			b.err = err
			close(b.done)
			<-pc.room
		default:
			return
		}
	}
}

// fail marks the connection broken (the first error sticks) and closes it.
func (pc *pipeConn) fail(err error) {
	pc.once.Do(func() {
		pc.err.Store(&err)
		close(pc.closed)
		pc.c.Close()
	})
}

type command struct {
	name string
	args []any
}

// sharedConn is one caller's view of a pipeConn: a redis.Conn, with
// timeouts, whose replies are waited for until its context ends.
type sharedConn struct {
	pc      *pipeConn
	ctx     context.Context
	pending []command // sent, not yet flushed
	flushed []*batch  // flushed, replies not all received
	next    int       // replies of flushed[0] already received
	err     error     // the shared connection broke under this caller

	// The first batch, with room for a save's replies: a caller that
	// flushes once (most do) allocates nothing more.
	first        batch
	firstReplies [10]any
	firstFlushed [1]*batch
}

var (
	_ redis.ConnWithTimeout = (*sharedConn)(nil)
	_ redis.ConnWithContext = (*sharedConn)(nil)
)

// Close drops this caller's view; the shared connection stays open. Replies
// not received are discarded.
func (s *sharedConn) Close() error { return nil }

// Err reports whether the shared connection broke while this caller used it.
func (s *sharedConn) Err() error { return s.err }

func (s *sharedConn) Send(cmd string, args ...any) error {
	if s.err != nil {
		return s.err
	}
	if s.pending == nil && cmd == "MULTI" {
		s.pending = make([]command, 0, 16) // room for a save's transaction
	}
	s.pending = append(s.pending, command{cmd, args})
	return nil
}

// Flush sends the pending commands as one contiguous batch.
func (s *sharedConn) Flush() error {
	if s.err != nil || len(s.pending) == 0 {
		return s.err
	}
	if err := checkBatch(s.pending); err != nil {
		s.pending = nil
		return err
	}
	b := &s.first
	if b.done == nil && len(s.pending) <= len(s.firstReplies) {
		b.replies = s.firstReplies[:0]
	} else {
		b = &batch{replies: make([]any, 0, len(s.pending))}
	}
	if s.flushed == nil {
		s.flushed = s.firstFlushed[:0]
	}
	err := s.pc.send(s.ctx, b, s.pending)
	s.pending = nil
	if err != nil {
		if s.ctx.Err() == nil {
			s.err = err
		}
		return err
	}
	s.flushed = append(s.flushed, b)
	return nil
}

// checkBatch refuses a MULTI whose EXEC (or DISCARD) is not in the same
// batch, and commands that would change the shared connection's state.
func checkBatch(cmds []command) error {
	multi := false
	for _, c := range cmds {
		switch name := strings.ToUpper(c.name); name {
		case "MULTI":
			multi = true
		case "EXEC", "DISCARD":
			multi = false
		case "SELECT", "WATCH", "UNWATCH", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "RESET", "QUIT":
			return fmt.Errorf("redis %s: not allowed on a shared connection", name)
		}
	}
	if multi {
		return errors.New("redis MULTI: its EXEC must be flushed with it on a shared connection")
	}
	return nil
}

func (s *sharedConn) Receive() (any, error) { return s.ReceiveContext(s.ctx) }

// ReceiveWithTimeout is Receive, waiting at most timeout (0: no limit but
// the caller's context).
func (s *sharedConn) ReceiveWithTimeout(timeout time.Duration) (any, error) {
	ctx, cancel := s.within(timeout)
	defer cancel()
	return s.ReceiveContext(ctx)
}

// within returns the caller's context, ended after timeout when that is
// positive. When the caller's context ends first anyway it is used as it
// is, which saves a timer per command.
func (s *sharedConn) within(timeout time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := s.ctx.Deadline(); timeout <= 0 || ok && time.Until(d) <= timeout {
		return s.ctx, func() {}
	}
	return context.WithTimeout(s.ctx, timeout)
}

// ReceiveContext returns the next reply; a reply that is a Redis error
// comes back as the error. Pending commands are flushed first.
func (s *sharedConn) ReceiveContext(ctx context.Context) (any, error) {
	if err := s.Flush(); err != nil {
		return nil, err
	}
	if len(s.flushed) == 0 {
		return nil, errors.New("redis: receive without a command sent")
	}
	b := s.flushed[0]
	select {
	case <-b.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for redis reply: %w", ctx.Err())
	}
	if b.err != nil {
		s.err = b.err
		return nil, b.err
	}
	reply := b.replies[s.next]
	if s.next++; s.next == b.n {
		s.flushed, s.next = s.flushed[1:], 0
	}
	if err, ok := reply.(redis.Error); ok {
		return nil, err
	}
	return reply, nil
}

func (s *sharedConn) Do(cmd string, args ...any) (any, error) {
	return s.DoContext(s.ctx, cmd, args...)
}

// DoWithTimeout is Do, waiting at most timeout for the replies (0: no
// limit but the caller's context).
func (s *sharedConn) DoWithTimeout(timeout time.Duration, cmd string, args ...any) (any, error) {
	ctx, cancel := s.within(timeout)
	defer cancel()
	return s.DoContext(ctx, cmd, args...)
}

// DoContext sends cmd with any pending commands and receives every reply
// outstanding, as redigo's connections do: it returns cmd's reply and the
// first Redis error among them. With cmd "" it returns all replies as a
// slice.
func (s *sharedConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	if cmd != "" {
		if err := s.Send(cmd, args...); err != nil {
			return nil, err
		}
	}
	if err := s.Flush(); err != nil {
		return nil, err
	}
	var replies []any
	var last any
	var first error
	for len(s.flushed) > 0 {
		reply, err := s.ReceiveContext(ctx)
		if rerr, ok := err.(redis.Error); ok {
			reply, err = rerr, nil
			if first == nil {
				first = rerr
			}
		}
		if err != nil {
			return nil, err
		}
		if last = reply; cmd == "" {
			replies = append(replies, reply)
		}
	}
	if cmd == "" {
		return replies, nil
	}
	if _, ok := last.(redis.Error); ok {
		last = nil
	}
	return last, first
}
