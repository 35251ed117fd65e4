package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/internal/sqltest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/dirstore"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
	"github.com/sessionsvc/sessionsvc/session/sqlstore"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

const (
	prompt  = `<h1>Welcome! Please enter your email <a href="/set_email">here.</a></h1>`
	deleted = `<h1>Session deleted!</h1>`
)

// testServer is the service over a real store, with its log captured.
type testServer struct {
	*httptest.Server
	redis *redistest.Server // nil unless the store is Redis
	log   *bytes.Buffer
	// details serves the readiness details on a listener of its own, as
	// the service does beside its metrics.
	details *httptest.Server
}

// newTestServer serves over a store of the given kind: "redis" (REDIS_URL
// or a private redis-server), "redis-private" (always a private one, which
// the test may stop), "filesystem" or "cookie".
func newTestServer(t *testing.T, kind string) *testServer {
	t.Helper()
	return newTestServerWith(t, kind, Deps{})
}

// newTestServerWith is newTestServer with some Deps set by the test.
func newTestServerWith(t *testing.T, kind string, deps Deps) *testServer {
	t.Helper()
	ts := &testServer{log: &bytes.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(ts.log, nil))
	cfg := session.Config{
		Lifetime: time.Hour, Permanent: true, Refresh: true, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		MaxSize: 200, Notify: SessionEventLogger(logger, []byte("log key")), OwnerKey: "email",
	}
	switch kind {
	case "redis", "redis-private":
		if kind == "redis" {
			ts.redis = redistest.New(t)
		} else {
			ts.redis = redistest.Start(t)
		}
		u, err := config.ParseRedisURL(ts.redis.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Backend = redisstore.New(redisstore.Config{URL: redisstore.URL(u), Prefix: ts.redis.Prefix, Timeout: 300 * time.Millisecond, PoolSize: 4})
	case "sqlite":
		u, err := config.ParseSQLURL(sqltest.SQLite(t))
		if err != nil {
			t.Fatal(err)
		}
		b, err := sqlstore.New(sqlstore.Config{Dialect: u.Dialect, DSN: u.DSN, Prefix: "session:"})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Backend = b
	case "filesystem":
		d, err := dirstore.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Backend = d
	case "cookie":
		cfg.Signer = session.NewSigner("cookie", "test secret")
	}
	store, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	deps.Logger = logger
	deps.Store = store
	deps.StoreName = strings.TrimSuffix(kind, "-private")
	deps.CookieName = "session"
	deps.LogKey = []byte("log key")
	if deps.Readiness == nil {
		deps.Readiness = NewReadiness(store, deps.StoreName, logger)
	}
	h, err := NewServer(deps)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = httptest.NewServer(h)
	t.Cleanup(ts.Close)
	ts.details = httptest.NewServer(deps.Readiness)
	t.Cleanup(ts.details.Close)
	return ts
}

// sessionKeys lists the Redis keys of live sessions, leaving out the
// forward pointers that renewed sessions leave behind for a few seconds.
func (ts *testServer) sessionKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for _, k := range ts.redis.Keys() {
		v, err := redis.String(ts.redis.Do("GET", k), nil)
		if err != nil && err != redis.ErrNil {
			t.Fatal(err)
		}
		if v != "" && !strings.HasPrefix(v, `{"__renewed_to":`) {
			keys = append(keys, k)
		}
	}
	return keys
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects, so each response can be checked.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) get(path string) page {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.do(http.MethodPost, path, form)
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	return b.doWith(method, path, form, nil)
}

// doWith is do with extra request headers.
func (b *browser) doWith(method, path string, form url.Values, header http.Header) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") && res.ContentLength != int64(len(data)) {
		b.t.Errorf("%s %s: a %d-byte page with Content-Length %d", method, path, len(data), res.ContentLength)
	}
	return page{res.StatusCode, res.Header, string(data)}
}

func (b *browser) cookie() string {
	u, _ := url.Parse(b.base)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == "session" {
			return c.Value
		}
	}
	return ""
}

// typed are the headers of a browser's request for a URL typed into the
// address bar or bookmarked.
var typed = http.Header{"Sec-Fetch-Site": {"none"}}

