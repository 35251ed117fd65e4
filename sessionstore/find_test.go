package sessionstore_test

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/sessionstore"
)

// byEmail makes a store index sessions by their "email" value.
func byEmail(c *sessionstore.Config) { c.OwnerKey = "email" }

// byEmailPruneAlways is byEmail with an index pruned on every write.
func byEmailPruneAlways(c *sessionstore.Config) {
	byEmail(c)
	sessionstore.SetPruneOneIn(c.Backend.(*sessionstore.Redis), 1)
}

// index returns the members of owner's index with their scores (expiry,
// unix ms), and the index key's PTTL.
func index(t *testing.T, srv *redistest.Server, owner string) (map[string]int64, int64) {
	t.Helper()
	key := "by-owner:" + srv.Prefix + strings.ToLower(owner)
	pairs, _ := redis.Strings(srv.Do("ZRANGE", key, 0, -1, "WITHSCORES"), nil)
	got := map[string]int64{}
	for i := 0; i+1 < len(pairs); i += 2 {
		got[pairs[i]], _ = strconv.ParseInt(pairs[i+1], 10, 64)
	}
	pttl, _ := redis.Int64(srv.Do("PTTL", key), nil)
	return got, pttl
}

func wantIndexed(t *testing.T, srv *redistest.Server, owner string, keys ...string) {
	t.Helper()
	got, _ := index(t, srv, owner)
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(keys))) {
		t.Errorf("index of %s = %v, want %q", owner, got, keys)
	}
}

func TestRedisOwnerIndexFollowsSessions(t *testing.T) {
	srv := redistest.New(t)
	app := newApp(t, redisStore(t, srv, func(c *sessionstore.Config) {
		byEmail(c)
		c.RenewGrace = 2 * time.Second
	}))
	a, b := &client{t: t, base: app.URL}, &client{t: t, base: app.URL}

	before := time.Now()
	idA := a.do("POST", "/set?v=alice@example.com").body
	idB := b.do("POST", "/set?v=Alice@Example.com").body // owners compare without case
	wantIndexed(t, srv, "alice@example.com", idA, idB)
	got, pttl := index(t, srv, "alice@example.com")
	if exp := before.Add(100 * time.Second).UnixMilli(); got[idA] < exp || got[idA] > exp+2000 {
		t.Errorf("score %d, want the session's expiry %d", got[idA], exp)
	}
	if pttl < 150_000 || pttl > 160_000 {
		t.Errorf("index PTTL = %d, want the lifetime plus a minute", pttl)
	}
	for _, k := range srv.Keys() {
		if len(strings.TrimPrefix(k, srv.Prefix)) != 43 {
			t.Errorf("scan of the session prefix found %q, not a session", k)
		}
	}

	// Renewal: the new key joins bob's index, the old one leaves alice's.
	newA := a.do("POST", "/login?v=bob@example.com").body
	wantIndexed(t, srv, "alice@example.com", idB)
	wantIndexed(t, srv, "bob@example.com", newA)

	// An email removed, other data kept: the session leaves the index.
	b.do("POST", "/other?v=x")
	wantIndexed(t, srv, "alice@example.com", idB)
	b.want("POST", "/delete", 200, "deleted")
	b.want("GET", "/other", 200, "x")
	wantIndexed(t, srv, "alice@example.com")
	if n, _ := redis.Int(srv.Do("EXISTS", "by-owner:"+srv.Prefix+"alice@example.com"), nil); n != 0 {
		t.Error("an empty index is left behind")
	}

	// gin-contrib's Clear, then a new email: the session moves from
	// bob's index to carol's.
	a.do("POST", "/replace?v=carol@example.com")
	wantIndexed(t, srv, "bob@example.com")
	wantIndexed(t, srv, "carol@example.com", newA)

	// Destroyed: gone from the index too.
	a.want("POST", "/destroy", 200, "destroyed")
	wantIndexed(t, srv, "carol@example.com")
}

func TestRedisOwnerIndexPrunesExpiredEntries(t *testing.T) {
	srv := redistest.New(t)
	app := newApp(t, redisStore(t, srv, byEmailPruneAlways))
	idx := "by-owner:" + srv.Prefix + "a@example.com"
	// Entries whose sessions expired more than a minute ago, and one that
	// expired moments ago (kept: clocks may differ a little).
	now := time.Now()
	srv.Do("ZADD", idx, now.Add(-2*time.Hour).UnixMilli(), "gone1", now.Add(-61*time.Second).UnixMilli(), "gone2", now.Add(-time.Second).UnixMilli(), "recent")
	c := &client{t: t, base: app.URL}
	id := c.do("POST", "/set?v=a@example.com").body
	wantIndexed(t, srv, "a@example.com", id, "recent")
	if _, pttl := index(t, srv, "a@example.com"); pttl <= 0 {
		t.Errorf("index PTTL = %d: an index must always expire", pttl)
	}
}

