package redisstore_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// byEmail makes a store index sessions by their "email" value.
func byEmail(c *session.Config) { c.OwnerKey = "email" }

// byEmailPruneAlways is byEmail with an index pruned on every write.
func byEmailPruneAlways(c *session.Config) {
	byEmail(c)
	redisstore.SetPruneOneIn(c.Backend.(*redisstore.Backend), 1)
}

// index returns the members of owner's index with their scores (expiry,
// unix ms), and the index key's PTTL.
func index(t *testing.T, srv *redistest.Server, owner string) (map[string]int64, int64) {
	t.Helper()
	key := "by-owner:" + srv.Prefix + owner
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
	app := sessiontest.NewApp(t, redisStore(t, srv, func(c *session.Config) {
		byEmail(c)
		c.RenewGrace = 2 * time.Second
	}))
	a, b := &sessiontest.Client{T: t, Base: app.URL}, &sessiontest.Client{T: t, Base: app.URL}

	before := time.Now()
	idA := a.Do("POST", "/set?v=alice@example.com").Body
	idB := b.Do("POST", "/set?v=alice@Example.COM").Body // domains compare without case
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
	newA := a.Do("POST", "/login?v=bob@example.com").Body
	wantIndexed(t, srv, "alice@example.com", idB)
	wantIndexed(t, srv, "bob@example.com", newA)

	// An email removed, other data kept: the session leaves the index.
	b.Do("POST", "/other?v=x")
	wantIndexed(t, srv, "alice@example.com", idB)
	b.Want("POST", "/delete", 200, "deleted")
	b.Want("GET", "/other", 200, "x")
	wantIndexed(t, srv, "alice@example.com")
	if n, _ := redis.Int(srv.Do("EXISTS", "by-owner:"+srv.Prefix+"alice@example.com"), nil); n != 0 {
		t.Error("an empty index is left behind")
	}

	// gin-contrib's Clear, then a new email: the session moves from
	// bob's index to carol's.
	a.Do("POST", "/replace?v=carol@example.com")
	wantIndexed(t, srv, "bob@example.com")
	wantIndexed(t, srv, "carol@example.com", newA)

	// Destroyed: gone from the index too.
	a.Want("POST", "/destroy", 200, "destroyed")
	wantIndexed(t, srv, "carol@example.com")
}