func wantPage(t *testing.T, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, status, p.body)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page lacks %q:\n%s", s, p.body)
		}
	}
}

func TestWalkthrough(t *testing.T) {
	for _, kind := range []string{"redis", "filesystem", "cookie"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, kind)
			b := newBrowser(t, srv.URL)

			p := b.get("/")
			if p.status != http.StatusFound || p.header.Get("Location") != "/get_email" {
				t.Fatalf("GET / = %d to %q, want 302 to /get_email", p.status, p.header.Get("Location"))
			}
			wantPage(t, b.get("/get_email"), 200, prompt, "<!doctype html>", `<link rel="stylesheet" href="/static/style.css">`)
			if b.cookie() != "" {
				t.Fatal("a visitor who stored nothing got a cookie")
			}
			wantPage(t, b.get("/set_email"), 200,
				`<label for="email">Enter your email address:</label>`,
				`type="email" id="email" name="email_address"`, "required",
				`<button type="submit">Submit</button>`)

			p = b.post("/set_email", url.Values{"email_address": {"alice@example.com"}})
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/get_email" {
				t.Fatalf("POST /set_email = %d to %q, want 303 to /get_email", p.status, p.header.Get("Location"))
			}
			wantPage(t, b.get("/get_email"), 200, "<h1>Welcome alice@example.com!</h1>")

			// A second browser is a second session.
			other := newBrowser(t, srv.URL)
			wantPage(t, other.get("/get_email"), 200, prompt)
			other.post("/set_email", url.Values{"email_address": {"bob@example.com"}})
			wantPage(t, other.get("/get_email"), 200, "<h1>Welcome bob@example.com!</h1>")
			wantPage(t, b.get("/get_email"), 200, "<h1>Welcome alice@example.com!</h1>")
			if srv.redis != nil {
				keys := srv.sessionKeys(t)
				if len(keys) != 2 {
					t.Fatalf("Redis keys = %q, want one per browser", keys)
				}
				for _, k := range keys {
					v, _ := redis.String(srv.redis.Do("GET", k), nil)
					if v != `{"email":"alice@example.com"}` && v != `{"email":"bob@example.com"}` {
						t.Errorf("GET %s = %s", k, v)
					}
				}
			}

			// Opened from the address bar, as a browser says.
			wantPage(t, b.doWith("GET", "/delete_email", nil, typed), 200, deleted)
			wantPage(t, b.get("/get_email"), 200, prompt)
			wantPage(t, other.post("/delete_email", nil), 200, deleted)
			wantPage(t, other.get("/get_email"), 200, prompt)
			if srv.redis != nil {
				if keys := srv.sessionKeys(t); len(keys) != 0 {
					t.Errorf("keys left after both deleted: %q", keys)
				}
			}
		})
	}
}

func TestSetEmailValidation(t *testing.T) {
	srv := newTestServer(t, "redis")
	for _, tc := range []struct {
		name, email string
		status      int
		contains    []string
	}{
		{"missing", "", 400, []string{"Please enter your email address.", `aria-invalid="true"`}},
		{"not an address", "alice", 400, []string{"That is not a valid email address.", `value="alice"`}},
		{"display name", "Alice <a@example.com>", 400, []string{"That is not a valid email address.", `value="Alice &lt;a@example.com&gt;"`}},
		{"two addresses", "a@example.com, b@example.com", 400, []string{"That is not a valid email address."}},
		{"too long", strings.Repeat("a", 250) + "@x.org", 400, []string{"too long"}},
		{"far too long: a page over 2 KiB", strings.Repeat("a", 3000) + "@x.org", 400, []string{"too long", strings.Repeat("a", 3000)}},
		{"escaped", `<script>alert(1)</script>`, 400, []string{`value="&lt;script&gt;alert(1)&lt;/script&gt;"`}},
		{"quoted local part", `"<script>"@x.org`, 303, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			p := b.post("/set_email", url.Values{"email_address": {tc.email}})
			wantPage(t, p, tc.status, tc.contains...)
			if strings.Contains(p.body, "<script>") {
				t.Error("unescaped <script> in page")
			}
			if tc.status == 400 && b.cookie() != "" {
				t.Error("a rejected email set a cookie")
			}
		})
	}
	if n := len(srv.sessionKeys(t)); n != 1 {
		t.Errorf("%d keys after one valid email", n)
	}
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {`"<script>"@x.org`}})
	p := b.get("/get_email")
	wantPage(t, p, 200, `<h1>Welcome &#34;&lt;script&gt;&#34;@x.org!</h1>`)
}

