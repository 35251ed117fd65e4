package sessionstore_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/sessionstore"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

const cookieName = "session"

// newApp serves a few routes over store, the way the service's handlers use
// the gin-contrib Session API.
func newApp(t *testing.T, store *sessionstore.Store) *httptest.Server {
	t.Helper()
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, store))
	load := func(c *gin.Context) (sessions.Session, bool) {
		s := sessions.Default(c)
		s.Get("email") // loads
		if err := sessionstore.Err(s); err != nil {
			c.String(http.StatusServiceUnavailable, "unavailable")
			return nil, false
		}
		return s, true
	}
	save := func(c *gin.Context, s sessions.Session) bool {
		switch err := sessionstore.Save(s); {
		case errors.Is(err, sessionstore.ErrTooLarge):
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
			sessionstore.Renew(s)
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
				sessionstore.Destroy(s)
			}
			if save(c, s) {
				c.String(http.StatusOK, "destroyed")
			}
		}
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// client keeps one cookie, as a browser would, and does not follow redirects.
type client struct {
	t      *testing.T
	base   string
	cookie string // the session cookie's value; "" for none
}

type response struct {
	status    int
	body      string
	setCookie *http.Cookie // the session cookie the response set, if any
}

func (c *client) do(method, path string) response {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, body: string(body)}
	for _, ck := range res.Cookies() {
		if ck.Name == cookieName {
			if r.setCookie != nil {
				c.t.Errorf("%s %s: two session cookies set", method, path)
			}
			r.setCookie = ck
			c.cookie = ck.Value
			if ck.MaxAge < 0 {
				c.cookie = ""
			}
		}
	}
	return r
}

func (c *client) want(method, path string, status int, body string) response {
	c.t.Helper()
	r := c.do(method, path)
	if r.status != status || r.body != body {
		c.t.Fatalf("%s %s = %d %q, want %d %q", method, path, r.status, r.body, status, body)
	}
	return r
}

// kind is one way of keeping sessions, for the shared suite.
type kind struct {
	name    string
	backend func(t testing.TB) sessionstore.Backend // nil: cookie sessions
	signed  bool
}

var kinds = []kind{
	{"redis", redisBackend, false},
	{"redis-signed", redisBackend, true},
	{"dir", dirBackend, false},
	{"dir-signed", dirBackend, true},
	{"cookie", nil, true},
}

func redisBackend(t testing.TB) sessionstore.Backend {
	srv := redistest.New(t)
	return openRedis(t, srv)
}

func openRedis(t testing.TB, srv *redistest.Server) *sessionstore.Redis {
	t.Helper()
	u, err := sessionstore.ParseRedisURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := sessionstore.NewRedis(sessionstore.RedisConfig{URL: u, Prefix: srv.Prefix, Timeout: 500 * time.Millisecond, PoolSize: 8})
	t.Cleanup(func() { b.Close() })
	return b
}

