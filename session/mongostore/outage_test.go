package mongostore_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/internal/mongotest"
	"github.com/sessionsvc/sessionsvc/internal/proxytest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/mongostore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// waitPing waits until the store answers again, at most 10s, and returns
// how long that took.
func waitPing(t *testing.T, store *session.Store) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := store.Ping(ctx)
		cancel()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the store did not answer within 10s after the server came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The server cut off (at start, then under way): session requests answer
// 503, never 500 or a hang, and once it is back the same Backend works
// again, making its indexes then if it never could.
func TestServerOutage(t *testing.T) {
	srv := mongotest.Start(t)
	u, err := url.Parse(srv.URI())
	if err != nil {
		t.Fatal(err)
	}
	proxy := proxytest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	proxy.Cut() // down when the service starts
	b := open(t, srv, func(c *mongostore.Config) { c.URI = u.String() })
	store := sessiontest.NewStore(t, b, func(c *session.Config) { c.Timeout = 300 * time.Millisecond })
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	start := time.Now()
	c.Want("POST", "/set?v=a@example.com", 503, "unavailable")
	if err := store.Ping(t.Context()); err == nil {
		t.Error("Ping passed with the server cut off")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a request and a Ping during the outage took %v", d)
	}

	proxy.Restore()
	t.Logf("answering %v after the server came back", waitPing(t, store))
	if r := c.Do("POST", "/set?v=a@example.com"); r.Status != 200 {
		t.Fatalf("after the server came back: POST /set = %d %q", r.Status, r.Body)
	}
	c.Want("GET", "/get", 200, "a@example.com")
	ix := indexes(t, b)
	if ix["owner"] == nil || ix["expiry"] == nil {
		t.Errorf("indexes after the server came back: %v", ix)
	}

	proxy.Cut()
	start = time.Now()
	c.Want("GET", "/get", 503, "unavailable")
	c.Want("POST", "/other?v=x", 503, "unavailable")
	if err := store.Ping(t.Context()); err == nil {
		t.Error("Ping passed with the server cut off")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("two requests and a Ping during the outage took %v", d)
	}
	proxy.Restore()
	t.Logf("answering %v after the server came back", waitPing(t, store))
	c.Want("GET", "/get", 200, "a@example.com")
	c.Want("POST", "/other?v=x", 200, "ok")
}

// The server killed and restarted while clients keep sending requests:
// every answer is 200 or 503, never 500, and afterwards every session is
// as its last successful request left it (the server keeps its data).
func TestServerRestartUnderLoad(t *testing.T) {
	srv := mongotest.Start(t)
	if srv.Shared() {
		t.Skip("the MongoDB at " + mongotest.EnvURL + " is not this test's to restart")
	}
	b := open(t, srv, nil)
	store := sessiontest.NewStore(t, b, func(c *session.Config) { c.Timeout = 300 * time.Millisecond })
	app := sessiontest.NewApp(t, store)

	const clients = 4
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	last := make([]string, clients)           // the last value a client set with a 200
	since := make([]map[string]bool, clients) // values it tried after that: a 503 may have been written
	cs := make([]*sessiontest.Client, clients)
	for i := range clients {
		cs[i] = &sessiontest.Client{T: t, Base: app.URL}
		if r := cs[i].Do("POST", "/set?v=start"); r.Status != 200 {
			t.Fatalf("POST /set = %d %q", r.Status, r.Body)
		}
		last[i], since[i] = "start", map[string]bool{}
		wg.Go(func() {
			c := cs[i]
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v := strings.Repeat("v", 1+n%3) + string(rune('a'+n%26))
				r := c.Do("POST", "/other?v="+v)
				g := c.Do("GET", "/get")
				mu.Lock()
				statuses[r.Status]++
				statuses[g.Status]++
				if r.Status == 200 {
					last[i], since[i] = v, map[string]bool{}
				} else {
					since[i][v] = true
				}
				mu.Unlock()
				if g.Status == 200 && g.Body != "start" {
					t.Errorf("client %d: email %q, want start", i, g.Body)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	srv.Stop()
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	t.Logf("answering %v after the restart", waitPing(t, store))
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	t.Logf("answers: %v", statuses)
	for status := range statuses {
		if status != 200 && status != 503 {
			t.Errorf("answered %d during the restart (%v)", status, statuses)
		}
	}
	if statuses[503] == 0 {
		t.Error("no request failed while the server was down")
	}
	for i, c := range cs {
		c.Want("GET", "/get", 200, "start")
		if got := c.Do("GET", "/other").Body; got != last[i] && !since[i][got] {
			t.Errorf("client %d: other = %q, want %q, its last value answered 200, or one it tried after", i, got, last[i])
		}
	}
}