// TestSetEmailRefusesHiddenCharacters: an email with a character that does
// not show as itself (a control, a bidi override, a zero-width or other
// format character, a line or paragraph separator) would mislead whoever
// reads it in a page, a log or the sessions command; the form refuses it
// as an invalid address and stores nothing.
func TestSetEmailRefusesHiddenCharacters(t *testing.T) {
	srv := newTestServer(t, "filesystem")
	for _, tc := range []struct {
		name, email string
		status      int
	}{
		{"tab in a quoted local part", "\"a\tb\"@x.org", 400},
		{"C1 control", "a\u009b@x.org", 400},
		{"next line", "a\u0085b@x.org", 400},
		{"bidi override", "evil\u202e@x.org", 400},
		{"bidi override in the domain", "a@x\u202e.org", 400},
		{"bidi isolate", "a\u2066b@x.org", 400},
		{"Arabic letter mark", "a\u061cb@x.org", 400},
		{"zero-width space", "a\u200bb@x.org", 400},
		{"zero-width non-joiner", "a\u200cb@x.org", 400},
		{"zero-width joiner", "a\u200db@x.org", 400},
		{"word joiner", "a\u2060b@x.org", 400},
		{"byte order mark", "a\ufeffb@x.org", 400},
		{"soft hyphen", "a\u00adb@x.org", 400},
		{"line separator", "a\u2028b@x.org", 400},
		{"paragraph separator", "a\u2029b@x.org", 400},
		{"carriage return in a quoted local part", "\"a\rb\"@x.org", 400},

		{"letters beyond ASCII", "josé@exämple.com", 303},
		{"space in a quoted local part", `"john doe"@example.com`, 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			p := b.post("/set_email", url.Values{"email_address": {tc.email}})
			if tc.status == 303 {
				wantPage(t, p, 303)
				return
			}
			wantPage(t, p, 400, "That is not a valid email address.")
			if b.cookie() != "" {
				t.Error("a refused email set a cookie")
			}
		})
	}
}

func TestLimits(t *testing.T) {
	srv := newTestServer(t, "redis")
	b := newBrowser(t, srv.URL)
	p := b.post("/set_email", url.Values{"email_address": {"a@example.com"}, "pad": {strings.Repeat("x", 17<<10)}})
	wantPage(t, p, http.StatusRequestEntityTooLarge, "Request too large")
	if b.cookie() != "" || len(srv.sessionKeys(t)) != 0 {
		t.Error("an oversized form stored something")
	}
}

func TestStoreDown(t *testing.T) {
	srv := newTestServer(t, "redis-private")
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	srv.redis.Stop()

	for _, req := range []struct{ method, path string }{{"GET", "/get_email"}, {"POST", "/set_email"}, {"POST", "/delete_email"}, {"GET", "/delete_email"}} {
		p := b.doWith(req.method, req.path, url.Values{"email_address": {"b@example.com"}}, typed)
		wantPage(t, p, http.StatusServiceUnavailable, "Temporarily unavailable")
		if p.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: no Retry-After", req.method, req.path)
		}
	}
	wantPage(t, b.get("/set_email"), 200, "Enter your email address:")
	wantPage(t, b.get("/healthz"), 200)
	if p := b.get("/readyz"); p.status != 503 || p.body != `{"status":"unavailable"}` {
		t.Errorf("/readyz = %d %s", p.status, p.body)
	}
	p := newBrowser(t, srv.details.URL).get("/readyz")
	var body map[string]any
	json.Unmarshal([]byte(p.body), &body)
	if p.status != 503 || body["status"] != "unavailable" || body["store"] != "redis" || body["error"] == nil || body["error"] == "" {
		t.Errorf("readiness details = %d %s", p.status, p.body)
	}
	if strings.Contains(srv.log.String(), `"status":500`) {
		t.Error("a request answered 500")
	}

	srv.redis.Restart() // empty, as after a crash without persistence
	wantPage(t, b.get("/get_email"), 200, prompt)
	b.post("/set_email", url.Values{"email_address": {"c@example.com"}})
	wantPage(t, b.get("/get_email"), 200, "<h1>Welcome c@example.com!</h1>")
	if p := b.get("/readyz"); p.status != 200 {
		t.Errorf("/readyz after recovery = %d %s", p.status, p.body)
	}
}