func dirBackend(t testing.TB) sessionstore.Backend {
	b, err := sessionstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func (k kind) store(t testing.TB, edit func(*sessionstore.Config)) *sessionstore.Store {
	t.Helper()
	cfg := sessionstore.Config{
		Lifetime: time.Hour, Permanent: true, Refresh: true,
		Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if k.backend != nil {
		cfg.Backend = k.backend(t)
	}
	if k.signed {
		cfg.Signer = sessionstore.NewSigner("session", "current-secret", "old-secret")
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := sessionstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSuite runs the behaviour every kind of store shares.
func TestSuite(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			t.Run("set get delete", func(t *testing.T) {
				srv := newApp(t, k.store(t, nil))
				c := &client{t: t, base: srv.URL}
				c.want("GET", "/get", 200, "")
				if c.cookie != "" {
					t.Fatal("a visitor who stored nothing got a cookie")
				}
				c.do("POST", "/set?v=alice@example.com")
				c.want("GET", "/get", 200, "alice@example.com")
				c.want("POST", "/delete", 200, "deleted")
				if c.cookie != "" {
					t.Errorf("cookie %q kept after the session was emptied", c.cookie)
				}
				c.want("GET", "/get", 200, "")
			})
			t.Run("two clients are two sessions", func(t *testing.T) {
				srv := newApp(t, k.store(t, nil))
				a, b := &client{t: t, base: srv.URL}, &client{t: t, base: srv.URL}
				a.do("POST", "/set?v=a@example.com")
				b.do("POST", "/set?v=b@example.com")
				a.want("GET", "/get", 200, "a@example.com")
				b.want("GET", "/get", 200, "b@example.com")
				if a.cookie == b.cookie {
					t.Error("both clients got the same cookie")
				}
			})
			t.Run("reads send no cookie", func(t *testing.T) {
				srv := newApp(t, k.store(t, nil))
				c := &client{t: t, base: srv.URL}
				c.do("POST", "/set?v=a@example.com")
				if r := c.want("GET", "/get", 200, "a@example.com"); r.setCookie != nil {
					t.Errorf("read sent Set-Cookie %v", r.setCookie)
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
					srv := newApp(t, k.store(t, func(c *sessionstore.Config) {
						c.Permanent = tc.permanent
						c.Domain, c.Secure, c.SameSite = "127.0.0.1", true, http.SameSiteStrictMode
					}))
					c := &client{t: t, base: srv.URL}
					ck := c.do("POST", "/set?v=a@example.com").setCookie
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
					if ck := c.do("POST", "/set?v=b@example.com").setCookie; want != (ck != nil) {
						t.Errorf("cookie on update = %v, want one: %v", ck, want)
					}
				})
			}
			t.Run("bad cookies start a fresh session", func(t *testing.T) {
				srv := newApp(t, k.store(t, nil))
				good := &client{t: t, base: srv.URL}
				good.do("POST", "/set?v=a@example.com")
				otherKey := k.store(t, func(c *sessionstore.Config) {
					c.Signer = sessionstore.NewSigner("session", "some-other-secret")
				})
				wrongKey := &client{t: t, base: newApp(t, otherKey).URL}
				wrongKey.do("POST", "/set?v=a@example.com")
				for name, value := range map[string]string{
					"garbage":   "%%%not a cookie%%%",
					"empty":     "",
					"oversized": strings.Repeat("a", 5000),
					"truncated": good.cookie[:len(good.cookie)-1],
					"tampered":  flipLast(good.cookie),
					"wrong key": wrongKey.cookie,
				} {
					if !k.signed && name == "wrong key" {
						continue // bare IDs carry no key
					}
					c := &client{t: t, base: srv.URL, cookie: value}
					c.want("GET", "/get", 200, "")
					c.cookie = value
					if c.do("POST", "/set?v=new@example.com"); c.cookie == value || c.cookie == good.cookie {
						t.Errorf("%s: session cookie not replaced", name)
					}
					c.want("GET", "/get", 200, "new@example.com")
				}
				good.want("GET", "/get", 200, "a@example.com")
			})
			for _, how := range []string{"Destroy", "options"} {
				t.Run("destroy with "+how, func(t *testing.T) {
					srv := newApp(t, k.store(t, nil))
					c := &client{t: t, base: srv.URL}
					c.do("POST", "/set?v=a@example.com")
					old := c.cookie
					r := c.want("POST", "/destroy?how="+how, 200, "destroyed")
					if r.setCookie == nil || r.setCookie.MaxAge >= 0 || r.setCookie.Path != "/" {
						t.Fatalf("destroy set cookie %v, want an expired one for Path=/", r.setCookie)
					}
					if k.backend != nil { // a cookie session lives on in any copy of its cookie
						c.cookie = old
						c.want("GET", "/get", 200, "")
					}
				})
			}
			t.Run("Clear then Set keeps the session and its creation time", func(t *testing.T) {
				srv := newApp(t, k.store(t, func(c *sessionstore.Config) { c.AbsoluteLifetime = 3 * time.Second }))
				c := &client{t: t, base: srv.URL}
				start := time.Now()
				c.do("POST", "/set?v=a@example.com")
				time.Sleep(1100 * time.Millisecond)
				r := c.do("POST", "/replace?v=b@example.com")
				if r.status != 200 || r.setCookie != nil && (r.setCookie.MaxAge <= 0 || r.setCookie.MaxAge > 2) {
					t.Fatalf("replace = %d, Set-Cookie %v: want the session kept, ending 3s after its creation", r.status, r.setCookie)
				}
				c.want("GET", "/get", 200, "b@example.com")
				time.Sleep(time.Until(start.Add(3100 * time.Millisecond)))
				c.want("GET", "/get", 200, "") // the absolute end did not move
			})
			t.Run("too large is refused and nothing changes", func(t *testing.T) {
				srv := newApp(t, k.store(t, func(c *sessionstore.Config) { c.MaxSize = 100 }))
				c := &client{t: t, base: srv.URL}
				c.do("POST", "/set?v=a@example.com")
				c.want("POST", "/set?v="+strings.Repeat("x", 100), 413, "too large")
				c.want("GET", "/get", 200, "a@example.com")
			})
			t.Run("renewal keeps the data and retires the old ID", func(t *testing.T) {
				srv := newApp(t, k.store(t, func(c *sessionstore.Config) { c.RenewGrace = 500 * time.Millisecond }))
				c := &client{t: t, base: srv.URL}
				c.do("POST", "/other?v=kept")
				before := c.cookie
				r := c.do("POST", "/login?v=a@example.com")
				if r.status != 200 || r.setCookie == nil || c.cookie == before {
					t.Fatal("login did not issue a new cookie")
				}
				c.want("GET", "/other", 200, "kept")
				c.want("GET", "/get", 200, "a@example.com")
				if k.backend == nil {
					return // a cookie session has no ID to renew
				}
				// Within the grace period a request with the old cookie still
				// finds the session, and is handed the new cookie.
				late := &client{t: t, base: srv.URL, cookie: before}
				if r := late.want("GET", "/get", 200, "a@example.com"); r.setCookie == nil || late.cookie != c.cookie {
					t.Errorf("old cookie within grace: Set-Cookie %v, want the new cookie", r.setCookie)
				}
				time.Sleep(600 * time.Millisecond)
				late = &client{t: t, base: srv.URL, cookie: before}
				late.want("GET", "/get", 200, "")
				c.want("GET", "/get", 200, "a@example.com")
			})
			t.Run("absolute lifetime", func(t *testing.T) {
				// The creation time is kept in whole seconds, so a session
				// ends up to a second early: between 2s and 3s here.
				srv := newApp(t, k.store(t, func(c *sessionstore.Config) {
					c.AbsoluteLifetime = 3 * time.Second
				}))
				c := &client{t: t, base: srv.URL}
				start := time.Now()
				r := c.do("POST", "/set?v=a@example.com")
				if r.setCookie == nil || r.setCookie.MaxAge > 3 || r.setCookie.MaxAge < 2 {
					t.Fatalf("cookie %v, want Max-Age within the absolute lifetime", r.setCookie)
				}
				for time.Since(start) < 1500*time.Millisecond {
					c.want("GET", "/get", 200, "a@example.com") // busy, yet...
					time.Sleep(250 * time.Millisecond)
				}
				time.Sleep(time.Until(start.Add(3100 * time.Millisecond)))
				c.want("GET", "/get", 200, "") // ...over
			})
			if k.signed {
				t.Run("key rotation", func(t *testing.T) {
					var backend sessionstore.Backend
					old := k.store(t, func(c *sessionstore.Config) {
						backend = c.Backend
						c.Signer = sessionstore.NewSigner("session", "old-secret")
					})
					c := &client{t: t, base: newApp(t, old).URL}
					c.do("POST", "/set?v=a@example.com")
					signedWithOld := c.cookie
					// Same data, new key first: the old cookie still works,
					// and comes back signed with the new key.
					rotated := k.store(t, func(cfg *sessionstore.Config) {
						cfg.Backend = backend
						cfg.Signer = sessionstore.NewSigner("session", "new-secret", "old-secret")
					})
					c.base = newApp(t, rotated).URL
					r := c.want("GET", "/get", 200, "a@example.com")
					if r.setCookie == nil || r.setCookie.Value == signedWithOld {
						t.Fatalf("cookie not re-signed: %v", r.setCookie)
					}
					if r := c.want("GET", "/get", 200, "a@example.com"); r.setCookie != nil {
						t.Errorf("cookie re-signed twice")
					}
					// Old key dropped: the old cookie starts afresh.
					dropped := k.store(t, func(cfg *sessionstore.Config) {
						cfg.Backend = backend
						cfg.Signer = sessionstore.NewSigner("session", "new-secret")
					})
					c.base, c.cookie = newApp(t, dropped).URL, signedWithOld
					c.want("GET", "/get", 200, "")
				})
			}
		})
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