func TestRedisOwnerIndexPrunesExpiredEntries(t *testing.T) {
	srv := redistest.New(t)
	app := sessiontest.NewApp(t, redisStore(t, srv, byEmailPruneAlways))
	idx := "by-owner:" + srv.Prefix + "a@example.com"
	// Entries whose sessions expired more than a minute ago, and one that
	// expired moments ago (kept: clocks may differ a little).
	now := time.Now()
	srv.Do("ZADD", idx, now.Add(-2*time.Hour).UnixMilli(), "gone1", now.Add(-61*time.Second).UnixMilli(), "gone2", now.Add(-time.Second).UnixMilli(), "recent")
	c := &sessiontest.Client{T: t, Base: app.URL}
	id := c.Do("POST", "/set?v=a@example.com").Body
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
		if err := b.Write(t.Context(), session.Record{Key: fmt.Sprint("k", i), Data: []byte(`{}`), TTL: time.Hour, Owner: "a@example.com"}); err != nil {
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
	app := sessiontest.NewApp(t, redisStore(t, srv, byEmailPruneAlways))
	c := &sessiontest.Client{T: t, Base: app.URL}
	srv.Do("SCRIPT", "LOAD", redisstore.CASScript)
	write := map[string]int{"MULTI": 1, "SET": 1, "ZADD": 1, "ZREMRANGEBYSCORE": 1, "PEXPIRE": 2, "EXEC": 1}
	for _, step := range []struct {
		method, path string
		want         map[string]int
	}{
		{"POST", "/set?v=a@example.com", write},
		{"GET", "/get", map[string]int{"GET": 1}}, // reads stay at one command
		{"GET", "/get", map[string]int{"GET": 1}},
		{"POST", "/set?v=a@example.com", map[string]int{"GET": 1}},
		{"POST", "/delete", map[string]int{"GET": 2, "EVALSHA": 1, "DEL": 1, "ZREM": 1}}, // emptied: deleted if still as loaded (see TestRedisCommandsPerRequest)
	} {
		commands(t, srv)
		c.Do(step.method, step.path)
		if got := commands(t, srv); !maps.Equal(got, step.want) {
			t.Errorf("%s %s sent %v, want %v", step.method, step.path, got, step.want)
		}
	}
}

func TestRedisRefreshKeepsTheIndexInStep(t *testing.T) {
	srv := redistest.Start(t) // counts commands
	app := sessiontest.NewApp(t, redisStore(t, srv, byEmail))
	c := &sessiontest.Client{T: t, Base: app.URL}
	id := c.Do("POST", "/set?v=a@example.com").Body
	// As if written 50s ago: the key and its entry expire in 50s.
	srv.Do("PEXPIRE", srv.Prefix+id, 50_000)
	srv.Do("ZADD", "by-owner:"+srv.Prefix+"a@example.com", time.Now().Add(50*time.Second).UnixMilli(), id)
	time.Sleep(1100 * time.Millisecond) // a refresh is due after 1/100 of the 100s lifetime
	commands(t, srv)
	c.Want("GET", "/get", 200, "a@example.com")
	if got, want := commands(t, srv), map[string]int{"GETEX": 1, "ZADD": 1, "PEXPIRE": 2}; !maps.Equal(got, want) {
		t.Errorf("refreshing read sent %v, want %v", got, want)
	}
	got, _ := index(t, srv, "a@example.com")
	if exp := time.Now().Add(99 * time.Second).UnixMilli(); got[id] < exp {
		t.Errorf("entry expires at %d, want at least %d (pushed back with the key)", got[id], exp)
	}
	commands(t, srv)
	c.Want("GET", "/get", 200, "a@example.com")
	if got, want := commands(t, srv), map[string]int{"GET": 1}; !maps.Equal(got, want) {
		t.Errorf("the next read sent %v, want %v", got, want)
	}

	// A session stored before the index existed joins it at its refresh.
	other := &sessiontest.Client{T: t, Base: app.URL}
	old := other.Do("POST", "/set?v=b@example.com").Body
	srv.Do("DEL", "by-owner:"+srv.Prefix+"b@example.com")
	time.Sleep(1100 * time.Millisecond)
	other.Want("GET", "/get", 200, "b@example.com")
	wantIndexed(t, srv, "b@example.com", old)
	if _, pttl := index(t, srv, "b@example.com"); pttl < 150_000 {
		t.Errorf("index PTTL = %d, want the lifetime plus a minute", pttl)
	}
}

// Finding a whole ID that names no session reads its one key and scans
// nothing.
func TestFindUnknownIDScansNothing(t *testing.T) {
	srv := redistest.Start(t) // counts every command
	store := redisStore(t, srv, byEmail)
	commands(t, srv)
	found, err := store.Find(t.Context(), session.NewID())
	if err != nil || len(found) != 0 {
		t.Fatalf("Find = %+v, %v; want nothing", found, err)
	}
	if got := commands(t, srv); got["SCAN"] != 0 || got["GET"] != 1 {
		t.Errorf("Find sent %v, want one GET (and its PTTL) and no SCAN", got)
	}
}

// Sessions indexed by the previous release, under the email in Unicode
// lower case, are still found by their exact email.
func TestRedisOwnerIndexReadsTheLegacyKey(t *testing.T) {
	srv := redistest.New(t)
	store := redisStore(t, srv, byEmail)
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	id := c.Do("POST", "/set?v=Alice@example.com").Body
	idx := "by-owner:" + srv.Prefix
	score, _ := redis.String(srv.Do("ZSCORE", idx+"Alice@example.com", id), nil)
	srv.Do("DEL", idx+"Alice@example.com")
	srv.Do("ZADD", idx+"alice@example.com", score, id)
	got, err := store.SessionsOf(t.Context(), "Alice@example.com")
	if err != nil || len(got) != 1 || got[0].Key != id {
		t.Errorf("SessionsOf = %+v, %v; want the session indexed under the old key", got, err)
	}
	if other, _ := store.SessionsOf(t.Context(), "alice@example.com"); len(other) != 0 {
		t.Errorf("another address found it: %+v", other)
	}
}

// A large index is read in bounded steps: ZSCAN, and GETs of at most 500
// keys at a time, never one command over the whole index.
func TestRedisOwnerIndexIsReadInSteps(t *testing.T) {
	srv := redistest.Start(t) // counts every command
	store := redisStore(t, srv, byEmail)
	conn, err := srv.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 1200
	expiry := time.Now().Add(time.Hour).UnixMilli()
	for range n {
		id := session.NewID()
		conn.Send("SET", srv.Prefix+id, `{"email":"bulk@example.com"}`, "PX", 3_600_000)
		conn.Send("ZADD", "by-owner:"+srv.Prefix+"bulk@example.com", expiry, id)
	}
	if _, err := conn.Do(""); err != nil {
		t.Fatal(err)
	}
	commands(t, srv)
	got, err := store.SessionsOf(t.Context(), "bulk@example.com")
	if err != nil || len(got) != n {
		t.Fatalf("SessionsOf found %d, %v; want %d", len(got), err, n)
	}
	if c := commands(t, srv); c["ZSCAN"] < 2 || c["ZRANGE"] != 0 {
		t.Errorf("commands %v: want the index read with several ZSCAN steps", c)
	}
}