func TestHeadersAndErrors(t *testing.T) {
	srv := newTestServer(t, "filesystem")
	b := newBrowser(t, srv.URL)
	for _, tc := range []struct {
		method, path string
		status       int
		noStore      bool
		vary         string // pages in the visitor's language and theme vary
	}{
		{"GET", "/get_email", 200, true, "Cookie, Accept-Language"},
		{"GET", "/set_email", 200, false, "Cookie, Accept-Language"},
		{"GET", "/static/style.css", 200, false, ""},
		{"GET", "/static/favicon.svg", 200, false, ""},
		{"GET", "/nowhere", 404, false, "Cookie, Accept-Language"},
		{"PUT", "/get_email", 405, false, "Cookie, Accept-Language"},
	} {
		p := b.do(tc.method, tc.path, nil)
		if p.status != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, p.status, tc.status)
		}
		for h, want := range map[string]string{
			"Content-Security-Policy": contentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		} {
			if got := p.header.Get(h); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, h, got, want)
			}
		}
		if got := p.header.Get("Cache-Control") == "no-store"; got != tc.noStore {
			t.Errorf("%s %s: Cache-Control: no-store = %v, want %v", tc.method, tc.path, got, tc.noStore)
		}
		if got := strings.Join(p.header.Values("Vary"), ", "); got != tc.vary {
			t.Errorf("%s %s: Vary = %q, want %q", tc.method, tc.path, got, tc.vary)
		}
	}
}

// TestStaticServesFilesOnly: /static/ serves the embedded files and
// nothing else; a directory gets the 404 page, never a listing.
func TestStaticServesFilesOnly(t *testing.T) {
	srv := newTestServer(t, "filesystem")
	b := newBrowser(t, srv.URL)
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
	}{
		{"GET", "/static/style.css", 200, "text/css; charset=utf-8"},
		{"HEAD", "/static/style.css", 200, "text/css; charset=utf-8"},
		{"GET", "/static/favicon.svg", 200, "image/svg+xml"},
		{"GET", "/static/", 404, "text/html; charset=utf-8"},
		{"GET", "/static/nope.css", 404, "text/html; charset=utf-8"},
	} {
		p := b.do(tc.method, tc.path, nil)
		if p.status != tc.status || p.header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, p.status, p.header.Get("Content-Type"), tc.status, tc.contentType)
		}
		if p.header.Get("Content-Security-Policy") != contentSecurityPolicy {
			t.Errorf("%s %s: no Content-Security-Policy", tc.method, tc.path)
		}
		if strings.Contains(p.body, `<a href="favicon.svg">`) {
			t.Errorf("%s %s lists the directory:\n%s", tc.method, tc.path, p.body)
		}
		if tc.status == 404 && tc.method == "GET" {
			wantPage(t, p, 404, "Page not found")
		}
	}
}

// TestNoRedirectFromThePath: a path with a trailing slash (or in another
// case) gets the 404 page with the security headers, not a redirect, and
// X-Forwarded-Prefix changes nothing.
func TestNoRedirectFromThePath(t *testing.T) {
	srv := newTestServer(t, "filesystem")
	b := newBrowser(t, srv.URL)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/set_email/"},
		{"GET", "/get_email/"},
		{"POST", "/set_email/"},
		{"GET", "/SET_EMAIL"},
		{"GET", "/static"},
	} {
		for _, prefix := range []string{"", "//evil.example", "/app"} {
			var header http.Header
			if prefix != "" {
				header = http.Header{"X-Forwarded-Prefix": {prefix}}
			}
			p := b.doWith(tc.method, tc.path, url.Values{"email_address": {"a@example.com"}}, header)
			if p.status != http.StatusNotFound || p.header.Get("Location") != "" {
				t.Errorf("%s %s (X-Forwarded-Prefix %q) = %d to %q, want 404 and no redirect", tc.method, tc.path, prefix, p.status, p.header.Get("Location"))
				continue
			}
			wantPage(t, p, http.StatusNotFound, "Page not found")
			for h, want := range map[string]string{
				"Content-Security-Policy": contentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
			} {
				if got := p.header.Get(h); got != want {
					t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, h, got, want)
				}
			}
		}
	}
}

