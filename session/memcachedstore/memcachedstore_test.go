package memcachedstore_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/internal/memcachedtest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/memcachedstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// open returns a Backend over servers with prefix, closed at cleanup.
func open(t testing.TB, prefix string, servers ...string) *memcachedstore.Backend {
	t.Helper()
	b, err := memcachedstore.New(memcachedstore.Config{Servers: servers, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Every backend of the suite gets a key prefix of its own on one server, so
// that each starts empty.
func TestConformance(t *testing.T) {
	srv := memcachedtest.New(t)
	sessiontest.Run(t, func(t testing.TB) session.Backend {
		return open(t, srv.Prefix+rand.Text()+":", srv.Addr())
	})
}

func BenchmarkBackend(b *testing.B) {
	srv := memcachedtest.New(b)
	sessiontest.Bench(b, func(t testing.TB) session.Backend {
		return open(t, srv.Prefix+rand.Text()+":", srv.Addr())
	})
}

func TestNewRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  memcachedstore.Config
	}{
		{"no server", memcachedstore.Config{}},
		{"no port", memcachedstore.Config{Servers: []string{"cache"}}},
		{"bad port", memcachedstore.Config{Servers: []string{"cache:eleven"}}},
		{"no host", memcachedstore.Config{Servers: []string{":11211"}}},
		{"twice", memcachedstore.Config{Servers: []string{"a:11211", "a:11211"}}},
		{"space in prefix", memcachedstore.Config{Servers: []string{"a:11211"}, Prefix: "my session:"}},
		{"control character in prefix", memcachedstore.Config{Servers: []string{"a:11211"}, Prefix: "s\n"}},
		{"prefix too long", memcachedstore.Config{Servers: []string{"a:11211"}, Prefix: strings.Repeat("p", 187)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := memcachedstore.New(tc.cfg); err == nil {
				t.Errorf("New(%+v) passed", tc.cfg)
			}
		})
	}
	for _, cfg := range []memcachedstore.Config{
		{Servers: []string{"cache-a:11211", "10.0.0.2:11212", "[::1]:11211", "/run/memcached/memcached.sock"}},
		{Servers: []string{"a:11211"}, Prefix: strings.Repeat("p", 186)},
	} {
		if _, err := memcachedstore.New(cfg); err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}

// Memcached reads an exptime above 30 days as a Unix time: a 31-day session
// (the service's default lifetime) must still live 31 days, as the server
// itself reports.
func TestThirtyOneDays(t *testing.T) {
	srv := memcachedtest.New(t)
	b := open(t, srv.Prefix, srv.Addr())
	const month = 31 * 24 * time.Hour
	store := sessiontest.NewStore(t, b, func(c *session.Config) { c.Lifetime = month })
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	c.Do("POST", "/set?v=a@example.com")
	time.Sleep(1100 * time.Millisecond)
	c.Want("GET", "/get", 200, "a@example.com")

	key := store.Key(strings.SplitN(c.Cookie, ".", 2)[0])
	reply := srv.Do("mg " + srv.Prefix + key + " t")
	ttl, err := strconv.Atoi(strings.TrimPrefix(strings.Fields(reply + " x")[1], "t"))
	if !strings.HasPrefix(reply, "HD ") || err != nil {
		t.Fatalf("mg t = %q", reply)
	}
	// The server counts from its clock's last whole second, which lags.
	if got := time.Duration(ttl) * time.Second; got < month-time.Minute || got > month+3*time.Second {
		t.Errorf("the server says %v left, want about %v", got, month)
	}
	if got, found, err := b.TTL(t.Context(), key); !found || err != nil || got < month-time.Minute || got > month {
		t.Errorf("TTL = %v, %v, %v; want about %v", got, found, err, month)
	}

	// Exactly 30 days is still seconds from now; a second more, a date.
	for _, ttl := range []time.Duration{30 * 24 * time.Hour, 30*24*time.Hour + time.Second, 400 * 24 * time.Hour} {
		key := session.NewID()
		if err := b.Write(t.Context(), session.Record{Key: key, Data: []byte(`{}`), TTL: ttl}); err != nil {
			t.Fatal(err)
		}
		reply := srv.Do("mg " + srv.Prefix + key + " t")
		left, _ := strconv.Atoi(strings.TrimPrefix(strings.Fields(reply + " x")[1], "t"))
		if got := time.Duration(left) * time.Second; got < ttl-5*time.Second || got > ttl+3*time.Second {
			t.Errorf("TTL %v: the server says %q", ttl, reply)
		}
	}
}

// A conditional delete (a cas with a negative exptime) removes the item
// only when it holds what was loaded; otherwise the item stays and Write
// reports what it holds.
func TestConditionalDelete(t *testing.T) {
	srv := memcachedtest.New(t)
	b := open(t, srv.Prefix, srv.Addr())
	ctx := t.Context()
	key := session.NewID()
	v1, v2 := []byte(`{"email":"a@example.com"}`), []byte(`{"email":"b@example.com"}`)
	if err := b.Write(ctx, session.Record{Key: key, Data: v1, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, session.Record{Key: key, Data: v2, TTL: time.Hour, Loaded: v1}); err != nil {
		t.Fatal(err)
	}
	err := b.Write(ctx, session.Record{Key: key, Loaded: v1}) // stale: it holds v2
	var c *session.Conflict
	if !errors.As(err, &c) || c.Key != key || string(c.Data) != string(v2) {
		t.Fatalf("delete over a stale value = %v, want a conflict holding v2", err)
	}
	if data, found, err := b.Load(ctx, key, 0); !found || err != nil || string(data) != string(v2) {
		t.Fatalf("after the refused delete: %s, %v, %v", data, found, err)
	}
	if err := b.Write(ctx, session.Record{Key: key, Loaded: v2}); err != nil {
		t.Fatal(err)
	}
	if data, found, err := b.Load(ctx, key, 0); found || err != nil {
		t.Fatalf("after the delete: %s, %v, %v", data, found, err)
	}
	if reply := srv.Do("mg " + srv.Prefix + key + " v"); reply != "EN" {
		t.Errorf("after the delete the server answers %q, want EN (miss)", reply)
	}
	// Over nothing: a conflict with nothing.
	if err := b.Write(ctx, session.Record{Key: key, Loaded: v2}); !errors.As(err, &c) || c.Data != nil {
		t.Errorf("delete of a missing item = %v, want a conflict with no data", err)
	}
}

// A renewal whose old key changed meanwhile writes nothing: the new key it
// set first is deleted again, and the old session is as it was.
func TestFailedRenewalLeavesNothing(t *testing.T) {
	srvs := []*memcachedtest.Server{memcachedtest.Start(t), memcachedtest.Start(t), memcachedtest.Start(t)}
	b := open(t, "session:", srvs[0].Addr(), srvs[1].Addr(), srvs[2].Addr())
	ctx := t.Context()
	for i := range 20 { // new keys on every server
		old, renewed := session.NewID(), session.NewID()
		v, changed := []byte(`{"n":1}`), []byte(fmt.Sprintf(`{"n":%d}`, i+2))
		if err := b.Write(ctx, session.Record{Key: old, Data: v, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if err := b.Write(ctx, session.Record{Key: old, Data: changed, TTL: time.Hour, Loaded: v}); err != nil {
			t.Fatal(err)
		}
		err := b.Write(ctx,
			session.Record{Key: renewed, Data: v, TTL: time.Hour},
			session.Record{Key: old, Data: []byte(`{"forward":"x"}`), TTL: time.Second, Loaded: v})
		var c *session.Conflict
		if !errors.As(err, &c) || c.Key != old || string(c.Data) != string(changed) {
			t.Fatalf("renewal over a changed session = %v, want a conflict on the old key", err)
		}
		if _, found, err := b.Load(ctx, renewed, 0); found || err != nil {
			t.Errorf("the new key of a failed renewal is there (%v)", err)
		}
		if data, _, _ := b.Load(ctx, old, 0); string(data) != string(changed) {
			t.Errorf("old session = %s, want %s", data, changed)
		}
	}
	items := 0
	for _, s := range srvs {
		items += s.Items()
	}
	if items != 20 {
		t.Errorf("the servers hold %d items, want the 20 old sessions", items)
	}
}

// A session over the server's item size limit (but within the store's
// MaxSize) is refused as too large (413), and the session stays as it was.
func TestTooLargeForTheServer(t *testing.T) {
	// 1 KB items: memcached 1.6 wants slab_chunk_max (in bytes) no larger.
	srv := memcachedtest.Start(t, "-I", "1k", "-o", "slab_chunk_max=1024")
	b := open(t, srv.Prefix, srv.Addr())
	store := sessiontest.NewStore(t, b, func(c *session.Config) { c.MaxSize = 4096 })
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	c.Want("POST", "/other?v=kept", 200, "ok")
	c.Want("POST", "/set?v="+strings.Repeat("x", 2000), 413, "too large")
	c.Want("GET", "/other", 200, "kept")
	c.Want("GET", "/get", 200, "")
	// A new session too large: refused, and nothing stored.
	fresh := &sessiontest.Client{T: t, Base: c.Base}
	fresh.Want("POST", "/set?v="+strings.Repeat("y", 2000), 413, "too large")
	if fresh.Cookie != "" {
		t.Errorf("a refused new session got a cookie")
	}
	err := b.Write(t.Context(), session.Record{Key: session.NewID(), Data: make([]byte, 2000), TTL: time.Hour})
	if !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("Write of 2000 bytes = %v, want ErrTooLarge", err)
	}
	c.Want("GET", "/other", 200, "kept") // the connection the refusal closed is not missed
}

// Getter and Inspector: found by key with their time left, located on
// their server, and described by the configured servers.
func TestGetLocationDescribe(t *testing.T) {
	a, z := memcachedtest.Start(t), memcachedtest.Start(t)
	b := open(t, "session:", a.Addr(), z.Addr())
	ctx := t.Context()
	var keys []string
	for i := range 10 {
		key := session.NewID()
		keys = append(keys, key)
		if err := b.Write(ctx, session.Record{Key: key, Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	missing := session.NewID()
	got, err := b.Get(ctx, append([]string{missing}, keys...)...)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("Get = %d records, %v; want %d", len(got), err, len(keys))
	}
	for i, s := range got {
		if s.Key != keys[i] || string(s.Data) != fmt.Sprintf(`{"n":%d}`, i) || s.TTL <= time.Hour-time.Minute || s.TTL > time.Hour {
			t.Errorf("record %d = %+v", i, s)
		}
		loc := b.Location(s.Key)
		if want := memcachedstore.ServerOf(b, s.Key) + "/session:" + s.Key; loc != want {
			t.Errorf("Location = %q, want %q", loc, want)
		}
	}
	if _, found, err := b.TTL(ctx, missing); found || err != nil {
		t.Errorf("TTL of a missing key: found %v, %v", found, err)
	}
	if got, want := b.Describe()["servers"], a.Addr()+","+z.Addr(); got != want {
		t.Errorf("Describe servers = %q, want %q", got, want)
	}
}