// TestRedisOwnerIndexPrunesNowAndThen: by default an index is pruned on
// about one write in eight, never on none or all of them.
func TestRedisOwnerIndexPrunesNowAndThen(t *testing.T) {
	srv := redistest.Start(t) // counts every command
	b := openRedis(t, srv)
	commands(t, srv)
	const writes = 400
	for i := range writes {
		if err := b.Write(t.Context(), sessionstore.Record{Key: fmt.Sprint("k", i), Data: []byte(`{}`), TTL: time.Hour, Owner: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	// Binomial(400, 1/8): mean 50, standard deviation 6.6.
	if n := commands(t, srv)["ZREMRANGEBYSCORE"]; n < 20 || n > 90 {
		t.Errorf("%d writes pruned the index %d times, want about %d", writes, n, writes/8)
	}
}

func TestRedisOwnerIndexCommandsPerRequest(t *testing.T) {
	srv := redistest.Start(t) // counts every command
	app := newApp(t, redisStore(t, srv, byEmailPruneAlways))
	c := &client{t: t, base: app.URL}
	write := map[string]int{"MULTI": 1, "SET": 1, "ZADD": 1, "ZREMRANGEBYSCORE": 1, "PEXPIRE": 2, "EXEC": 1}
	for _, step := range []struct {
		method, path string
		want         map[string]int
	}{
		{"POST", "/set?v=a@example.com", write},
		{"GET", "/get", map[string]int{"GET": 1}}, // reads stay at one command
		{"GET", "/get", map[string]int{"GET": 1}},
		{"POST", "/set?v=a@example.com", map[string]int{"GET": 1}},
		{"POST", "/delete", map[string]int{"GET": 1, "MULTI": 1, "DEL": 1, "ZREM": 1, "EXEC": 1}},
	} {
		commands(t, srv)
		c.do(step.method, step.path)
		if got := commands(t, srv); !maps.Equal(got, step.want) {
			t.Errorf("%s %s sent %v, want %v", step.method, step.path, got, step.want)
		}
	}
}

func TestRedisRefreshKeepsTheIndexInStep(t *testing.T) {
	srv := redistest.Start(t) // counts commands
	app := newApp(t, redisStore(t, srv, byEmail))
	c := &client{t: t, base: app.URL}
	id := c.do("POST", "/set?v=a@example.com").body
	// As if written 50s ago: the key and its entry expire in 50s.
	srv.Do("PEXPIRE", srv.Prefix+id, 50_000)
	srv.Do("ZADD", "by-owner:"+srv.Prefix+"a@example.com", time.Now().Add(50*time.Second).UnixMilli(), id)
	time.Sleep(1100 * time.Millisecond) // a refresh is due after 1/100 of the 100s lifetime
	commands(t, srv)
	c.want("GET", "/get", 200, "a@example.com")
	if got, want := commands(t, srv), map[string]int{"GETEX": 1, "ZADD": 1, "PEXPIRE": 2}; !maps.Equal(got, want) {
		t.Errorf("refreshing read sent %v, want %v", got, want)
	}
	got, _ := index(t, srv, "a@example.com")
	if exp := time.Now().Add(99 * time.Second).UnixMilli(); got[id] < exp {
		t.Errorf("entry expires at %d, want at least %d (pushed back with the key)", got[id], exp)
	}
	commands(t, srv)
	c.want("GET", "/get", 200, "a@example.com")
	if got, want := commands(t, srv), map[string]int{"GET": 1}; !maps.Equal(got, want) {
		t.Errorf("the next read sent %v, want %v", got, want)
	}

	// A session stored before the index existed joins it at its refresh.
	other := &client{t: t, base: app.URL}
	old := other.do("POST", "/set?v=b@example.com").body
	srv.Do("DEL", "by-owner:"+srv.Prefix+"b@example.com")
	time.Sleep(1100 * time.Millisecond)
	other.want("GET", "/get", 200, "b@example.com")
	wantIndexed(t, srv, "b@example.com", old)
	if _, pttl := index(t, srv, "b@example.com"); pttl < 150_000 {
		t.Errorf("index PTTL = %d, want the lifetime plus a minute", pttl)
	}
}

func TestFindAndRevoke(t *testing.T) {
	for _, k := range kinds {
		for _, hashed := range []bool{false, true} {
			if hashed && k.backend == nil {
				continue
			}
			name := k.name
			if hashed {
				name += "-hashed"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testFindAndRevoke(t, k, hashed)
			})
		}
	}
}

func testFindAndRevoke(t *testing.T, k kind, hashed bool) {
	store := k.store(t, func(c *sessionstore.Config) {
		byEmail(c)
		c.HashIDs = hashed
	})
	app := newApp(t, store)
	a1, a2, b := &client{t: t, base: app.URL}, &client{t: t, base: app.URL}, &client{t: t, base: app.URL}
	a1.do("POST", "/set?v=a@example.com")
	a2.do("POST", "/set?v=A@example.com")
	b.do("POST", "/set?v=b@example.com")
	ctx := t.Context()
	if !store.CanFind() {
		if k.backend != nil {
			t.Fatal("a server-side store cannot find sessions")
		}
		if _, err := store.SessionsOf(ctx, "a@example.com"); !errors.Is(err, sessionstore.ErrNotOnServer) {
			t.Errorf("SessionsOf on cookie sessions = %v, want ErrNotOnServer", err)
		}
		return
	}

	var all []sessionstore.SessionInfo
	if err := store.Sessions(ctx, func(batch []sessionstore.SessionInfo) error {
		all = append(all, batch...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("Sessions found %d, want 3: %+v", len(all), all)
	}
	for _, si := range all {
		if si.Owner == "" || si.Values["email"] != si.Owner || si.TTL < 59*time.Minute || si.Size == 0 {
			t.Errorf("session %+v", si)
		}
	}

	mine, err := store.SessionsOf(ctx, "A@EXAMPLE.COM")
	if err != nil || len(mine) != 2 {
		t.Fatalf("SessionsOf = %+v, %v; want 2 sessions", mine, err)
	}
	id := strings.SplitN(a1.cookie, ".", 2)[0]
	found, err := store.Find(ctx, a1.cookie) // the cookie as the browser holds it
	if err != nil || len(found) != 1 || found[0].Key != store.Key(id) {
		t.Fatalf("Find(cookie) = %+v, %v", found, err)
	}
	short, err := store.Find(ctx, found[0].Key[:8])
	if err != nil || len(short) != 1 || short[0].Key != found[0].Key {
		t.Errorf("Find(8 characters) = %+v, %v", short, err)
	}
	if _, err := store.Find(ctx, "../x"); err == nil {
		t.Error("Find accepted a ref that is no ID")
	}

	if err := store.Revoke(ctx, found...); err != nil {
		t.Fatal(err)
	}
	a1.want("GET", "/get", 200, "")
	a2.want("GET", "/get", 200, "A@example.com")
	if mine, _ := store.SessionsOf(ctx, "a@example.com"); len(mine) != 1 {
		t.Errorf("after revoking one, SessionsOf = %+v", mine)
	}
}

func TestRevokedSessionsStayEnded(t *testing.T) {
	for _, k := range kinds {
		if k.backend == nil {
			continue // nothing on the server to revoke
		}
		t.Run(k.name, func(t *testing.T) {
			store := k.store(t, byEmail)
			c := &client{t: t, base: newApp(t, store).URL}
			c.do("POST", "/set?v=a@example.com")
			// A request has the session loaded...
			req := httptest.NewRequest("POST", "/", nil)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
			gs, err := store.Get(req, cookieName)
			if err != nil || gs.IsNew {
				t.Fatalf("load: %v, new %v", err, gs.IsNew)
			}
			// ...while the session is revoked elsewhere...
			found, err := store.Find(t.Context(), c.cookie)
			if err != nil || len(found) != 1 {
				t.Fatalf("Find = %v, %v", found, err)
			}
			if err := store.Revoke(t.Context(), found...); err != nil {
				t.Fatal(err)
			}
			// ...then saves a change: the session stays ended.
			gs.Values["email"] = "b@example.com"
			if err := store.Save(req, httptest.NewRecorder(), gs); err != nil {
				t.Fatal(err)
			}
			c.want("GET", "/get", 200, "")
			if mine, _ := store.SessionsOf(t.Context(), "b@example.com"); len(mine) != 0 {
				t.Errorf("the revoked session came back: %+v", mine)
			}
		})
	}
}

// Finding a whole ID that names no session reads its one key and scans
// nothing.
func TestFindUnknownIDScansNothing(t *testing.T) {
	srv := redistest.Start(t) // counts every command
	store := redisStore(t, srv, byEmail)
	commands(t, srv)
	found, err := store.Find(t.Context(), sessionstore.NewID())
	if err != nil || len(found) != 0 {
		t.Fatalf("Find = %+v, %v; want nothing", found, err)
	}
	if got := commands(t, srv); got["SCAN"] != 0 || got["GET"] != 1 {
		t.Errorf("Find sent %v, want one GET (and its PTTL) and no SCAN", got)
	}
}