func TestRequestLog(t *testing.T) {
	srv := newTestServer(t, "redis")
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	req, _ := http.NewRequest("GET", srv.URL+"/get_email", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	res, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("X-Request-ID echoed as %q", got)
	}

	lines := strings.Split(strings.TrimSpace(srv.log.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want: session created, 2 requests:\n%s", len(lines), srv.log)
	}
	var created, last map[string]any
	json.Unmarshal([]byte(lines[0]), &created)
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
		t.Fatal(err)
	}
	if created["msg"] != "session created" || created["session"] != last["session"] || created["request_id"] == nil {
		t.Errorf("creation logged as %v", created)
	}
	for k, want := range map[string]any{"msg": "request", "method": "GET", "route": "/get_email", "status": 200.0, "request_id": "abc-123"} {
		if last[k] != want {
			t.Errorf("log %s = %v, want %v", k, last[k], want)
		}
	}
	if n := strings.Count(lines[2], `"request_id"`); n != 1 {
		t.Errorf("request line names its request ID %d times: %s", n, lines[2])
	}
	if sid, _ := last["session"].(string); len(sid) != 12 {
		t.Errorf("log session = %q, want a 12-digit hash", last["session"])
	}
	if id := b.cookie(); strings.Contains(srv.log.String(), id) {
		t.Error("the raw session ID is in the log")
	}
}

func TestCrossOriginRequestsAreRefused(t *testing.T) {
	csrf := http.NewCrossOriginProtection()
	if err := csrf.AddTrustedOrigin("https://partner.example"); err != nil {
		t.Fatal(err)
	}
	srv := newTestServerWith(t, "redis", Deps{CrossOrigin: csrf})
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	welcome := "<h1>Welcome a@example.com!</h1>"
	email := url.Values{"email_address": {"evil@example.com"}}
	for _, tc := range []struct {
		name         string
		method, path string
		header       http.Header
		status       int
	}{
		{"cross-site POST set_email", "POST", "/set_email", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"cross-origin POST by Origin", "POST", "/set_email", http.Header{"Origin": {"https://evil.example"}}, 403},
		{"cross-site POST delete_email", "POST", "/delete_email", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"cross-site POST delete_session", "POST", "/delete_session", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"cross-site GET delete_email", "GET", "/delete_email", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"sibling-site GET delete_email", "GET", "/delete_email", http.Header{"Sec-Fetch-Site": {"same-site"}}, 403},
		{"cross-site GET get_email", "GET", "/get_email", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 200},
		{"same-origin POST", "POST", "/set_email", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {srv.URL}}, 303},
		{"trusted origin POST", "POST", "/set_email", http.Header{"Origin": {"https://partner.example"}}, 303},
	} {
		p := b.doWith(tc.method, tc.path, email, tc.header)
		if p.status != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, p.status, tc.status)
		}
		if tc.status == 403 {
			if !strings.Contains(p.body, "nothing was changed") {
				t.Errorf("%s: page %s", tc.name, p.body)
			}
			wantPage(t, b.get("/get_email"), 200, welcome)
		}
		if tc.status == 303 { // put the original back for the next case
			b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
		}
	}
}

