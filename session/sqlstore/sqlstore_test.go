package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/proxytest"
	"github.com/sessionsvc/sessionsvc/internal/sqltest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
	"github.com/sessionsvc/sessionsvc/session/sqlstore"
)

// dialects are the databases every test runs on: the machine's PostgreSQL
// and MariaDB, each test in a database of its own, and SQLite in a
// temporary directory.
var dialects = []struct {
	name string
	url  func(testing.TB) string // a fresh database's URL, as SQLALCHEMY_DATABASE_URI
}{
	{"postgres", sqltest.Postgres},
	{"mysql", sqltest.MySQL},
	{"sqlite", sqltest.SQLite},
}

// open returns a Backend on the database at raw (a SQLALCHEMY_DATABASE_URI),
// closed at cleanup.
func open(t testing.TB, raw string, edit func(*sqlstore.Config)) *sqlstore.Backend {
	t.Helper()
	u, err := config.ParseSQLURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sqlstore.Config{Dialect: u.Dialect, DSN: u.DSN, Prefix: "session:"}
	if edit != nil {
		edit(&cfg)
	}
	b, err := sqlstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// ownTable gives each backend a table of its own, so that backends on one
// database start empty.
func ownTable(c *sqlstore.Config) {
	b := make([]byte, 6)
	rand.Read(b)
	c.Table = "sessions_" + hex.EncodeToString(b)
}

func TestConformance(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			raw := d.url(t)
			sessiontest.Run(t, func(t testing.TB) session.Backend { return open(t, raw, ownTable) })
		})
	}
}

func TestExpiredRowIsNeverServed(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { testExpiredRowIsNeverServed(t, open(t, d.url(t), nil)) })
	}
}

func TestSweep(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { testSweep(t, open(t, d.url(t), nil)) })
	}
}

// Replicas starting at once against a database without the table all
// come up: one creates it, the others find it.
func TestReplicasCreateTheTableAtOnce(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			raw := d.url(t)
			var wg sync.WaitGroup
			for range 4 {
				b := open(t, raw, nil)
				wg.Go(func() {
					if err := b.Ping(t.Context()); err != nil {
						t.Errorf("Ping: %v", err)
					}
				})
			}
			wg.Wait()
			if n := count(t, open(t, raw, nil)); n != 0 {
				t.Errorf("%d rows in the new table", n)
			}
		})
	}
}

// The database cut off (at start, then under way): session requests
// answer 503, never 500 or a hang, and the first request after it is back
// works, creating the table if it is missing; no restart.
func TestDatabaseOutage(t *testing.T) {
	u, err := url.Parse(sqltest.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := proxytest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	proxy.Cut() // down when the service starts
	b := open(t, u.String(), nil)
	store := sessiontest.NewStore(t, b, func(c *session.Config) { c.Timeout = 300 * time.Millisecond })
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	c.Want("POST", "/set?v=a@example.com", 503, "unavailable")
	if err := store.Ping(t.Context()); err == nil {
		t.Error("Ping passed with the database cut off")
	}

	proxy.Restore()
	if r := c.Do("POST", "/set?v=a@example.com"); r.Status != 200 {
		t.Fatalf("after the database came back: POST /set = %d %q", r.Status, r.Body)
	}
	c.Want("GET", "/get", 200, "a@example.com")

	proxy.Cut()
	start := time.Now()
	c.Want("GET", "/get", 503, "unavailable")
	c.Want("POST", "/other?v=x", 503, "unavailable")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("two requests during the outage took %v", d)
	}
	proxy.Restore()
	c.Want("GET", "/get", 200, "a@example.com")
	c.Want("POST", "/other?v=x", 200, "ok")
}

// A table named by an SQL keyword works: names are quoted.
func TestKeywordTableName(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			b := open(t, d.url(t), func(c *sqlstore.Config) { c.Table = "order" })
			key := session.NewID()
			if err := b.Write(t.Context(), session.Record{Key: key, Data: []byte(`{"a":"b"}`), TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			if data, found, err := b.Load(t.Context(), key, time.Hour); string(data) != `{"a":"b"}` || !found || err != nil {
				t.Errorf("Load = %s, %v, %v", data, found, err)
			}
		})
	}
}

func BenchmarkStore(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			raw := d.url(b)
			sessiontest.Bench(b, func(t testing.TB) session.Backend { return open(t, raw, ownTable) })
		})
	}
}

// The SQLite file is this user's alone, and in WAL mode.
func TestSQLiteFile(t *testing.T) {
	raw := sqltest.SQLite(t)
	b := open(t, raw, nil)
	u, _ := config.ParseSQLURL(raw)
	if fi, err := os.Stat(u.DSN); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file: %v, %v; want mode 0600", fi, err)
	}
	var mode string
	if err := b.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// A database that accepts connections but never answers: requests that
// find the table not yet made each give up at their own deadline, rather
// than wait for another's attempt to make it.
func TestSilentDatabaseCostsOneTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 100) // held open, never answered
	t.Cleanup(func() {
		ln.Close()
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	b := open(t, "postgresql://postgres@"+ln.Addr().String()+"/db", nil)
	// ping pings with timeout, and reports how long it took.
	ping := func(timeout time.Duration) time.Duration {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		start := time.Now()
		if err := b.Ping(ctx); err == nil {
			t.Error("Ping of a silent database passed")
		}
		return time.Since(start)
	}
	var wg sync.WaitGroup
	wg.Go(func() { ping(2 * time.Second) }) // a slow check, making the table first...
	time.Sleep(50 * time.Millisecond)
	for range 4 { // ...holds up no request with a shorter timeout
		wg.Go(func() {
			if d := ping(100 * time.Millisecond); d > 500*time.Millisecond {
				t.Errorf("a Ping with a 100ms timeout took %v", d)
			}
		})
	}
	wg.Wait()
}
