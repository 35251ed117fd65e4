package redisstore_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

func TestConformance(t *testing.T) {
	sessiontest.Run(t, func(t testing.TB) session.Backend { return openRedis(t, redistest.New(t)) })
}

// openRedis returns a Backend for srv, closed at the end of the test.
func openRedis(t testing.TB, srv *redistest.Server) *redisstore.Backend {
	t.Helper()
	u, err := config.ParseRedisURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := redisstore.New(redisstore.Config{URL: redisstore.URL(u), Prefix: srv.Prefix, Timeout: 500 * time.Millisecond, PoolSize: 8})
	t.Cleanup(func() { b.Close() })
	return b
}

// redisStore is a Store over srv with a lifetime of 100 seconds; edit, when
// not nil, changes its configuration first.
func redisStore(t *testing.T, srv *redistest.Server, edit func(*session.Config)) *session.Store {
	t.Helper()
	return sessiontest.NewStore(t, openRedis(t, srv), func(c *session.Config) {
		c.Lifetime = 100 * time.Second
		if edit != nil {
			edit(c)
		}
	})
}

func TestRedisKeysValuesAndTTLs(t *testing.T) {
	for _, permanent := range []bool{true, false} {
		srv := redistest.New(t)
		app := sessiontest.NewApp(t, redisStore(t, srv, func(c *session.Config) { c.Permanent = permanent }))
		a, b := &sessiontest.Client{T: t, Base: app.URL}, &sessiontest.Client{T: t, Base: app.URL}
		a.Do("GET", "/get")
		if keys := srv.Keys(); len(keys) != 0 {
			t.Fatalf("a visitor who stored nothing made keys %q", keys)
		}
		idA := a.Do("POST", "/set?v=alice@example.com").Body // the body is the ID
		idB := b.Do("POST", "/set?v=bob@example.com").Body
		if idA != a.Cookie || len(idA) != 43 {
			t.Fatalf("cookie %q is not the bare 43-character ID %q", a.Cookie, idA)
		}
		keys := srv.Keys()
		if len(keys) != 2 || !slices.Contains(keys, srv.Prefix+idA) || !slices.Contains(keys, srv.Prefix+idB) {
			t.Fatalf("keys = %q, want one per client", keys)
		}
		if got, _ := redis.String(srv.Do("GET", srv.Prefix+idA), nil); got != `{"email":"alice@example.com"}` {
			t.Errorf("value = %s", got)
		}
		if ttl, _ := redis.Int(srv.Do("TTL", srv.Prefix+idA), nil); ttl < 99 || ttl > 100 {
			t.Errorf("permanent=%v: TTL = %d, want 100", permanent, ttl)
		}
	}
}

func TestRedisNeverAdoptsUnknownIDs(t *testing.T) {
	srv := redistest.New(t)
	app := sessiontest.NewApp(t, redisStore(t, srv, nil))
	unknown := session.NewID()
	c := &sessiontest.Client{T: t, Base: app.URL, Cookie: unknown}
	c.Want("GET", "/get", 200, "")
	c.Do("POST", "/set?v=a@example.com")
	if c.Cookie == unknown {
		t.Fatal("the unknown ID was adopted")
	}
	if n, _ := redis.Int(srv.Do("EXISTS", srv.Prefix+unknown), nil); n != 0 {
		t.Fatal("a key was written under the unknown ID")
	}

	// A session that expired or was deleted is unknown too.
	old := c.Cookie
	srv.Do("DEL", srv.Prefix+old)
	c.Want("GET", "/get", 200, "")
	if c.Do("POST", "/set?v=a@example.com"); c.Cookie == old {
		t.Fatal("a deleted ID was adopted")
	}
}

// commands returns how many times each command ran since the last call.
func commands(t *testing.T, srv *redistest.Server) map[string]int {
	t.Helper()
	info, _ := redis.String(srv.Do("INFO", "commandstats"), nil)
	srv.Do("CONFIG", "RESETSTAT")
	got := map[string]int{}
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || name == "info" || name == "config|resetstat" {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		got[strings.ToUpper(name)], _ = strconv.Atoi(calls)
	}
	return got
}

