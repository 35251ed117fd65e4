package firstuse

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDo: the setup runs until it succeeds, never twice at once, and never
// again after it succeeded.
func TestDo(t *testing.T) {
	o := New()
	var runs, running atomic.Int32
	fail := errors.New("store down")
	setup := func(context.Context) error {
		if running.Add(1) > 1 {
			t.Error("two setups ran at once")
		}
		defer running.Add(-1)
		time.Sleep(time.Millisecond)
		if runs.Add(1) < 3 {
			return fail
		}
		return nil
	}
	for i := range 2 {
		if err := o.Do(t.Context(), setup); !errors.Is(err, fail) {
			t.Fatalf("call %d = %v, want the setup's error", i, err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := o.Do(t.Context(), setup); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := runs.Load(); got != 3 || !o.Done() {
		t.Errorf("setup ran %d times (done %v), want 3: twice failing, once succeeding", got, o.Done())
	}
}

// TestDoWaitsNoLongerThanItsContext: a caller whose context ends while
// another runs the setup returns at once.
func TestDoWaitsNoLongerThanItsContext(t *testing.T) {
	o := New()
	release := make(chan struct{})
	go o.Do(context.Background(), func(context.Context) error { <-release; return nil })
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := o.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do = %v, want the context's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v", d)
	}
	close(release)
}
