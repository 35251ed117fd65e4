package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

func newTestPipeline(t *testing.T, srv *redistest.Server, size int) *Pipeline {
	t.Helper()
	p := New(size, func(ctx context.Context) (redis.Conn, error) {
		return srv.Dial(ctx, redis.DialReadTimeout(time.Second), redis.DialWriteTimeout(time.Second))
	}, nil)
	t.Cleanup(func() { p.Close() })
	return p
}

func pipeDo(t *testing.T, ctx context.Context, p *Pipeline, cmd string, args ...any) (any, error) {
	t.Helper()
	c, err := p.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Do(cmd, args...)
}

// Batches flushed one after another, the first too large for the room a
// caller's view keeps for its first, give their replies in order.
func TestPipelineSeveralFlushes(t *testing.T) {
	srv := redistest.Start(t)
	p := newTestPipeline(t, srv, 1)
	c, err := p.GetContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{12, 1, 3} {
		for range n {
			c.Send("INCR", "n")
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for want := int64(1); want <= 16; want++ {
		if got, err := redis.Int64(c.Receive()); err != nil || got != want {
			t.Fatalf("reply %d = %d, %v", want, got, err)
		}
	}
}

// Many callers at once each get their own replies, over no more connections
// than the pipeline holds.
func TestPipelineConcurrentCallers(t *testing.T) {
	srv := redistest.Start(t)
	p := newTestPipeline(t, srv, 4)
	p.slots = make([]pipeSlot, 3) // several connections, whatever the CPUs
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", g)
			for i := range 200 {
				want := fmt.Sprintf("v%d-%d", g, i)
				if _, err := pipeDo(t, t.Context(), p, "SET", key, want); err != nil {
					t.Errorf("SET: %v", err)
					return
				}
				got, err := redis.String(pipeDo(t, t.Context(), p, "GET", key))
				if err != nil || got != want {
					t.Errorf("GET %s = %q, %v; want %q", key, got, err, want)
					return
				}
				if _, err := pipeDo(t, t.Context(), p, "INCR", "total"); err != nil {
					t.Errorf("INCR: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, _ := redis.Int(srv.Do("GET", "total"), nil); n != 64*200 {
		t.Errorf("total = %d, want %d", n, 64*200)
	}
	clients, _ := redis.String(srv.Do("CLIENT", "LIST"), nil)
	if n := strings.Count(clients, "\n") - 1; n != len(p.slots) {
		t.Errorf("%d connections besides this one, want %d", n, len(p.slots))
	}
}

func TestPipelineBatches(t *testing.T) {
	srv := redistest.Start(t)
	p := newTestPipeline(t, srv, 1)
	c, err := p.GetContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	// A transaction flushed as one batch.
	c.Send("MULTI")
	c.Send("SET", "a", "1")
	c.Send("INCR", "a")
	reply, err := redis.Values(c.Do("EXEC"))
	if err != nil || len(reply) != 2 || reply[1] != int64(2) {
		t.Fatalf("MULTI SET INCR EXEC = %v, %v", reply, err)
	}

	// Send, Flush, Receive one by one.
	c.Send("SET", "b", "x")
	c.Send("GET", "b")
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Receive(); r != "OK" || err != nil {
		t.Errorf("first Receive = %v, %v", r, err)
	}
	if r, err := redis.String(c.Receive()); r != "x" || err != nil {
		t.Errorf("second Receive = %q, %v", r, err)
	}

	// A Redis error reply is the caller's error; the connection lives on.
	if _, err := c.Do("INCR", "b"); err == nil || c.Err() != nil {
		t.Errorf("INCR on a string: err %v, Err() %v; want a reply error on a live connection", err, c.Err())
	}
	c.Send("SET", "c", "1")
	c.Send("INCR", "b")
	if _, err := c.Do("GET", "c"); err == nil {
		t.Error("Do returned no error while a pending reply was one")
	}
	if r, err := redis.Values(c.Do("")); err != nil || len(r) != 0 {
		t.Errorf(`Do("") with nothing pending = %v, %v`, r, err)
	}

	// What would spoil the connection for others is refused.
	for _, cmds := range [][]string{{"MULTI"}, {"WATCH"}, {"SELECT"}, {"subscribe"}} {
		for _, cmd := range cmds {
			c.Send(cmd, "a")
		}
		if err := c.Flush(); err == nil {
			t.Errorf("%v was sent", cmds)
		}
	}
	if r, err := redis.String(pipeDo(t, t.Context(), p, "GET", "c")); r != "1" || err != nil {
		t.Errorf("after the refusals: GET c = %q, %v", r, err)
	}
}

// Callers that stop waiting leave no stray replies for the next ones.
func TestPipelineAbandonedCallers(t *testing.T) {
	srv := redistest.Start(t)
	p := newTestPipeline(t, srv, 1)
	pipeDo(t, t.Context(), p, "SET", "k", "v")
	srv.Do("CLIENT", "PAUSE", 300, "ALL")
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			if _, err := pipeDo(t, ctx, p, "SET", "k", "abandoned"); err == nil {
				t.Error("a call answered while Redis was paused")
			}
		})
	}
	wg.Wait()
	for i := range 20 {
		want := fmt.Sprint(i)
		if _, err := pipeDo(t, t.Context(), p, "SET", "k", want); err != nil {
			t.Fatal(err)
		}
		if got, err := redis.String(pipeDo(t, t.Context(), p, "GET", "k")); got != want || err != nil {
			t.Fatalf("GET k = %q, %v; want %q", got, err, want)
		}
	}
}

// A shared connection honours the timeouts redis.Conn's optional methods
// are given, however long its caller's context lasts.
func TestPipelineHonoursTimeouts(t *testing.T) {
	srv := redistest.Start(t)
	p := newTestPipeline(t, srv, 1)
	c, err := p.GetContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv.Do("CLIENT", "PAUSE", 800, "ALL")
	for name, call := range map[string]func() error{
		"DoWithTimeout": func() error {
			_, err := redis.DoWithTimeout(c, 100*time.Millisecond, "GET", "k")
			return err
		},
		"ReceiveWithTimeout": func() error {
			c.Send("GET", "k")
			_, err := redis.ReceiveWithTimeout(c, 100*time.Millisecond)
			return err
		},
	} {
		start := time.Now()
		err := call()
		if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took < 100*time.Millisecond || took > 400*time.Millisecond {
			t.Errorf("%s(100ms) against a paused Redis: %v after %v, want a deadline error after 100ms", name, err, took)
		}
	}
}

// A broken connection fails its callers with Err set, and the next caller
// gets a fresh one.
func TestPipelineReconnects(t *testing.T) {
	srv := redistest.Start(t)
	p := newTestPipeline(t, srv, 1)
	pipeDo(t, t.Context(), p, "SET", "k", "v")
	srv.Restart()
	c, err := p.GetContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do("GET", "k"); err == nil || c.Err() == nil {
		t.Fatalf("GET over a connection to a restarted Redis: err %v, Err() %v; want both set", err, c.Err())
	}
	if r, err := pipeDo(t, t.Context(), p, "GET", "k"); r != nil || err != nil {
		t.Errorf("GET after reconnecting = %v, %v; want nil (Redis came back empty)", r, err)
	}

	srv.Stop()
	start := time.Now()
	if _, err := pipeDo(t, t.Context(), p, "GET", "k"); err == nil {
		t.Error("GET with Redis stopped succeeded")
	}
	if _, err := pipeDo(t, t.Context(), p, "GET", "k"); err == nil {
		t.Error("second GET with Redis stopped succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("failing took %v", d)
	}
	p.Close()
	if _, err := c.Do("GET", "k"); err == nil {
		t.Error("a conn from a closed pipeline answered")
	}
}