func TestRedisCommandsPerRequest(t *testing.T) {
	srv := redistest.Start(t) // counts every command, so it needs a server of its own
	app := sessiontest.NewApp(t, redisStore(t, srv, nil))
	c := &sessiontest.Client{T: t, Base: app.URL}
	for _, step := range []struct {
		method, path string
		want         map[string]int
	}{
		{"GET", "/get", map[string]int{}}, // no cookie: no Redis at all
		{"POST", "/set?v=a@example.com", map[string]int{"SET": 1}},
		{"GET", "/get", map[string]int{"GET": 1}},
		{"GET", "/get", map[string]int{"GET": 1}},
		{"POST", "/set?v=a@example.com", map[string]int{"GET": 1}}, // unchanged: no write
		// A change is written only over what was loaded: one script, whose
		// GET checks it. Redis has no script yet: its hash is refused
		// (NOSCRIPT) and the script is sent whole, once.
		{"POST", "/set?v=b@example.com", map[string]int{"GET": 2, "EVALSHA": 1, "EVAL": 1, "SET": 1}},
		{"POST", "/set?v=c@example.com", map[string]int{"GET": 2, "EVALSHA": 1, "SET": 1}},
		{"POST", "/delete", map[string]int{"GET": 2, "EVALSHA": 1, "DEL": 1}},
	} {
		commands(t, srv)
		c.Do(step.method, step.path)
		if got := commands(t, srv); !maps.Equal(got, step.want) {
			t.Errorf("%s %s sent %v, want %v", step.method, step.path, got, step.want)
		}
	}
}

func TestRedisRefreshIsThrottled(t *testing.T) {
	srv := redistest.New(t)
	for _, permanent := range []bool{true, false} {
		// Lifetime 100s: a session is refreshed at most once a second.
		app := sessiontest.NewApp(t, redisStore(t, srv, func(c *session.Config) { c.Permanent = permanent }))
		c := &sessiontest.Client{T: t, Base: app.URL}
		key := srv.Prefix + c.Do("POST", "/set?v=a@example.com").Body
		srv.Do("PEXPIRE", key, 50_000)
		if r := c.Do("GET", "/get"); r.SetCookie != nil {
			t.Errorf("read right after a write sent a cookie")
		}
		if ttl, _ := redis.Int(srv.Do("PTTL", key), nil); ttl > 50_000 {
			t.Errorf("read right after a write refreshed the TTL to %dms", ttl)
		}
		time.Sleep(1100 * time.Millisecond)
		r := c.Do("GET", "/get")
		if ttl, _ := redis.Int(srv.Do("PTTL", key), nil); ttl < 99_000 {
			t.Errorf("permanent=%v: TTL after a later read = %dms, want ~100s", permanent, ttl)
		}
		if permanent && (r.SetCookie == nil || r.SetCookie.MaxAge != 100) {
			t.Errorf("refresh of a permanent session sent cookie %v, want Max-Age=100", r.SetCookie)
		}
		if !permanent && r.SetCookie != nil {
			t.Errorf("refresh of a browser-session cookie sent %v", r.SetCookie)
		}
	}

	// Without SESSION_REFRESH_EACH_REQUEST reads never touch the TTL.
	app := sessiontest.NewApp(t, redisStore(t, srv, func(c *session.Config) { c.Refresh = false }))
	c := &sessiontest.Client{T: t, Base: app.URL}
	key := srv.Prefix + c.Do("POST", "/set?v=a@example.com").Body
	srv.Do("PEXPIRE", key, 50_000)
	c.Do("GET", "/get")
	if ttl, _ := redis.Int(srv.Do("PTTL", key), nil); ttl > 50_000 {
		t.Errorf("refresh off: read set the TTL to %dms", ttl)
	}
}

