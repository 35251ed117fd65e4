package memcachedstore_test

import (
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/internal/memcachedtest"
	"github.com/sessionsvc/sessionsvc/internal/proxytest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/memcachedstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// Sessions spread evenly over three servers, as each server counts them;
// a fourth server takes about a quarter of them from the others, and no
// key moves between the first three.
func TestKetamaSpreadAndRemap(t *testing.T) {
	const n = 10000
	srvs := []*memcachedtest.Server{memcachedtest.Start(t), memcachedtest.Start(t), memcachedtest.Start(t), memcachedtest.Start(t)}
	addrs := []string{srvs[0].Addr(), srvs[1].Addr(), srvs[2].Addr(), srvs[3].Addr()}
	three, four := open(t, "session:", addrs[:3]...), open(t, "session:", addrs...)
	ctx := t.Context()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = session.NewID()
		if err := three.Write(ctx, session.Record{Key: keys[i], Data: []byte(`{"email":"a@example.com"}`), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for i, s := range srvs[:3] {
		items := s.Items()
		total += items
		share := float64(items) / n
		t.Logf("server %d holds %d sessions (%.1f%%)", i, items, 100*share)
		if share < 0.25 || share > 0.42 {
			t.Errorf("server %d holds %.1f%% of the sessions, want about a third", i, 100*share)
		}
	}
	if total != n {
		t.Fatalf("the servers hold %d sessions, want %d", total, n)
	}

	// Over four servers, a key that moved is missing (the fourth is empty).
	moved, strayed := 0, 0
	for _, key := range keys {
		_, found, err := four.Load(ctx, key, 0)
		if err != nil {
			t.Fatal(err)
		}
		now := memcachedstore.ServerOf(four, key)
		if !found {
			moved++
			if now != addrs[3] {
				strayed++
			}
		} else if now != memcachedstore.ServerOf(three, key) {
			strayed++
		}
	}
	frac := float64(moved) / n
	t.Logf("a fourth server moved %d of %d sessions (%.1f%%)", moved, n, 100*frac)
	if frac < 0.15 || frac > 0.35 {
		t.Errorf("a fourth server moved %.1f%% of the sessions, want about 25%%", 100*frac)
	}
	if strayed > 0 {
		t.Errorf("%d sessions moved elsewhere than to the new server", strayed)
	}
}

// cluster is three memcached servers, each behind a proxy that can cut it,
// and an app over a Backend on the proxies.
type cluster struct {
	proxies []*proxytest.Proxy
	backend *memcachedstore.Backend
	store   *session.Store
	url     string
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{}
	var addrs []string
	for range 3 {
		p := proxytest.NewProxy(t, memcachedtest.Start(t).Addr())
		c.proxies = append(c.proxies, p)
		addrs = append(addrs, p.Addr())
	}
	b, err := memcachedstore.New(memcachedstore.Config{Servers: addrs, Prefix: "session:", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c.backend = b
	c.store = sessiontest.NewStore(t, b, nil)
	c.url = sessiontest.NewApp(t, c.store).URL
	return c
}

// visitor is a client with a session and the server it is on.
type visitor struct {
	*sessiontest.Client
	email  string
	server string
}

// visitors signs up visitors until each server holds at least three.
func (c *cluster) visitors(t *testing.T) map[string][]*visitor {
	by := map[string][]*visitor{}
	for i := 0; len(by) < 3 || len(by[c.proxies[0].Addr()]) < 3 || len(by[c.proxies[1].Addr()]) < 3 || len(by[c.proxies[2].Addr()]) < 3; i++ {
		if i == 300 {
			t.Fatalf("300 sessions and still a server with fewer than 3: %d %d %d", len(by[c.proxies[0].Addr()]), len(by[c.proxies[1].Addr()]), len(by[c.proxies[2].Addr()]))
		}
		v := &visitor{Client: &sessiontest.Client{T: t, Base: c.url}, email: "v" + rand.Text() + "@example.com"}
		if r := v.Do("POST", "/set?v="+v.email); r.Status != http.StatusOK {
			t.Fatalf("POST /set = %d %q", r.Status, r.Body)
		}
		v.server = memcachedstore.ServerOf(c.backend, c.store.Key(v.Cookie))
		by[v.server] = append(by[v.server], v)
	}
	return by
}

// One server of three cut off: its visitors get 503 (never a 500, never an
// empty session), everybody else's sessions work; ending a session there
// reports the failure; sessions ended elsewhere meanwhile stay ended once
// it is back, and its own sessions come back whole. The readiness check
// passes while any server answers.
func TestOneServerDown(t *testing.T) {
	c := newCluster(t)
	by := c.visitors(t)
	down, up := c.proxies[0], c.proxies[1:]
	down.Cut()

	for _, v := range by[down.Addr()] {
		v.Want("GET", "/get", 503, "unavailable")
		v.Want("POST", "/other?v=x", 503, "unavailable")
	}
	for _, p := range up {
		for _, v := range by[p.Addr()] {
			v.Want("GET", "/get", 200, v.email)
		}
	}
	stuck := by[down.Addr()][0]
	stuck.Want("POST", "/destroy", 503, "unavailable")
	var ended []*visitor
	for _, p := range up {
		v := by[p.Addr()][0]
		old := v.Cookie
		v.Want("POST", "/destroy", 200, "destroyed")
		v.Cookie = old
		ended = append(ended, v)
	}
	if err := c.store.Ping(t.Context()); err != nil {
		t.Errorf("Ping with one server of three down: %v", err)
	}

	down.Restore()
	for _, v := range by[down.Addr()] {
		v.Want("GET", "/get", 200, v.email)
	}
	for _, v := range ended {
		v.Want("GET", "/get", 200, "")
	}
	for _, p := range up {
		for _, v := range by[p.Addr()][1:] {
			v.Want("GET", "/get", 200, v.email)
		}
	}

	for _, p := range c.proxies {
		p.Cut()
	}
	err := c.store.Ping(t.Context())
	if err == nil {
		t.Fatal("Ping passed with every server down")
	}
	for _, p := range c.proxies {
		if !strings.Contains(err.Error(), p.Addr()) {
			t.Errorf("Ping error %q does not name %s", err, p.Addr())
		}
	}
}

// A server killed under load: requests answer 503, never 500; once it is
// back (empty) on its address, requests work again through the same
// Backend, and the connections left from before it died cost no request.
func TestServerRestartUnderLoad(t *testing.T) {
	srv := memcachedtest.Start(t)
	b, err := memcachedstore.New(memcachedstore.Config{Servers: []string{srv.Addr()}, Prefix: "session:", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	url := sessiontest.NewApp(t, sessiontest.NewStore(t, b, nil)).URL

	var stop atomic.Bool
	var ok, unavailable, other atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := &sessiontest.Client{T: t, Base: url}
			for i := 0; !stop.Load(); i++ {
				req := []string{"POST", "/set?v=a@example.com"}
				if i%2 == 1 {
					req = []string{"GET", "/get"}
				}
				switch r := c.Do(req[0], req[1]); r.Status {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusServiceUnavailable:
					unavailable.Add(1)
				default:
					other.Add(1)
					t.Errorf("%s %s = %d %q", req[0], req[1], r.Status, r.Body)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	srv.Stop()
	time.Sleep(500 * time.Millisecond)
	okDuring := ok.Load()
	time.Sleep(200 * time.Millisecond)
	if ok.Load() != okDuring {
		t.Errorf("%d requests answered 200 while the server was down", ok.Load()-okDuring)
	}
	srv.Restart()
	okBefore := ok.Load()
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("answers: %d ok, %d unavailable, %d other", ok.Load(), unavailable.Load(), other.Load())
	if unavailable.Load() == 0 || ok.Load() == okBefore {
		t.Errorf("want 503s while down and 200s after the restart: %d unavailable, %d ok after", unavailable.Load(), ok.Load()-okBefore)
	}

	// Idle connections to a server that restarts with nobody asking are
	// dead; the first request after it finds them, and still succeeds.
	var warm sync.WaitGroup
	for range 16 {
		warm.Go(func() {
			c := &sessiontest.Client{T: t, Base: url}
			c.Do("POST", "/set?v=a@example.com")
		})
	}
	warm.Wait()
	srv.Restart()
	c := &sessiontest.Client{T: t, Base: url}
	for i := range 20 {
		if r := c.Do("POST", "/set?v=b@example.com"); r.Status != http.StatusOK {
			t.Fatalf("request %d after the restart: POST /set = %d %q", i, r.Status, r.Body)
		}
		c.Want("GET", "/get", 200, "b@example.com")
	}
}
