// Package sessiontest is the conformance suite of the session stores: Run
// drives a session.Store over a store's Backend through gin-contrib's
// Session API, over HTTP, the way the service's handlers do, and checks
// what every store must do (strict IDs, cookies, renewal, expiry, limits,
// finding and revoking sessions). A store's tests run it in a line:
//
//	func TestConformance(t *testing.T) { sessiontest.Run(t, newBackend) }
//
// The app, client and store helpers are exported for a store's own tests.
package sessiontest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/session"
)

// CookieName is the session cookie of the apps NewApp serves.
const CookieName = "session"

// NewApp serves a few routes over store, the way the service's handlers use
// the gin-contrib Session API: GET /get and /other read the values email
// and other; POST /set?v=, /other?v= set them; POST /replace?v= clears the
// session, then sets email; POST /login?v= renews the session and sets
// email; POST /delete deletes email; POST /destroy ends the session (with
// ?how=options the gin-contrib way, MaxAge -1); a save refused as too
// large answers 413, one with a retired ID 409; GET /inspect answers the
// session's Snapshot as JSON.
func NewApp(t testing.TB, store *session.Store) *httptest.Server {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(sessions.Sessions(CookieName, store))
	load := func(c *gin.Context) (sessions.Session, bool) {
		s := sessions.Default(c)
		s.Get("email") // loads
		if err := session.Err(s); err != nil {
			c.String(http.StatusServiceUnavailable, "unavailable")
			return nil, false
		}
		return s, true
	}
	save := func(c *gin.Context, s sessions.Session) bool {
		switch err := session.Save(s); {
		case errors.Is(err, session.ErrRetired):
			c.String(http.StatusConflict, "retired")
		case errors.Is(err, session.ErrTooLarge):
			c.String(http.StatusRequestEntityTooLarge, "too large")
		case err != nil:
			c.String(http.StatusServiceUnavailable, "unavailable")
		default:
			return true
		}
		return false
	}
	r.GET("/get", func(c *gin.Context) {
		if s, ok := load(c); ok && save(c, s) {
			v, _ := s.Get("email").(string)
			c.String(http.StatusOK, v)
		}
	})
	r.POST("/set", func(c *gin.Context) {
		if s, ok := load(c); ok {
			s.Set("email", c.Query("v"))
			if save(c, s) {
				c.String(http.StatusOK, s.ID())
			}
		}
	})
	r.POST("/replace", func(c *gin.Context) { // gin-contrib's Clear, then a new value
		if s, ok := load(c); ok {
			s.Clear()
			s.Set("email", c.Query("v"))
			if save(c, s) {
				c.String(http.StatusOK, s.ID())
			}
		}
	})
	r.POST("/login", func(c *gin.Context) {
		if s, ok := load(c); ok {
			session.Renew(s)
			s.Set("email", c.Query("v"))
			if save(c, s) {
				c.String(http.StatusOK, s.ID())
			}
		}
	})
	r.POST("/other", func(c *gin.Context) {
		if s, ok := load(c); ok {
			s.Set("other", c.Query("v"))
			if save(c, s) {
				c.String(http.StatusOK, "ok")
			}
		}
	})
	r.GET("/other", func(c *gin.Context) {
		if s, ok := load(c); ok && save(c, s) {
			v, _ := s.Get("other").(string)
			c.String(http.StatusOK, v)
		}
	})
	r.POST("/delete", func(c *gin.Context) {
		if s, ok := load(c); ok {
			s.Delete("email")
			if save(c, s) {
				c.String(http.StatusOK, "deleted")
			}
		}
	})
	r.POST("/destroy", func(c *gin.Context) {
		if s, ok := load(c); ok {
			s.Set("other", "x")
			if c.Query("how") == "options" { // the gin-contrib way
				s.Options(sessions.Options{Path: "/", MaxAge: -1})
			} else {
				session.Destroy(s)
			}
			if save(c, s) {
				c.String(http.StatusOK, "destroyed")
			}
		}
	})
	r.GET("/inspect", func(c *gin.Context) {
		snap, err := store.Inspect(c.Request.Context(), sessions.Default(c))
		if err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.JSON(http.StatusOK, snap)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// Client keeps one cookie, as a browser would, and does not follow
// redirects.
type Client struct {
	T      testing.TB
	Base   string // the app's URL
	Cookie string // the session cookie's value; "" for none
}

// Response is what the app answered.
type Response struct {
	Status    int
	Body      string
	SetCookie *http.Cookie // the session cookie the response set, if any
}

// Do sends a request with the client's cookie, and keeps the cookie the
// response sets (none when it expires it).
func (c *Client) Do(method, path string) Response {
	c.T.Helper()
	req, _ := http.NewRequest(method, c.Base+path, nil)
	if c.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: c.Cookie})
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		c.T.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := Response{Status: res.StatusCode, Body: string(body)}
	for _, ck := range res.Cookies() {
		if ck.Name == CookieName {
			if r.SetCookie != nil {
				c.T.Errorf("%s %s: two session cookies set", method, path)
			}
			r.SetCookie = ck
			c.Cookie = ck.Value
			if ck.MaxAge < 0 {
				c.Cookie = ""
			}
		}
	}
	return r
}

// Want is Do, failing the test unless the answer is status and body.
func (c *Client) Want(method, path string, status int, body string) Response {
	c.T.Helper()
	r := c.Do(method, path)
	if r.Status != status || r.Body != body {
		c.T.Fatalf("%s %s = %d %q, want %d %q", method, path, r.Status, r.Body, status, body)
	}
	return r
}

// NewSigner returns the suite's signer: a current key that signs and an
// old one that still verifies (rotation).
func NewSigner() *session.Signer {
	return session.NewSigner("session", "current-secret", "old-secret")
}

// NewStore returns a Store over backend (nil: cookie sessions, signed with
// NewSigner) with a lifetime of an hour, permanent, refreshed, Path=/,
// HttpOnly and SameSite=Lax; edit, when not nil, changes that first.
func NewStore(t testing.TB, backend session.Backend, edit func(*session.Config)) *session.Store {
	t.Helper()
	cfg := session.Config{
		Backend: backend, Lifetime: time.Hour, Permanent: true, Refresh: true,
		Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if backend == nil {
		cfg.Signer = NewSigner()
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kind is one way of keeping sessions, for the suite.
type kind struct {
	name    string
	backend func(t testing.TB) session.Backend // nil: cookie sessions
	signed  bool
}

func (k kind) store(t testing.TB, edit func(*session.Config)) *session.Store {
	t.Helper()
	var b session.Backend
	if k.backend != nil {
		b = k.backend(t)
	}
	return NewStore(t, b, func(c *session.Config) {
		if k.signed {
			c.Signer = NewSigner()
		}
		if edit != nil {
			edit(c)
		}
	})
}

// Run runs the suite with bare and with signed session IDs against the
// backends newBackend makes: a fresh, empty one for each test, which it
// closes in t.Cleanup. With a nil newBackend it runs against cookie
// sessions.
func Run(t *testing.T, newBackend func(t testing.TB) session.Backend) {
	kinds := []kind{{"cookie", nil, true}}
	if newBackend != nil {
		kinds = []kind{{"bare IDs", newBackend, false}, {"signed", newBackend, true}}
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			run(t, k)
		})
	}
}

// run runs the suite on one kind of store.
func run(t *testing.T, k kind) {
	t.Run("set get delete", func(t *testing.T) {
		srv := NewApp(t, k.store(t, nil))
		c := &Client{T: t, Base: srv.URL}
		c.Want("GET", "/get", 200, "")
		if c.Cookie != "" {
			t.Fatal("a visitor who stored nothing got a cookie")
		}
		c.Do("POST", "/set?v=alice@example.com")
		c.Want("GET", "/get", 200, "alice@example.com")
		c.Want("POST", "/delete", 200, "deleted")
		if c.Cookie != "" {
			t.Errorf("cookie %q kept after the session was emptied", c.Cookie)
		}
		c.Want("GET", "/get", 200, "")
	})
	t.Run("two clients are two sessions", func(t *testing.T) {
		srv := NewApp(t, k.store(t, nil))
		a, b := &Client{T: t, Base: srv.URL}, &Client{T: t, Base: srv.URL}
		a.Do("POST", "/set?v=a@example.com")
		b.Do("POST", "/set?v=b@example.com")
		a.Want("GET", "/get", 200, "a@example.com")
		b.Want("GET", "/get", 200, "b@example.com")
		if a.Cookie == b.Cookie {
			t.Error("both clients got the same cookie")
		}
	})
	t.Run("reads send no cookie", func(t *testing.T) {
		srv := NewApp(t, k.store(t, nil))
		c := &Client{T: t, Base: srv.URL}
		c.Do("POST", "/set?v=a@example.com")
		if r := c.Want("GET", "/get", 200, "a@example.com"); r.SetCookie != nil {
			t.Errorf("read sent Set-Cookie %v", r.SetCookie)
		}
	})
	for _, tc := range []struct {
		name      string
		permanent bool
		maxAge    int
	}{
		{"permanent cookie", true, 3600},
		{"browser-session cookie", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewApp(t, k.store(t, func(c *session.Config) {
				c.Permanent = tc.permanent
				c.Domain, c.Secure, c.SameSite = "127.0.0.1", true, http.SameSiteStrictMode
			}))
			c := &Client{T: t, Base: srv.URL}
			ck := c.Do("POST", "/set?v=a@example.com").SetCookie
			if ck == nil {
				t.Fatal("no cookie set")
			}
			if ck.MaxAge != tc.maxAge {
				t.Errorf("Max-Age = %d, want %d", ck.MaxAge, tc.maxAge)
			}
			if got := !ck.Expires.IsZero(); got != tc.permanent {
				t.Errorf("Expires present = %v, want %v", got, tc.permanent)
			}
			if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "127.0.0.1" {
				t.Errorf("cookie attributes = %+v", ck)
			}
			// Changing the data of a permanent session renews its
			// Max-Age; a cookie session's cookie is its data.
			want := tc.permanent || k.backend == nil
			if ck := c.Do("POST", "/set?v=b@example.com").SetCookie; want != (ck != nil) {
				t.Errorf("cookie on update = %v, want one: %v", ck, want)
			}
		})
	}
	t.Run("bad cookies start a fresh session", func(t *testing.T) {
		srv := NewApp(t, k.store(t, nil))
		good := &Client{T: t, Base: srv.URL}
		good.Do("POST", "/set?v=a@example.com")
		otherKey := k.store(t, func(c *session.Config) {
			c.Signer = session.NewSigner("session", "some-other-secret")
		})
		wrongKey := &Client{T: t, Base: NewApp(t, otherKey).URL}
		wrongKey.Do("POST", "/set?v=a@example.com")
		for name, value := range map[string]string{
			"garbage":   "%%%not a cookie%%%",
			"empty":     "",
			"oversized": strings.Repeat("a", 5000),
			"truncated": good.Cookie[:len(good.Cookie)-1],
			"tampered":  flipLast(good.Cookie),
			"wrong key": wrongKey.Cookie,
		} {
			if !k.signed && name == "wrong key" {
				continue // bare IDs carry no key
			}
			c := &Client{T: t, Base: srv.URL, Cookie: value}
			c.Want("GET", "/get", 200, "")
			c.Cookie = value
			if c.Do("POST", "/set?v=new@example.com"); c.Cookie == value || c.Cookie == good.Cookie {
				t.Errorf("%s: session cookie not replaced", name)
			}
			c.Want("GET", "/get", 200, "new@example.com")
		}
		good.Want("GET", "/get", 200, "a@example.com")
	})
	for _, how := range []string{"Destroy", "options"} {
		t.Run("destroy with "+how, func(t *testing.T) {
			srv := NewApp(t, k.store(t, nil))
			c := &Client{T: t, Base: srv.URL}
			c.Do("POST", "/set?v=a@example.com")
			old := c.Cookie
			r := c.Want("POST", "/destroy?how="+how, 200, "destroyed")
			if r.SetCookie == nil || r.SetCookie.MaxAge >= 0 || r.SetCookie.Path != "/" {
				t.Fatalf("destroy set cookie %v, want an expired one for Path=/", r.SetCookie)
			}
			if k.backend != nil { // a cookie session lives on in any copy of its cookie
				c.Cookie = old
				c.Want("GET", "/get", 200, "")
			}
		})
	}
	t.Run("Clear then Set keeps the session and its creation time", func(t *testing.T) {
		srv := NewApp(t, k.store(t, func(c *session.Config) { c.AbsoluteLifetime = 3 * time.Second }))
		c := &Client{T: t, Base: srv.URL}
		start := time.Now()
		c.Do("POST", "/set?v=a@example.com")
		time.Sleep(1100 * time.Millisecond)
		r := c.Do("POST", "/replace?v=b@example.com")
		// Expired (Max-Age=0 reads as -1) would be the session lost; no
		// Max-Age at all is a permanent cookie's last second, rounded down.
		if r.Status != 200 || r.SetCookie != nil && (r.SetCookie.MaxAge < 0 || r.SetCookie.MaxAge > 2) {
			t.Fatalf("replace = %d, Set-Cookie %v: want the session kept, ending 3s after its creation", r.Status, r.SetCookie)
		}
		c.Want("GET", "/get", 200, "b@example.com")
		time.Sleep(time.Until(start.Add(3100 * time.Millisecond)))
		c.Want("GET", "/get", 200, "") // the absolute end did not move
	})
	t.Run("too large is refused and nothing changes", func(t *testing.T) {
		srv := NewApp(t, k.store(t, func(c *session.Config) { c.MaxSize = 100 }))
		c := &Client{T: t, Base: srv.URL}
		c.Do("POST", "/set?v=a@example.com")
		c.Want("POST", "/set?v="+strings.Repeat("x", 100), 413, "too large")
		c.Want("GET", "/get", 200, "a@example.com")
	})
	t.Run("renewal keeps the data and retires the old ID at once", func(t *testing.T) {
		srv := NewApp(t, k.store(t, func(c *session.Config) { c.RenewGrace = 500 * time.Millisecond }))
		c := &Client{T: t, Base: srv.URL}
		c.Do("POST", "/other?v=kept")
		before := c.Cookie
		r := c.Do("POST", "/login?v=a@example.com")
		if r.Status != 200 || r.SetCookie == nil || c.Cookie == before {
			t.Fatal("login did not issue a new cookie")
		}
		c.Want("GET", "/other", 200, "kept")
		c.Want("GET", "/get", 200, "a@example.com")
		if k.backend == nil {
			return // a cookie session has no ID to renew
		}
		// Within the grace period a request with the old cookie (another
		// tab, or whoever planted the ID) is a visitor without a session:
		// it sees nothing, gets no cookie, and changes nothing.
		late := &Client{T: t, Base: srv.URL, Cookie: before}
		for _, r := range []Response{late.Want("GET", "/get", 200, ""), late.Want("GET", "/other", 200, ""), late.Want("POST", "/set?v=evil@example.com", 409, "retired")} {
			if r.SetCookie != nil {
				t.Errorf("retired cookie within grace: Set-Cookie %v, want none", r.SetCookie)
			}
		}
		c.Want("GET", "/get", 200, "a@example.com")
		c.Want("GET", "/other", 200, "kept")
		// After it the ID is unknown: a new session, with a new ID.
		time.Sleep(600 * time.Millisecond)
		late = &Client{T: t, Base: srv.URL, Cookie: before}
		late.Want("GET", "/get", 200, "")
		if late.Do("POST", "/set?v=new@example.com"); late.Cookie == before || late.Cookie == c.Cookie || late.Cookie == "" {
			t.Errorf("retired cookie after grace: cookie %q, want a new session's", late.Cookie)
		}
		c.Want("GET", "/get", 200, "a@example.com")
	})
	t.Run("absolute lifetime", func(t *testing.T) {
		// The creation time is kept in whole seconds, so a session
		// ends up to a second early: between 2s and 3s here.
		srv := NewApp(t, k.store(t, func(c *session.Config) {
			c.AbsoluteLifetime = 3 * time.Second
		}))
		c := &Client{T: t, Base: srv.URL}
		start := time.Now()
		r := c.Do("POST", "/set?v=a@example.com")
		if r.SetCookie == nil || r.SetCookie.MaxAge > 3 || r.SetCookie.MaxAge < 2 {
			t.Fatalf("cookie %v, want Max-Age within the absolute lifetime", r.SetCookie)
		}
		for time.Since(start) < 1500*time.Millisecond {
			c.Want("GET", "/get", 200, "a@example.com") // busy, yet...
			time.Sleep(250 * time.Millisecond)
		}
		time.Sleep(time.Until(start.Add(3100 * time.Millisecond)))
		c.Want("GET", "/get", 200, "") // ...over
	})
	if k.signed {
		t.Run("key rotation", func(t *testing.T) {
			var backend session.Backend
			old := k.store(t, func(c *session.Config) {
				backend = c.Backend
				c.Signer = session.NewSigner("session", "old-secret")
			})
			c := &Client{T: t, Base: NewApp(t, old).URL}
			c.Do("POST", "/set?v=a@example.com")
			signedWithOld := c.Cookie
			// Same data, new key first: the old cookie still works,
			// and comes back signed with the new key.
			rotated := k.store(t, func(cfg *session.Config) {
				cfg.Backend = backend
				cfg.Signer = session.NewSigner("session", "new-secret", "old-secret")
			})
			c.Base = NewApp(t, rotated).URL
			r := c.Want("GET", "/get", 200, "a@example.com")
			if r.SetCookie == nil || r.SetCookie.Value == signedWithOld {
				t.Fatalf("cookie not re-signed: %v", r.SetCookie)
			}
			if r := c.Want("GET", "/get", 200, "a@example.com"); r.SetCookie != nil {
				t.Errorf("cookie re-signed twice")
			}
			// Old key dropped: the old cookie starts afresh.
			dropped := k.store(t, func(cfg *session.Config) {
				cfg.Backend = backend
				cfg.Signer = session.NewSigner("session", "new-secret")
			})
			c.Base, c.Cookie = NewApp(t, dropped).URL, signedWithOld
			c.Want("GET", "/get", 200, "")
		})
	}
	t.Run("inspect", func(t *testing.T) {
		c := &Client{T: t, Base: NewApp(t, k.store(t, nil)).URL}
		if got := Inspect(t, c); got != (session.Snapshot{}) {
			t.Errorf("no session: %+v, want the zero Snapshot", got)
		}
		c.Do("POST", "/set?v=a@example.com")
		got := Inspect(t, c)
		if got.Values != `{"email":"a@example.com"}` {
			t.Errorf("Values = %q", got.Values)
		}
		if k.backend == nil {
			if got.ID != "" || got.Key != "" || got.TTLKnown {
				t.Errorf("cookie session: %+v, want only Values", got)
			}
			return
		}
		if got.ID == "" || !strings.HasPrefix(c.Cookie, got.ID) {
			t.Errorf("ID = %q, cookie %q", got.ID, c.Cookie)
		}
		if !strings.HasSuffix(got.Key, got.ID) || got.Key == got.ID {
			t.Errorf("Key = %q, want a prefix or directory and the ID", got.Key)
		}
		if !got.TTLKnown || got.TTL <= time.Hour-time.Minute || got.TTL > time.Hour {
			t.Errorf("TTL = %v (known %v), want just under the hour's lifetime", got.TTL, got.TTLKnown)
		}
	})
	for _, hashed := range []bool{false, true} {
		name := "find and revoke"
		if hashed {
			name += " hashed IDs"
		}
		t.Run(name, func(t *testing.T) {
			testFindAndRevoke(t, k.store(t, func(c *session.Config) {
				c.OwnerKey = "email"
				c.HashIDs = hashed
			}), k.backend != nil)
		})
	}
	if k.backend != nil {
		t.Run("revoked sessions stay ended", func(t *testing.T) {
			testRevokedStayEnded(t, k.store(t, func(c *session.Config) { c.OwnerKey = "email" }))
		})
		t.Run("concurrent requests", func(t *testing.T) { testConcurrent(t, k) })
	}
}

// Inspect asks the app for the client's session's Snapshot.
func Inspect(t testing.TB, c *Client) session.Snapshot {
	t.Helper()
	r := c.Do("GET", "/inspect")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /inspect = %d %s", r.Status, r.Body)
	}
	var snap session.Snapshot
	if err := json.Unmarshal([]byte(r.Body), &snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// testFindAndRevoke: a server-side store finds sessions, all or by owner
// (without regard to case) or by ID, and revokes them (one that cannot
// list its keys: by ID only); cookie sessions cannot be found.
func testFindAndRevoke(t *testing.T, store *session.Store, serverSide bool) {
	app := NewApp(t, store)
	a1, a2, b := &Client{T: t, Base: app.URL}, &Client{T: t, Base: app.URL}, &Client{T: t, Base: app.URL}
	a1.Do("POST", "/set?v=a@example.com")
	a2.Do("POST", "/set?v=a@EXAMPLE.com") // domains compare without case, nothing else
	for _, other := range []string{
		"A@example.com",              // another address: local parts compare exactly
		"kelvin@example.com",         // and
		"%E2%84%AAelvin@example.com", // the Kelvin sign, which Unicode case folding makes k
	} {
		(&Client{T: t, Base: app.URL}).Do("POST", "/set?v="+other)
	}
	b.Do("POST", "/set?v=b@example.com")
	ctx := t.Context()
	if !serverSide {
		if _, err := store.SessionsOf(ctx, "a@example.com"); !errors.Is(err, session.ErrNotOnServer) {
			t.Errorf("SessionsOf on cookie sessions = %v, want ErrNotOnServer", err)
		}
		if _, err := store.Find(ctx, a1.Cookie); !errors.Is(err, session.ErrNotOnServer) {
			t.Errorf("Find on cookie sessions = %v, want ErrNotOnServer", err)
		}
		return
	}
	if !store.CanList() { // a store that cannot walk its keys still finds and ends a session by its ID
		if _, err := store.SessionsOf(ctx, "a@example.com"); !errors.Is(err, session.ErrCannotList) {
			t.Errorf("SessionsOf = %v, want ErrCannotList", err)
		}
		found, err := store.Find(ctx, a1.Cookie)
		if err != nil || len(found) != 1 || found[0].Owner != "a@example.com" {
			t.Fatalf("Find(cookie) = %+v, %v", found, err)
		}
		if err := store.Revoke(ctx, found...); err != nil {
			t.Fatal(err)
		}
		a1.Want("GET", "/get", 200, "")
		a2.Want("GET", "/get", 200, "a@EXAMPLE.com")
		return
	}

	var all []session.SessionInfo
	if err := store.Sessions(ctx, func(batch []session.SessionInfo) error {
		all = append(all, batch...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("Sessions found %d, want 6: %+v", len(all), all)
	}
	for _, si := range all {
		if si.Owner == "" || !strings.EqualFold(si.Values["email"].(string), si.Owner) || si.TTL < 59*time.Minute || si.Size == 0 {
			t.Errorf("session %+v", si)
		}
	}

	mine, err := store.SessionsOf(ctx, "a@Example.Com")
	if err != nil || len(mine) != 2 {
		t.Fatalf("SessionsOf = %+v, %v; want 2 sessions", mine, err)
	}
	if kelvin, err := store.SessionsOf(ctx, "kelvin@example.com"); err != nil || len(kelvin) != 1 || kelvin[0].Owner != "kelvin@example.com" {
		t.Errorf("SessionsOf(kelvin@example.com) = %+v, %v; want only its own session", kelvin, err)
	}
	id := strings.SplitN(a1.Cookie, ".", 2)[0]
	found, err := store.Find(ctx, a1.Cookie) // the cookie as the browser holds it
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
	a1.Want("GET", "/get", 200, "")
	a2.Want("GET", "/get", 200, "a@EXAMPLE.com")
	if mine, _ := store.SessionsOf(ctx, "a@example.com"); len(mine) != 1 {
		t.Errorf("after revoking one, SessionsOf = %+v", mine)
	}
}

// testRevokedStayEnded: a session revoked while a request has it loaded is
// not written back to life when that request saves a change.
func testRevokedStayEnded(t *testing.T, store *session.Store) {
	c := &Client{T: t, Base: NewApp(t, store).URL}
	c.Do("POST", "/set?v=a@example.com")
	// A request has the session loaded...
	req := httptest.NewRequest("POST", "/", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: c.Cookie})
	gs, err := store.Get(req, CookieName)
	if err != nil || gs.IsNew {
		t.Fatalf("load: %v, new %v", err, gs.IsNew)
	}
	// ...while the session is revoked elsewhere...
	found, err := store.Find(t.Context(), c.Cookie)
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
	c.Want("GET", "/get", 200, "")
	if mine, _ := store.SessionsOf(t.Context(), "b@example.com"); len(mine) != 0 {
		t.Errorf("the revoked session came back: %+v", mine)
	}
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}
