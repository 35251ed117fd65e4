package sessionstore

import (
	"context"
	"sync"
	"time"
)

// deadlineTick is the granularity of the deadlines withTimeout sets.
const deadlineTick = 5 * time.Millisecond

// withTimeout is context.WithTimeout for the store's calls to its backend,
// without a timer of its own: the deadline is rounded up to the next tick
// of one shared clock, whose single timer closes the Done channel that all
// contexts due at that tick share. A timer per call (two per write) cost
// more CPU under load than the rest of the store's bookkeeping.
//
// The context ends at its deadline, which is at most deadlineTick later
// than timeout from now. Its parent's cancellation shows in Err at once but
// closes Done only at the deadline, so this package's own waits watch
// parentDone as well: a request whose client went away stops waiting for
// Redis at once.
func withTimeout(parent context.Context, timeout time.Duration) context.Context {
	if d, ok := parent.Deadline(); ok && time.Until(d) <= timeout {
		return parent // it ends first anyway
	}
	deadline, done := clock.after(timeout)
	return &deadlineCtx{Context: parent, deadline: deadline, done: done}
}

type deadlineCtx struct {
	context.Context
	deadline time.Time
	done     <-chan struct{}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return c.Context.Err()
	}
}

// parentDone returns the Done channel of the parent of a context made by
// withTimeout, and nil (never ready) for any other context.
func parentDone(ctx context.Context) <-chan struct{} {
	if c, ok := ctx.(*deadlineCtx); ok {
		return c.Context.Done()
	}
	return nil
}

// stdContext returns, for a context made by withTimeout, a standard one
// with the same parent and deadline, whose Done closes when the parent
// ends too (at the cost of a timer), for waits this package does not run
// itself; any other context comes back as it is.
func stdContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c, ok := ctx.(*deadlineCtx); ok {
		return context.WithDeadline(c.Context, c.deadline)
	}
	return ctx, func() {}
}

// clock is the shared clock of withTimeout.
var clock = &ticker{due: map[int64]chan struct{}{}}

// ticker closes, at each tick, the channel of the deadlines due then. Its
// timer is armed for the earliest pending tick, and idle when none is.
type ticker struct {
	mu    sync.Mutex
	due   map[int64]chan struct{} // tick number -> channel closed when it passes
	timer *time.Timer
	next  int64 // the tick the timer is armed for; 0 when idle
}

// after returns the deadline timeout from now, rounded up to a tick, and the
// channel closed when it passes.
func (t *ticker) after(timeout time.Duration) (time.Time, <-chan struct{}) {
	n := (time.Now().Add(timeout).UnixNano() + int64(deadlineTick) - 1) / int64(deadlineTick)
	t.mu.Lock()
	defer t.mu.Unlock()
	ch, ok := t.due[n]
	if !ok {
		ch = make(chan struct{})
		t.due[n] = ch
		if t.next == 0 || n < t.next {
			t.arm(n)
		}
	}
	return time.Unix(0, n*int64(deadlineTick)), ch
}

// arm sets the timer for tick n. t.mu is held.
func (t *ticker) arm(n int64) {
	t.next = n
	d := time.Until(time.Unix(0, n*int64(deadlineTick)))
	if t.timer == nil {
		t.timer = time.AfterFunc(d, t.fire)
	} else {
		t.timer.Reset(d)
	}
}

// fire closes the channels of every tick passed, and arms the timer for the
// earliest one left.
func (t *ticker) fire() {
	now := time.Now().UnixNano() / int64(deadlineTick)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next = 0
	var earliest int64
	for n, ch := range t.due {
		if n <= now {
			close(ch)
			delete(t.due, n)
		} else if earliest == 0 || n < earliest {
			earliest = n
		}
	}
	if earliest != 0 {
		t.arm(earliest)
	}
}
