package handlers

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// getWith is a GET with an Accept-Language header.
func (b *browser) getWith(path, acceptLanguage string) page {
	b.t.Helper()
	return b.doWith(http.MethodGet, path, nil, http.Header{"Accept-Language": {acceptLanguage}})
}

// redisValue is the session's JSON in Redis, "" when it has no key.
func (ts *testServer) redisValue(t *testing.T, b *browser) string {
	t.Helper()
	if b.cookie() == "" {
		return ""
	}
	v, err := redis.String(ts.redis.Do("GET", ts.redis.Prefix+b.cookie()), nil)
	if err == redis.ErrNil {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLanguageGuess(t *testing.T) {
	srv := newTestServer(t, "redis")
	for _, tc := range []struct {
		header, lang, text string
	}{
		{"", "en", prompt},
		{"en-US,en;q=0.9", "en", prompt},
		{"zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", `<h1>欢迎！请在<a href="/set_email">这里</a>输入您的电子邮箱。</h1>`},
		{"zh", "zh-Hans", "欢迎！请在"},
		{"fr-FR, zh;q=0.5", "zh-Hans", "欢迎！请在"},
		{"de-DE", "en", prompt},
		{"garbage;;;q=x", "en", prompt},
	} {
		t.Run(tc.header, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			wantPage(t, b.getWith("/get_email", tc.header), 200, `<html lang="`+tc.lang+`">`, tc.text)
			wantPage(t, b.getWith("/set_email", tc.header), 200, `<html lang="`+tc.lang+`">`)
			if b.cookie() != "" {
				t.Error("guessing the language set a cookie")
			}
		})
	}
	if keys := srv.sessionKeys(t); len(keys) != 0 {
		t.Errorf("guessing the language created keys: %q", keys)
	}
}

func TestPreferencesLiveInTheSession(t *testing.T) {
	srv := newTestServer(t, "redis")
	b := newBrowser(t, srv.URL)
	english := "en-US,en;q=0.9"

	p := b.post("/preferences", url.Values{"lang": {"zh-Hans"}, "back": {"/set_email"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/set_email" {
		t.Fatalf("POST /preferences = %d to %q, want 303 to /set_email", p.status, p.header.Get("Location"))
	}
	if got := srv.redisValue(t, b); got != `{"lang":"zh-Hans"}` {
		t.Errorf("Redis value %q", got)
	}
	// The stored choice beats Accept-Language, on every page.
	wantPage(t, b.getWith("/set_email", english), 200, `<html lang="zh-Hans">`, "请输入您的电子邮箱地址：", `<button type="submit">提交</button>`)
	wantPage(t, b.getWith("/get_email", english), 200, `<html lang="zh-Hans">`, "欢迎！请在")
	wantPage(t, b.getWith("/nowhere", english), 404, `<html lang="zh-Hans">`, "找不到页面")

	b.post("/preferences", url.Values{"theme": {"dark"}, "back": {"/get_email"}})
	wantPage(t, b.get("/get_email"), 200, `<html lang="zh-Hans" data-theme="dark">`, `value="dark" aria-current="true"`, `<meta name="color-scheme" content="dark">`)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	if got := srv.redisValue(t, b); got != `{"email":"a@example.com","lang":"zh-Hans","theme":"dark"}` {
		t.Errorf("Redis value %q", got)
	}
	wantPage(t, b.getWith("/get_email", english), 200, "<h1>欢迎，a@example.com！</h1>", "删除我的邮箱")

	// Another browser has its own preferences.
	other := newBrowser(t, srv.URL)
	wantPage(t, other.getWith("/get_email", english), 200, `<html lang="en">`, `value="system" aria-current="true"`)

	// Following the system stores nothing; deleting the email keeps the rest.
	b.post("/preferences", url.Values{"theme": {"system"}})
	wantPage(t, b.doWith("GET", "/delete_email", nil, typed), 200, "<h1>会话已删除！</h1>")
	if got := srv.redisValue(t, b); got != `{"lang":"zh-Hans"}` {
		t.Errorf("Redis value after delete_email %q", got)
	}
	wantPage(t, b.post("/preferences", url.Values{"lang": {"en"}}), http.StatusSeeOther)
	wantPage(t, b.getWith("/get_email", "zh"), 200, `<html lang="en">`, prompt)

	// Ending the session ends the preferences.
	b.post("/delete_session", nil)
	wantPage(t, b.getWith("/get_email", "zh"), 200, `<html lang="zh-Hans">`)
	if keys := srv.sessionKeys(t); len(keys) != 0 {
		t.Errorf("keys after delete_session: %q", keys)
	}
}

func TestPreferencesRejected(t *testing.T) {
	srv := newTestServer(t, "redis")
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		to     string
	}{
		{"nothing", url.Values{}, 400, ""},
		{"unknown language", url.Values{"lang": {"fr"}}, 400, ""},
		{"language not as offered", url.Values{"lang": {"zh-hans"}}, 400, ""},
		{"unknown theme", url.Values{"theme": {"blue"}}, 400, ""},
		{"one bad of two", url.Values{"lang": {"en"}, "theme": {"sepia"}}, 400, ""},
		{"no way back", url.Values{"lang": {"en"}}, 303, "/get_email"},
		{"back to the form", url.Values{"lang": {"en"}, "back": {"/set_email"}}, 303, "/set_email"},
		{"back to another site", url.Values{"lang": {"en"}, "back": {"https://evil.example/"}}, 303, "/get_email"},
		{"back to another host", url.Values{"lang": {"en"}, "back": {"//evil.example"}}, 303, "/get_email"},
		{"back to a page that changes state", url.Values{"lang": {"en"}, "back": {"/delete_email"}}, 303, "/get_email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			p := b.post("/preferences", tc.form)
			if p.status != tc.status || p.header.Get("Location") != tc.to {
				t.Fatalf("%d to %q, want %d to %q", p.status, p.header.Get("Location"), tc.status, tc.to)
			}
			if tc.status == 400 {
				wantPage(t, p, 400, "Unknown setting")
				if b.cookie() != "" {
					t.Error("a rejected preference set a cookie")
				}
			}
		})
	}
	if n := len(srv.sessionKeys(t)); n != 5 {
		t.Errorf("%d keys, want one per accepted preference (5)", n)
	}
}

func TestPreferencesWhileStoreIsDown(t *testing.T) {
	srv := newTestServer(t, "redis-private")
	b := newBrowser(t, srv.URL)
	b.post("/preferences", url.Values{"lang": {"en"}, "theme": {"dark"}})
	wantPage(t, b.getWith("/set_email", "zh"), 200, `<html lang="en" data-theme="dark">`)
	srv.redis.Stop()

	// A page that needs no session falls back to the guess and the system theme.
	wantPage(t, b.getWith("/set_email", "zh"), 200, `<html lang="zh-Hans">`, "请输入您的电子邮箱地址：")
	wantPage(t, b.getWith("/nowhere", "zh"), 404, `<html lang="zh-Hans">`)
	// Session pages and the switches answer 503, in the guessed language.
	for _, p := range []page{
		b.doWith("GET", "/get_email", nil, http.Header{"Accept-Language": {"zh"}}),
		b.doWith("POST", "/preferences", url.Values{"lang": {"zh-Hans"}}, http.Header{"Accept-Language": {"zh"}}),
	} {
		wantPage(t, p, http.StatusServiceUnavailable, `<html lang="zh-Hans">`, "暂时不可用")
		if p.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
}

func TestDebugPanel(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		debug bool
		key   string // a regexp for the key line; "" when there is no panel
	}{
		{"redis", true, `<dd><code>session:[A-Za-z0-9_-]{8}…</code></dd>`},
		{"filesystem", true, `<dd><code>/[^<]*/[A-Za-z0-9_-]{8}…</code></dd>`},
		{"cookie", true, `<dd><code>in the cookie \(signed\)</code></dd>`},
		{"redis", false, ""},
	} {
		t.Run(tc.kind+map[bool]string{true: " debug", false: " release"}[tc.debug], func(t *testing.T) {
			srv := newTestServerWith(t, tc.kind, Deps{Debug: tc.debug})
			b := newBrowser(t, srv.URL)
			p := b.get("/get_email")
			if !tc.debug {
				b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
				if p := b.get("/get_email"); strings.Contains(p.body, `class="debug"`) {
					t.Errorf("panel shown without debug mode:\n%s", p.body)
				}
				return
			}
			wantPage(t, p, 200, `<section class="debug"`, "<dd>"+tc.kind+"</dd>", "No session: nothing is stored and no cookie was sent.")

			b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
			p = b.get("/get_email")
			wantPage(t, p, 200, "<dt>Values</dt><dd><code>{&#34;email&#34;:&#34;a@example.com&#34;}</code></dd>")
			if !regexp.MustCompile(tc.key).MatchString(p.body) {
				t.Errorf("no key line matching %s:\n%s", tc.key, p.body)
			}
			ttl := regexp.MustCompile(`<dt>Expires in</dt><dd>([^<]*)</dd>`).FindStringSubmatch(p.body)
			switch {
			case ttl == nil:
				t.Errorf("no time left:\n%s", p.body)
			case tc.kind == "cookie" && ttl[1] != "—",
				tc.kind != "cookie" && !regexp.MustCompile(`^(59m[0-9]+s|1h0m0s)$`).MatchString(ttl[1]):
				t.Errorf("time left %q, want just under the hour's lifetime (— for cookies)", ttl[1])
			}
			if id := b.cookie(); tc.kind != "cookie" && strings.Contains(p.body, id) {
				t.Error("the page shows the whole session ID")
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"0s", "0s"},
		{"4m5.4s", "4m5s"},
		{"23h59m59.6s", "1d 0h 0m 0s"},
		{"744h", "31d 0h 0m 0s"},
		{"745h1m2s", "31d 1h 1m 2s"},
	} {
		d, _ := time.ParseDuration(tc.in)
		if got := formatDuration(d); got != tc.want {
			t.Errorf("formatDuration(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestLanguageMatcherCacheIsBounded: past maxCachedAccepts distinct headers
// (or for a long one) answers are still right, and no more are kept.
func TestLanguageMatcherCacheIsBounded(t *testing.T) {
	l := newLanguageMatcher()
	long := "fr;q=0.1, " + strings.Repeat("x-private;q=0.2, ", 10) + "zh;q=0.5"
	for i := range 2 * maxCachedAccepts {
		for _, tc := range []struct{ accept, tag string }{
			{fmt.Sprintf("de-DE, x-d%d;q=0.1, zh;q=0.5", i), "zh-Hans"},
			{fmt.Sprintf("en-GB, x-e%d;q=0.1", i), "en"},
			{long, "zh-Hans"},
		} {
			if got := l.match(tc.accept).Tag; got != tc.tag {
				t.Fatalf("after %d headers, match(%q) = %s, want %s", i, tc.accept, got, tc.tag)
			}
		}
	}
	n := 0
	l.cache.Range(func(k, _ any) bool {
		if len(k.(string)) > maxCachedAcceptBytes {
			t.Errorf("kept a %d-byte header", len(k.(string)))
		}
		n++
		return true
	})
	if n == 0 || n > maxCachedAccepts {
		t.Errorf("%d answers kept, want 1 to %d", n, maxCachedAccepts)
	}
	// However many misses come after, the count never wraps round to let
	// more in.
	l.cached.Store(math.MaxInt32)
	l.match("fr, x-wrapped;q=0.1")
	if _, kept := l.cache.Load("fr, x-wrapped;q=0.1"); kept {
		t.Error("a header was kept after the count reached its maximum")
	}
}

// TestTwoTabsKeepBothPreferences: a language chosen in one tab and a theme
// in another at the same moment are both kept, in every server-side store.
// (Cookie sessions cannot merge: each response carries the whole session.)
func TestTwoTabsKeepBothPreferences(t *testing.T) {
	for _, kind := range []string{"redis", "filesystem", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			srv := newTestServer(t, kind)
			b := newBrowser(t, srv.URL)
			b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
			const pairs = 200
			lost := 0
			for i := range pairs {
				lang, theme := []string{"zh-Hans", "en"}[i%2], []string{"dark", "light"}[i%2]
				var wg sync.WaitGroup
				start := make(chan struct{})
				for _, form := range []url.Values{{"lang": {lang}}, {"theme": {theme}}} {
					wg.Go(func() {
						<-start
						if p := b.post("/preferences", form); p.status != http.StatusSeeOther {
							t.Errorf("POST /preferences %v = %d", form, p.status)
						}
					})
				}
				close(start)
				wg.Wait()
				if p := b.get("/get_email"); !strings.Contains(p.body, `<html lang="`+lang+`" data-theme="`+theme+`">`) {
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("%d of %d pairs lost a preference", lost, pairs)
			}
			wantPage(t, b.get("/get_email"), 200, "a@example.com")
		})
	}
}