func TestRedisOutages(t *testing.T) {
	srv := redistest.Start(t)
	app := sessiontest.NewApp(t, redisStore(t, srv, nil))
	c := &sessiontest.Client{T: t, Base: app.URL}
	c.Do("POST", "/set?v=a@example.com")

	// A restart empties this Redis; the pooled connections are dead, but no
	// request may fail because of them.
	srv.Restart()
	c.Want("GET", "/get", 200, "")
	c.Do("POST", "/set?v=a@example.com")

	srv.Stop()
	start := time.Now()
	c.Want("GET", "/get", 503, "unavailable")
	c.Want("POST", "/set?v=b@example.com", 503, "unavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("requests against a stopped Redis took %v", d)
	}
	srv.Restart()
	c.Want("GET", "/get", 200, "") // Redis came back empty
	c.Do("POST", "/set?v=c@example.com")
	c.Want("GET", "/get", 200, "c@example.com")

	// A stalled Redis answers nothing; requests give up after the timeout.
	srv.Do("CLIENT", "PAUSE", 3000, "ALL")
	start = time.Now()
	c.Want("GET", "/get", 503, "unavailable")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("request against a paused Redis took %v", d)
	}
}

func TestRedisDownAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	store := redisStore(t, srv, nil)
	if err := store.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded with Redis down")
	}
	app := sessiontest.NewApp(t, store)
	c := &sessiontest.Client{T: t, Base: app.URL, Cookie: session.NewID()}
	c.Want("GET", "/get", 503, "unavailable")
	srv.Restart()
	if err := store.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after Redis came up: %v", err)
	}
	c.Do("POST", "/set?v=a@example.com")
	c.Want("GET", "/get", 200, "a@example.com")
}

func TestRedisCredentialsAndDatabase(t *testing.T) {
	srv := redistest.Start(t, "--user", "default", "off", "--user", "app", "on", ">s3cret", "~*", "&*", "+@all")
	u := strings.Replace(srv.URL, "unix://", "unix://app:s3cret@", 1) + "?db=3"
	app := sessiontest.NewApp(t, redisStore(t, &redistest.Server{URL: u, Prefix: srv.Prefix}, nil))
	c := &sessiontest.Client{T: t, Base: app.URL}
	id := c.Do("POST", "/set?v=a@example.com").Body
	c.Want("GET", "/get", 200, "a@example.com")

	conn, err := redis.Dial("unix", strings.TrimPrefix(srv.URL, "unix://"), redis.DialUsername("app"), redis.DialPassword("s3cret"), redis.DialDatabase(3))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if n, _ := redis.Int(conn.Do("EXISTS", srv.Prefix+id)); n != 1 {
		t.Error("session not in database 3")
	}

	bad := redisStore(t, &redistest.Server{URL: strings.Replace(u, "s3cret", "wrong", 1), Prefix: srv.Prefix}, nil)
	err = bad.Ping(context.Background())
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("Ping with a wrong password = %v, want an error without the password", err)
	}
}

func TestRedisSignedCookie(t *testing.T) {
	srv := redistest.New(t)
	app := sessiontest.NewApp(t, redisStore(t, srv, func(c *session.Config) {
		c.Signer = session.NewSigner("session", "k1")
	}))
	c := &sessiontest.Client{T: t, Base: app.URL}
	id := c.Do("POST", "/set?v=a@example.com").Body
	got, mac, ok := strings.Cut(c.Cookie, ".")
	if !ok || got != id || len(mac) != 43 {
		t.Fatalf("cookie %q, want <id>.<43-character MAC> with id %q", c.Cookie, id)
	}
	if keys := srv.Keys(); len(keys) != 1 || keys[0] != srv.Prefix+id {
		t.Errorf("keys = %q, want [%s%s]", keys, srv.Prefix, id)
	}
	// The bare ID, without its signature, is refused.
	bare := &sessiontest.Client{T: t, Base: app.URL, Cookie: id}
	bare.Want("GET", "/get", 200, "")
}

func TestRedisRenewalIsOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t) // counts commands
	var events []string
	app := sessiontest.NewApp(t, redisStore(t, srv, func(c *session.Config) {
		c.RenewGrace = 3 * time.Second
		c.Notify = func(_ context.Context, e session.Event, id, old string) {
			events = append(events, string(e)+":"+id+":"+old)
		}
	}))
	c := &sessiontest.Client{T: t, Base: app.URL}
	c.Do("POST", "/other?v=x")
	oldID := c.Cookie
	srv.Do("SCRIPT", "LOAD", redisstore.CASScript)
	commands(t, srv)
	newID := c.Do("POST", "/login?v=a@example.com").Body
	// The load, then one script: its check of the old key, the new key, the
	// old key's forward.
	if got, want := commands(t, srv), map[string]int{"GET": 2, "EVALSHA": 1, "SET": 2}; !maps.Equal(got, want) {
		t.Errorf("renewal sent %v, want %v", got, want)
	}
	if got, _ := redis.String(srv.Do("GET", srv.Prefix+newID), nil); got != `{"email":"a@example.com","other":"x"}` {
		t.Errorf("new key holds %s", got)
	}
	forward, _ := redis.String(srv.Do("GET", srv.Prefix+oldID), nil)
	if !strings.HasPrefix(forward, `{"__renewed_to":"`) || strings.Contains(forward, newID) {
		t.Errorf("old key holds %s, want the new ID sealed", forward)
	}
	if ttl, _ := redis.Int(srv.Do("PTTL", srv.Prefix+oldID), nil); ttl <= 0 || ttl > 3000 {
		t.Errorf("old key PTTL = %d, want within the 3s grace", ttl)
	}
	want := []string{"created:" + oldID + ":", "renewed:" + newID + ":" + oldID}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

func TestRedisHashedIDs(t *testing.T) {
	srv := redistest.New(t)
	store := redisStore(t, srv, func(c *session.Config) { c.HashIDs = true })
	app := sessiontest.NewApp(t, store)
	c := &sessiontest.Client{T: t, Base: app.URL}
	id := c.Do("POST", "/set?v=a@example.com").Body
	keys := srv.Keys()
	if len(keys) != 1 || keys[0] != srv.Prefix+store.Key(id) || strings.Contains(keys[0], id) || len(store.Key(id)) != 36 {
		t.Fatalf("keys = %q for ID %q, want prefix + a 36-character hash", keys, id)
	}
	c.Want("GET", "/get", 200, "a@example.com")
	// The key alone is no cookie.
	stolen := &sessiontest.Client{T: t, Base: app.URL, Cookie: strings.TrimPrefix(keys[0], srv.Prefix)}
	stolen.Want("GET", "/get", 200, "")

	newID := c.Do("POST", "/login?v=b@example.com").Body
	forward, _ := redis.String(srv.Do("GET", srv.Prefix+store.Key(id)), nil)
	if strings.Contains(forward, newID) || strings.Contains(forward, store.Key(newID)) {
		t.Errorf("the renewed session's old key reveals the new one: %s", forward)
	}
	late := &sessiontest.Client{T: t, Base: app.URL, Cookie: id}
	late.Want("GET", "/get", 200, "") // retired: it never leads to the new session
}

func TestRedisAbsoluteLifetimeCapsTTLs(t *testing.T) {
	srv := redistest.New(t)
	app := sessiontest.NewApp(t, redisStore(t, srv, func(c *session.Config) { c.AbsoluteLifetime = 10 * time.Second }))
	c := &sessiontest.Client{T: t, Base: app.URL}
	id := c.Do("POST", "/set?v=a@example.com").Body
	if ttl, _ := redis.Int(srv.Do("PTTL", srv.Prefix+id), nil); ttl > 10_000 || ttl < 8_000 {
		t.Errorf("PTTL = %d, want the absolute lifetime (10s), not the idle one (100s)", ttl)
	}
	created, _ := redis.String(srv.Do("GET", srv.Prefix+id), nil)
	if !strings.Contains(created, `"__created":`) {
		t.Errorf("value %s lacks the creation time", created)
	}
	// A refresh (due after 1s: 1/100 of 100s) must not push it past the end.
	time.Sleep(1100 * time.Millisecond)
	c.Want("GET", "/get", 200, "a@example.com")
	if ttl, _ := redis.Int(srv.Do("PTTL", srv.Prefix+id), nil); ttl > 10_000 {
		t.Errorf("after a refresh PTTL = %d, want <= 10s", ttl)
	}
}

