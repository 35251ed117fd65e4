package sessionstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

func TestWithTimeout(t *testing.T) {
	start := time.Now()
	ctx := withTimeout(context.Background(), 30*time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("Err before the deadline: %v", ctx.Err())
	}
	d, ok := ctx.Deadline()
	if !ok || d.Before(start.Add(30*time.Millisecond)) || d.After(time.Now().Add(30*time.Millisecond+deadlineTick)) {
		t.Errorf("Deadline() = %v, %v; want 30ms to 30ms+%v from now", d, ok, deadlineTick)
	}
	<-ctx.Done()
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Errorf("Done after %v, before the timeout", took)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err after the deadline = %v", ctx.Err())
	}

	parent, cancel := context.WithCancel(context.WithValue(context.Background(), "k", "v"))
	ctx = withTimeout(parent, time.Second)
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) || ctx.Value("k") != "v" || parentDone(ctx) != parent.Done() {
		t.Errorf("with its parent cancelled: Err = %v, Value = %v, parentDone not the parent's", ctx.Err(), ctx.Value("k"))
	}

	parent, cancel = context.WithCancel(context.Background())
	std, stop := stdContext(withTimeout(parent, time.Second))
	defer stop()
	cancel()
	select {
	case <-std.Done():
	case <-time.After(500 * time.Millisecond):
		t.Error("stdContext's Done did not close with its parent")
	}

	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if withTimeout(short, time.Second) != short {
		t.Error("a parent ending sooner was not used as it is")
	}
}

// TestWithTimeoutConcurrent: contexts made from many goroutines at once,
// with deadlines on the same and different ticks, all end in time, and the
// clock is left with nothing overdue.
func TestWithTimeoutConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 2000 {
		wg.Go(func() {
			timeout := time.Duration(rand.IntN(40)) * time.Millisecond
			start := time.Now()
			ctx := withTimeout(context.Background(), timeout)
			select {
			case <-ctx.Done():
			case <-time.After(timeout + time.Second):
				t.Errorf("a %v context had not ended a second after its deadline", timeout)
				return
			}
			if took := time.Since(start); took < timeout {
				t.Errorf("a %v context ended after %v", timeout, took)
			}
		})
	}
	wg.Wait()
	clock.mu.Lock()
	defer clock.mu.Unlock()
	now := time.Now().UnixNano() / int64(deadlineTick)
	for n := range clock.due {
		if n < now-100 { // timers may be late on a loaded machine, not half a second
			t.Errorf("tick %d is %d ticks overdue", n, now-n)
		}
	}
	if len(clock.due) > 0 && clock.next == 0 {
		t.Errorf("%d ticks due, and the timer is idle", len(clock.due))
	}
}

func BenchmarkWithTimeout(b *testing.B) {
	b.Run("withTimeout", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx := withTimeout(context.Background(), time.Second)
				_ = ctx.Done()
			}
		})
	})
	b.Run("context.WithTimeout", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = ctx.Done()
				cancel()
			}
		})
	})
}

// A caller waiting for a classic pool's connection stops waiting as soon as
// its request's context ends, not at the store's deadline.
func TestClassicPoolWaitEndsWithTheRequest(t *testing.T) {
	srv := redistest.Start(t)
	u, err := ParseRedisURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// MinReplicas takes the classic pool; one connection, held by a GET
	// that the pause holds up.
	b := NewRedis(RedisConfig{URL: u, Prefix: srv.Prefix, Timeout: 3 * time.Second, PoolSize: 1, MinReplicas: 1})
	t.Cleanup(func() { b.Close() })
	if _, ok := b.pool.(*classicPool); !ok {
		t.Fatalf("pool %T, want a classic one", b.pool)
	}
	srv.Do("CLIENT", "PAUSE", 1500, "ALL")
	go b.Load(context.Background(), "held", 0)
	time.Sleep(100 * time.Millisecond)

	parent, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, _, err = b.Load(withTimeout(parent, 3*time.Second), "k", 0)
	if took := time.Since(start); err == nil || took > time.Second {
		t.Errorf("Load returned %v after %v, want an error soon after the request ended", err, took)
	}
}
