package sqlstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/sqlstore"
)

// count is how many rows the table holds, expired or not.
func count(t *testing.T, b *sqlstore.Backend) int {
	t.Helper()
	var n int
	if err := b.DB().QueryRow("SELECT count(*) FROM " + b.Table()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An expired row is never served, even before the sweep deletes it.
func testExpiredRowIsNeverServed(t *testing.T, b *sqlstore.Backend) {
	ctx := t.Context()
	key := session.NewID()
	if err := b.Write(ctx, session.Record{Key: key, Data: []byte(`{"email":"a@example.com"}`), TTL: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := b.Load(ctx, key, 0); !found {
		t.Fatal("a live row was not found")
	}
	time.Sleep(100 * time.Millisecond)
	for _, refresh := range []time.Duration{0, time.Hour} {
		if data, found, err := b.Load(ctx, key, refresh); found || err != nil {
			t.Errorf("Load(refresh %v) of an expired row = %s, %v, %v", refresh, data, found, err)
		}
	}
	if recs, err := b.Get(ctx, key); len(recs) != 0 || err != nil {
		t.Errorf("Get of an expired row = %v, %v", recs, err)
	}
	if _, found, _ := b.TTL(ctx, key); found {
		t.Error("TTL found an expired row")
	}
	// A conditional write does not bring it back.
	err := b.Write(ctx, session.Record{Key: key, Data: []byte(`{"email":"b@example.com"}`), TTL: time.Hour, Loaded: []byte(`{"email":"a@example.com"}`)})
	if c, ok := err.(*session.Conflict); !ok || c.Data != nil {
		t.Errorf("conditional write over an expired row = %v, want a conflict with nothing", err)
	}
	if n := count(t, b); n != 1 {
		t.Errorf("%d rows, want the expired one, not yet swept", n)
	}
}

// The sweep deletes expired rows in batches of 500, and only those.
func testSweep(t *testing.T, b *sqlstore.Backend) {
	ctx := t.Context()
	const expired = 1203
	for i := range expired {
		if err := b.Write(ctx, session.Record{Key: fmt.Sprintf("old%05d", i), Data: []byte(`{}`), TTL: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	live := session.NewID()
	b.Write(ctx, session.Record{Key: live, Data: []byte(`{"a":"b"}`), TTL: time.Hour})
	time.Sleep(10 * time.Millisecond)
	// Two replicas sweep at once: together they delete each row once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	for range 2 {
		wg.Go(func() {
			n, err := b.Sweep(time.Now())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != expired || count(t, b) != 1 {
		t.Errorf("swept %d, %d rows left; want %d swept and the live one left", total, count(t, b), expired)
	}
	if _, found, _ := b.Load(ctx, live, 0); !found {
		t.Error("the live session was swept")
	}
}