// TestDeleteEmailGETNeedsProofOfOrigin: GET /delete_email deletes only
// when the request shows it came from this service: Sec-Fetch-Site, or else
// Origin, or else Referer. Shown to come from elsewhere: 403. Nothing
// shown: nothing deleted, a page with a button that posts instead.
func TestDeleteEmailGETNeedsProofOfOrigin(t *testing.T) {
	srv := newTestServer(t, "redis")
	proxied := newTestServerWith(t, "redis", Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	const (
		kept    = "kept"
		gone    = "deleted"
		confirm = "asked"
	)
	for _, tc := range []struct {
		name   string
		srv    *testServer
		header http.Header
		status int
		want   string
	}{
		{"typed or bookmarked", srv, http.Header{"Sec-Fetch-Site": {"none"}}, 200, gone},
		{"a link on this site", srv, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Referer": {"https://evil.example/"}}, 200, gone},
		{"a link on another site", srv, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, kept},
		{"a link on a sibling site", srv, http.Header{"Sec-Fetch-Site": {"same-site"}}, 403, kept},
		{"another site, whatever Origin says", srv, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {srv.URL}}, 403, kept},
		{"no Sec-Fetch-Site, this Origin", srv, http.Header{"Origin": {srv.URL}}, 200, gone},
		{"no Sec-Fetch-Site, another Origin", srv, http.Header{"Origin": {"https://evil.example"}}, 403, kept},
		{"no Sec-Fetch-Site, Origin null", srv, http.Header{"Origin": {"null"}}, 403, kept},
		{"no Sec-Fetch-Site, another Origin, this Referer", srv, http.Header{"Origin": {"https://evil.example"}, "Referer": {srv.URL + "/get_email"}}, 403, kept},
		{"no Sec-Fetch-Site, this Referer", srv, http.Header{"Referer": {srv.URL + "/get_email"}}, 200, gone},
		{"no Sec-Fetch-Site, another Referer", srv, http.Header{"Referer": {"https://evil.example/page"}}, 403, kept},
		{"no Sec-Fetch-Site, this host over another scheme", srv, http.Header{"Referer": {strings.Replace(srv.URL, "http://", "https://", 1) + "/"}}, 403, kept},
		{"no Sec-Fetch-Site, a Referer that is no URL", srv, http.Header{"Referer": {"get_email"}}, 403, kept},
		{"nothing tells", srv, nil, 200, confirm},
		{"HTTPS through a trusted proxy, this Origin", proxied, http.Header{"X-Forwarded-Proto": {"https"}, "Origin": {strings.Replace(proxied.URL, "http://", "https://", 1)}}, 200, gone},
		{"HTTPS through a trusted proxy, the http Origin", proxied, http.Header{"X-Forwarded-Proto": {"https"}, "Origin": {proxied.URL}}, 403, kept},
		{"HTTPS claimed by an untrusted peer", srv, http.Header{"X-Forwarded-Proto": {"https"}, "Origin": {strings.Replace(srv.URL, "http://", "https://", 1)}}, 403, kept},
		{"HTTPS through a trusted proxy, nothing tells", proxied, http.Header{"X-Forwarded-Proto": {"https"}}, 200, confirm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, tc.srv.URL)
			b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
			p := b.doWith("GET", "/delete_email", nil, tc.header)
			if p.status != tc.status {
				t.Fatalf("GET /delete_email = %d, want %d:\n%s", p.status, tc.status, p.body)
			}
			if p.header.Get("Cache-Control") != "no-store" {
				t.Error("the answer may be cached")
			}
			switch tc.want {
			case gone:
				wantPage(t, p, 200, deleted)
				wantPage(t, b.get("/get_email"), 200, prompt)
			case kept:
				wantPage(t, p, 403, "nothing was changed")
				wantPage(t, b.get("/get_email"), 200, "<h1>Welcome a@example.com!</h1>")
			case confirm:
				wantPage(t, p, 200, "<h1>Delete your email?</h1>", `<form method="post" action="/delete_email">`, `<button type="submit">Delete my email</button>`)
				if strings.Contains(p.body, deleted) {
					t.Error("the page says the email was deleted")
				}
				wantPage(t, b.get("/get_email"), 200, "<h1>Welcome a@example.com!</h1>")
				// The button posts; a POST from this site deletes.
				wantPage(t, b.doWith("POST", "/delete_email", nil, http.Header{"Origin": {tc.srv.URL}}), 200, deleted)
				wantPage(t, b.get("/get_email"), 200, prompt)
			}
		})
	}
	// The page speaks the visitor's language.
	p := newBrowser(t, srv.URL).doWith("GET", "/delete_email", nil, http.Header{"Accept-Language": {"zh-CN"}})
	wantPage(t, p, 200, "<h1>删除您的邮箱？</h1>", `<button type="submit">删除我的邮箱</button>`)
}

