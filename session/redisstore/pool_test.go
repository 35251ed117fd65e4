package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

// A caller waiting for a classic pool's connection stops waiting as soon as
// its request's context ends, not at the store's deadline.
func TestClassicPoolWaitEndsWithTheRequest(t *testing.T) {
	srv := redistest.Start(t)
	u, err := config.ParseRedisURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// MinReplicas takes the classic pool; one connection, held by a GET
	// that the pause holds up.
	b := New(Config{URL: URL(u), Prefix: srv.Prefix, Timeout: 3 * time.Second, PoolSize: 1, MinReplicas: 1})
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
	ctx, stop := context.WithTimeout(parent, 3*time.Second)
	defer stop()
	_, _, err = b.Load(ctx, "k", 0)
	if took := time.Since(start); err == nil || took > time.Second {
		t.Errorf("Load returned %v after %v, want an error soon after the request ended", err, took)
	}
}