// TestRenewedIDStaysRetired: a request with the old cookie of a renewed
// session, served by another instance (whose refresh of that key is due),
// still finds the session during the grace period, but does not extend the
// grace: afterwards the old cookie finds nothing, on either instance.
// TestRenewedIDStaysRetired: on every replica, a renewed session's old ID
// leads to nothing, within the grace period and after it; a load that
// refreshes the old key's expiry never lets it outlive the grace period.
func TestRenewedIDStaysRetired(t *testing.T) {
	srv := redistest.New(t)
	grace := func(c *session.Config) { c.RenewGrace = 500 * time.Millisecond }
	a := sessiontest.NewApp(t, redisStore(t, srv, grace))
	b := sessiontest.NewApp(t, redisStore(t, srv, grace)) // never read the old key: its first read refreshes
	c := &sessiontest.Client{T: t, Base: a.URL}
	c.Do("POST", "/other?v=kept")
	old := c.Cookie
	c.Do("POST", "/login?v=a@example.com")
	late := &sessiontest.Client{T: t, Base: b.URL, Cookie: old}
	if r := late.Want("GET", "/get", 200, ""); r.SetCookie != nil {
		t.Errorf("old cookie on another replica: Set-Cookie %v, want none", r.SetCookie)
	}
	if pttl, _ := redis.Int64(srv.Do("PTTL", srv.Prefix+old), nil); pttl > 500 {
		t.Errorf("the refreshing read gave the old key a PTTL of %d ms, beyond its grace", pttl)
	}
	time.Sleep(600 * time.Millisecond)
	for _, base := range []string{a.URL, b.URL} {
		late = &sessiontest.Client{T: t, Base: base, Cookie: old}
		late.Want("GET", "/get", 200, "")
	}
	c.Want("GET", "/get", 200, "a@example.com")
}

// A replica that reads the old key at the very end of its grace period
// deletes it rather than giving it the session lifetime.
func TestRetiredKeyEndsWithItsGrace(t *testing.T) {
	srv := redistest.New(t)
	a := sessiontest.NewApp(t, redisStore(t, srv, nil))
	c := &sessiontest.Client{T: t, Base: a.URL}
	c.Do("POST", "/other?v=kept")
	old := c.Cookie
	c.Do("POST", "/login?v=a@example.com")
	// The grace has ended, but the key is still there (clocks and TTLs
	// differ by a few milliseconds between replicas).
	srv.Do("SET", srv.Prefix+old, fmt.Sprintf(`{"__renewed_to":"x","__renewed_until":"%d"}`, time.Now().Add(-time.Millisecond).UnixMilli()), "PX", 1000)
	other := sessiontest.NewApp(t, redisStore(t, srv, nil)) // its first read of the key refreshes it
	(&sessiontest.Client{T: t, Base: other.URL, Cookie: old}).Want("GET", "/get", 200, "")
	if n, _ := redis.Int(srv.Do("EXISTS", srv.Prefix+old), nil); n != 0 {
		pttl, _ := redis.Int64(srv.Do("PTTL", srv.Prefix+old), nil)
		t.Errorf("the old key lives on after its grace, PTTL %d ms", pttl)
	}
}

func BenchmarkStore(b *testing.B) {
	sessiontest.Bench(b, func(t testing.TB) session.Backend { return openRedis(t, redistest.New(t)) })
}

// A replica that reads a retired ID puts the old key's expiry back once,
// not on every read of it.
func TestRetiredKeyIsRefreshedOnce(t *testing.T) {
	srv := redistest.Start(t) // counts every command
	a := sessiontest.NewApp(t, redisStore(t, srv, nil))
	c := &sessiontest.Client{T: t, Base: a.URL}
	c.Do("POST", "/other?v=kept")
	old := c.Cookie
	c.Do("POST", "/login?v=a@example.com")
	other := sessiontest.NewApp(t, redisStore(t, srv, nil)) // its first read of the key refreshes it
	srv.Do("SCRIPT", "LOAD", redisstore.CASScript)
	commands(t, srv)
	for range 3 {
		(&sessiontest.Client{T: t, Base: other.URL, Cookie: old}).Want("GET", "/get", 200, "")
	}
	// The GETEX, its SET (in a script, whose GET checks the key), then two GETs.
	if got, want := commands(t, srv), map[string]int{"GETEX": 1, "EVALSHA": 1, "GET": 3, "SET": 1}; !maps.Equal(got, want) {
		t.Errorf("three reads of a retired ID sent %v, want %v", got, want)
	}
}