func TestDeleteSession(t *testing.T) {
	srv := newTestServer(t, "redis")
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	id := b.cookie()
	p := b.post("/delete_session", nil)
	wantPage(t, p, 200, "Session ended.")
	// Only the session cookie goes: Clear-Site-Data would take every
	// cookie of the site, other applications' too.
	if got, ok := p.header["Clear-Site-Data"]; ok {
		t.Errorf("Clear-Site-Data = %q, want none by default", got)
	}
	if b.cookie() != "" {
		t.Error("cookie not expired")
	}
	if keys := srv.sessionKeys(t); len(keys) != 0 {
		t.Errorf("keys after delete_session: %q", keys)
	}
	// The old cookie is dead on the server, not just in this browser.
	old := newBrowser(t, srv.URL)
	u, _ := url.Parse(srv.URL)
	old.http.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: id}})
	wantPage(t, old.get("/get_email"), 200, prompt)
}

// TestDeleteSessionClearsSiteDataWhenAsked: with ClearSiteData
// (SESSION_CLEAR_SITE_DATA=true), ending the session also tells the browser
// to drop the site's cookies.
func TestDeleteSessionClearsSiteDataWhenAsked(t *testing.T) {
	srv := newTestServerWith(t, "redis", Deps{ClearSiteData: true})
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	p := b.post("/delete_session", nil)
	wantPage(t, p, 200, "Session ended.")
	if got := p.header.Get("Clear-Site-Data"); got != `"cookies"` {
		t.Errorf("Clear-Site-Data = %q, want \"cookies\"", got)
	}
	if b.cookie() != "" {
		t.Error("cookie not expired")
	}
	if keys := srv.sessionKeys(t); len(keys) != 0 {
		t.Errorf("keys after delete_session: %q", keys)
	}
}

func TestSettingTheEmailRenewsTheID(t *testing.T) {
	srv := newTestServer(t, "redis")
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	first := b.cookie()
	b.post("/set_email", url.Values{"email_address": {"b@example.com"}})
	second := b.cookie()
	if second == first {
		t.Fatal("a new email kept the session ID")
	}
	wantPage(t, b.get("/get_email"), 200, "Welcome b@example.com!")
	if p := b.post("/set_email", url.Values{"email_address": {"b@example.com"}}); p.header.Get("Set-Cookie") != "" || b.cookie() != second {
		t.Error("the same email again renewed the ID")
	}
	if !strings.Contains(srv.log.String(), `"msg":"session renewed"`) {
		t.Errorf("renewal not logged:\n%s", srv.log)
	}
	for _, id := range []string{first, second} {
		if strings.Contains(srv.log.String(), id) {
			t.Error("a raw session ID is in the log")
		}
	}
}

