package redisstore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// sentinelStore is a store over the group's sentinels.
func sentinelStore(t *testing.T, url string, minReplicas int) *session.Store {
	t.Helper()
	u, err := config.ParseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	b := redisstore.New(redisstore.Config{URL: redisstore.URL(u), Prefix: "session:", Timeout: 500 * time.Millisecond, PoolSize: 8, MinReplicas: minReplicas})
	t.Cleanup(func() { b.Close() })
	return sessiontest.NewStore(t, b, nil)
}

// writer writes a new email into one session every 10 ms until stopped,
// and keeps what the failover did to it.
type writer struct {
	c        *sessiontest.Client
	stop     chan struct{}
	done     chan struct{}
	last     time.Time // when the last write was acknowledged
	acked    string    // the last email a 200 acknowledged
	maybe    []string  // emails sent since, whose writes answered 503
	failures int
	longest  time.Duration // the longest time between two acknowledged writes
}

func startWriter(t *testing.T, c *sessiontest.Client) *writer {
	w := &writer{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.last = time.Now()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			email := fmt.Sprintf("w%d@example.com", i)
			before := time.Now()
			r := c.Do("POST", "/set?v="+email)
			if d := time.Since(before); d > 3*time.Second {
				t.Errorf("a write took %v", d)
			}
			switch r.Status {
			case 200:
				w.acked, w.maybe = email, nil
				w.longest = max(w.longest, time.Since(w.last))
				w.last = time.Now()
			case 503:
				w.failures++
				w.maybe = append(w.maybe, email)
			default:
				t.Errorf("POST /set = %d %q during a failover", r.Status, r.Body)
			}
		}
	}()
	return w
}

// finish stops the writer and checks that its session holds the last
// acknowledged email (or a later one whose answer was lost).
func (w *writer) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	w.longest = max(w.longest, time.Since(w.last))
	got := w.c.Do("GET", "/get").Body
	if got != w.acked && !slices.Contains(w.maybe, got) {
		t.Errorf("session holds %q; the last acknowledged write was %q", got, w.acked)
	}
}

// set stores email in c's session and fails the test unless that worked.
func set(t *testing.T, c *sessiontest.Client, email string) {
	t.Helper()
	if r := c.Do("POST", "/set?v="+email); r.Status != 200 {
		t.Fatalf("POST /set?v=%s = %d %q", email, r.Status, r.Body)
	}
}

// TestSentinelFailover fails a master with three replicas over twice: once
// by killing it, once by asking the sentinels (the old master alive).
// Sessions written before each are there after it, a client writing all
// along loses no acknowledged write, and writes resume.
func TestSentinelFailover(t *testing.T) {
	g := redistest.StartGroup(t, 3, 3)
	store := sentinelStore(t, g.URL(), 1)
	app := sessiontest.NewApp(t, store)
	// What /readyz reports: the master the pool dialled last.
	master := func() string { return store.Backend().(*redisstore.Backend).Describe()["address"] }
	clients := make([]*sessiontest.Client, 20)
	for i := range clients {
		clients[i] = &sessiontest.Client{T: t, Base: app.URL}
	}
	setAll := func(round string) {
		t.Helper()
		for i, c := range clients {
			set(t, c, fmt.Sprintf("%d@%s.example.com", i, round))
		}
	}
	// A replica that has just synced acknowledges writes (WAIT, with
	// MIN_REPLICAS=1) only after a moment: until then writes get 503.
	waitAcked := func() {
		t.Helper()
		start := time.Now()
		for c := clients[0]; c.Do("POST", "/set?v=probe@example.com").Status != 200; time.Sleep(50 * time.Millisecond) {
			if time.Since(start) > 5*time.Second {
				t.Fatal("no write acknowledged by a replica within 5 s")
			}
		}
		t.Logf("first write acknowledged %v after the failover", time.Since(start).Round(time.Millisecond))
	}
	checkAll := func(round string) {
		t.Helper()
		for i, c := range clients {
			c.Want("GET", "/get", 200, fmt.Sprintf("%d@%s.example.com", i, round))
		}
	}

	// The master dies while a client writes.
	setAll("killed")
	w := startWriter(t, &sessiontest.Client{T: t, Base: app.URL})
	time.Sleep(100 * time.Millisecond)
	first := g.Master()
	g.Node(first).Stop()
	second := g.WaitFailover(first)
	time.Sleep(200 * time.Millisecond)
	w.finish(t)
	t.Logf("master %s killed, %s took over: writes failed for %v (%d answered 503)", first, second, w.longest, w.failures)
	checkAll("killed")
	if got := master(); got != second {
		t.Errorf("reported master %q after the failover, want %q", got, second)
	}

	// Asked to fail over while every server is up, the sentinels promote a
	// replica while the old master still takes writes (it is demoted some
	// seconds later): the store holds writes back meanwhile.
	g.WaitSynced() // the sentinels might promote a replica still catching up
	waitAcked()
	setAll("manual")
	w = startWriter(t, &sessiontest.Client{T: t, Base: app.URL})
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	for {
		_, err := g.Sentinels[0].Try("SENTINEL", "FAILOVER", g.Name)
		if err == nil {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	third := g.WaitFailover(second)
	time.Sleep(200 * time.Millisecond)
	w.finish(t)
	t.Logf("failover from %s to %s on request: writes failed for %v (%d answered 503)", second, third, w.longest, w.failures)
	checkAll("manual")
	waitAcked()
	setAll("last")
	checkAll("last")
	if got := master(); got != third {
		t.Errorf("reported master %q after the second failover, want %q", got, third)
	}
}

// TestSentinelCommandsPerRead checks that finding the master through the
// sentinels costs a busy read nothing: one GET, no ROLE, except on a
// connection that sat idle for a second or more.
func TestSentinelCommandsPerRead(t *testing.T) {
	g := redistest.StartGroup(t, 0, 1)
	master := g.Nodes[0]
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, sentinelStore(t, g.URL(), 0)).URL}
	set(t, c, "a@example.com")
	counted(t, master)
	const reads = 200
	for range reads {
		c.Want("GET", "/get", 200, "a@example.com")
	}
	got := counted(t, master, "GET", "GETEX", "ROLE")
	if got["GET"] != fmt.Sprint(reads) || got["GETEX"] != "" || got["ROLE"] != "" {
		t.Errorf("%d reads sent %v, want %d GET and nothing else", reads, got, reads)
	}

	time.Sleep(1100 * time.Millisecond)
	c.Want("GET", "/get", 200, "a@example.com")
	if got := counted(t, master, "GET", "GETEX", "ROLE"); fmt.Sprint(got) != "map[GET:1 ROLE:1]" {
		t.Errorf("a read after a second idle sent %v, want one ROLE and one GET", got)
	}
}

// TestSentinelWithPasswords uses a master and a sentinel that both demand
// the password in the URL.
func TestSentinelWithPasswords(t *testing.T) {
	master := redistest.StartTCP(t, "--requirepass", "s3cret")
	s := redistest.StartSentinel(t, "sessions", master.Addr(), 1, "requirepass s3cret", "sentinel auth-pass sessions s3cret")
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, sentinelStore(t, "redis-sentinel://s3cret@"+s.Addr()+"#sessions", 0)).URL}
	set(t, c, "a@example.com")
	c.Want("GET", "/get", 200, "a@example.com")

	wrong := sentinelStore(t, "redis-sentinel://wrong@"+s.Addr()+"#sessions", 0)
	err := wrong.Ping(t.Context())
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Ping with a wrong password = %v, want an error without the password", err)
	}
}