func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	srv := newTestServerWith(t, "redis", Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	untrusted := newTestServerWith(t, "redis", Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, tc := range []struct {
		name   string
		base   string
		proto  string
		secure bool
	}{
		{"trusted proxy, https", srv.URL, "https", true},
		{"trusted proxy, http", srv.URL, "http", false},
		{"untrusted peer claiming https", untrusted.URL, "https", false},
	} {
		b := newBrowser(t, tc.base)
		p := b.doWith("POST", "/set_email", url.Values{"email_address": {"a@example.com"}}, http.Header{"X-Forwarded-Proto": {tc.proto}})
		res := http.Response{Header: p.header}
		if len(res.Cookies()) != 1 || res.Cookies()[0].Secure != tc.secure {
			t.Errorf("%s: cookies %v, want Secure=%v", tc.name, res.Cookies(), tc.secure)
		}
	}
}

// TestStrictTransportSecurity: every response to a request that came over
// HTTPS, directly or through a trusted proxy, carries HSTS for this host
// alone; no response over plain HTTP does.
func TestStrictTransportSecurity(t *testing.T) {
	const year = 365 * 24 * time.Hour
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	srv := newTestServerWith(t, "filesystem", Deps{HSTSMaxAge: year, TrustedProxies: trusted})
	untrusted := newTestServerWith(t, "filesystem", Deps{HSTSMaxAge: year, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	off := newTestServerWith(t, "filesystem", Deps{TrustedProxies: trusted})
	// The same handlers, served over TLS.
	overTLS := func(ts *testServer) *browser {
		t.Helper()
		s := httptest.NewUnstartedServer(ts.Config.Handler)
		s.StartTLS()
		t.Cleanup(s.Close)
		b := newBrowser(t, s.URL)
		b.http.Transport = s.Client().Transport
		return b
	}
	for _, tc := range []struct {
		name  string
		b     *browser
		proto string // X-Forwarded-Proto
		want  string
	}{
		{"plain HTTP", newBrowser(t, srv.URL), "", ""},
		{"plain HTTP through a trusted proxy", newBrowser(t, srv.URL), "http", ""},
		{"HTTPS through a trusted proxy", newBrowser(t, srv.URL), "https", "max-age=31536000"},
		{"an untrusted peer claiming HTTPS", newBrowser(t, untrusted.URL), "https", ""},
		{"TLS", overTLS(srv), "", "max-age=31536000"},
		{"TLS, HSTS off", overTLS(off), "", ""},
		{"HTTPS through a trusted proxy, HSTS off", newBrowser(t, off.URL), "https", ""},
	} {
		for _, path := range []string{"/get_email", "/set_email", "/static/style.css", "/nowhere", "/healthz"} {
			var header http.Header
			if tc.proto != "" {
				header = http.Header{"X-Forwarded-Proto": {tc.proto}}
			}
			p := tc.b.doWith("GET", path, nil, header)
			if got := strings.Join(p.header.Values("Strict-Transport-Security"), ", "); got != tc.want {
				t.Errorf("%s: GET %s: Strict-Transport-Security %q, want %q", tc.name, path, got, tc.want)
			}
		}
	}
}

func TestOversizedSessionIsRefused(t *testing.T) {
	srv := newTestServer(t, "redis") // sessions of at most 200 bytes
	b := newBrowser(t, srv.URL)
	p := b.post("/set_email", url.Values{"email_address": {strings.Repeat("a", 190) + "@example.com"}})
	wantPage(t, p, http.StatusRequestEntityTooLarge, "Nothing was saved.")
	if b.cookie() != "" || len(srv.sessionKeys(t)) != 0 {
		t.Error("something was stored")
	}
}

// TestPlantedIDCannotFollowRenewal: an ID planted in a victim's browser
// (made with POST /preferences, no email) is retired when the victim sets
// an email. Within the grace period whoever holds it sees no session, gets
// no cookie, and changes nothing; it never leads to the victim's session.
func TestPlantedIDCannotFollowRenewal(t *testing.T) {
	srv := newTestServer(t, "redis")
	attacker := newBrowser(t, srv.URL)
	attacker.post("/preferences", url.Values{"lang": {"zh-Hans"}, "back": {"/get_email"}})
	planted := attacker.cookie()
	if planted == "" {
		t.Fatal("POST /preferences made no session")
	}
	victim := newBrowser(t, srv.URL)
	u, _ := url.Parse(srv.URL)
	victim.http.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: planted, Path: "/"}})
	victim.post("/set_email", url.Values{"email_address": {"victim@example.com"}})
	if victim.cookie() == planted {
		t.Fatal("setting the email kept the planted ID")
	}

	wantPage(t, attacker.get("/get_email"), 200, prompt)
	for _, p := range []page{
		attacker.post("/preferences", url.Values{"theme": {"dark"}, "back": {"/get_email"}}),
		attacker.post("/set_email", url.Values{"email_address": {"evil@example.com"}}),
	} {
		wantPage(t, p, http.StatusConflict, "Nothing was saved")
		if strings.Contains(p.body, "victim@example.com") || p.header.Get("Set-Cookie") != "" {
			t.Errorf("retired ID: answered %d with Set-Cookie %q:\n%s", p.status, p.header.Get("Set-Cookie"), p.body)
		}
	}
	if attacker.cookie() != planted {
		t.Error("the retired ID's holder got another cookie")
	}
	wantPage(t, victim.get("/get_email"), 200, "victim@example.com")
	if got := srv.redisValue(t, victim); got != `{"email":"victim@example.com","lang":"zh-Hans"}` {
		t.Errorf("the victim's session holds %q", got)
	}
}
