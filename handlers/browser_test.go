package handlers

// The tests in this file drive the pages in headless Chromium, the way
// visitors meet them, over a real Redis. Each saves screenshots of what the
// visitor sees and names the folder in its output.

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gomodule/redigo/redis"
)

var updateScreenshots = flag.Bool("update-screenshots", false,
	"write the browser tests' screenshots to docs/screenshots, the ones the README shows")

// chromiumMissing is the message for a machine without Chromium.
const chromiumMissing = "chromium not found in PATH: the browser tests need it (Debian/Ubuntu: apt-get install chromium)"

// browserStep bounds each browser step: long enough for a loaded machine,
// short enough that a hang fails the test instead of the CI run.
const browserStep = 30 * time.Second

// Viewports: a desktop window, and a phone (CSS pixels, drawn at 2x).
const (
	desktopWidth, desktopHeight = 1280, 800
	phoneWidth, phoneHeight     = 390, 844
)

// chromium is a headless Chromium for one test.
type chromium struct {
	t     *testing.T
	ctx   context.Context // the browser; each tab is a child
	shots string          // the screenshot folder
}

// startChromium starts Chromium with an empty profile, stopped at cleanup.
// It fails the test when Chromium is missing.
func startChromium(t *testing.T) *chromium {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal(chromiumMissing)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(desktopWidth, desktopHeight),
		// This machine's network is closed: no background connections.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("accept-lang", "en-US,en"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	attach(t, ctx, "start chromium")
	return &chromium{t: t, ctx: ctx, shots: screenshotDir(t)}
}

// attach makes the first call on a chromedp context, which starts its
// browser or opens its tab. That call ties the browser's or the tab's life
// to the context it gets, so the deadline is kept here, not on ctx.
func attach(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(browserStep):
		t.Fatalf("%s: no answer within %v", what, browserStep)
	}
}

// screenshotDir is docs/screenshots with -update-screenshots, else a folder
// under the temporary directory that later runs overwrite.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "sessionsvc-screenshots")
	if *updateScreenshots {
		dir = filepath.Join("..", "docs", "screenshots")
		if out, err := exec.Command("fc-list", ":lang=zh").Output(); err != nil || len(out) == 0 {
			t.Fatal("no Chinese font for the screenshots (fc-list :lang=zh): apt-get install fonts-noto-cjk")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots: %s", abs)
	return dir
}

// tab is a tab in a browser context of its own: its own cookies, as a
// separate browser would have. It records console errors, exceptions and
// failed requests; at cleanup the test fails on any it did not expect.
type tab struct {
	t   *testing.T
	c   *chromium
	ctx context.Context

	mu       sync.Mutex
	urls     map[network.RequestID]string
	problems []string
	expected map[string]int // URL path -> a 4xx status the test causes on purpose
}

// newTab opens a tab in a new browser context, in the desktop viewport.
func (c *chromium) newTab(t *testing.T) *tab {
	t.Helper()
	tb := &tab{t: t, c: c, urls: map[network.RequestID]string{}, expected: map[string]int{}}
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	tb.ctx = ctx
	t.Cleanup(func() {
		cancel()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser: %s", p)
		}
	})
	attach(t, ctx, "open a tab")
	return tb
}

// listen runs in the tab's event loop: it only records.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.urls[ev.RequestID] = ev.Request.URL
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 && !tb.isExpected(ev.Response.URL, int(ev.Response.Status)) {
			tb.problems = append(tb.problems, fmt.Sprintf("%s answered %d", ev.Response.URL, ev.Response.Status))
		}
	case *network.EventLoadingFailed:
		tb.problems = append(tb.problems, fmt.Sprintf("request for %s failed: %s %s", tb.urls[ev.RequestID], ev.ErrorText, ev.BlockedReason))
	case *runtime.EventExceptionThrown:
		tb.problems = append(tb.problems, "exception: "+ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			tb.problems = append(tb.problems, fmt.Sprintf("console.%s", ev.Type))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if (e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning) && !tb.isExpected(e.URL, 0) {
			tb.problems = append(tb.problems, fmt.Sprintf("console %s (%s): %s %s", e.Level, e.Source, e.Text, e.URL))
		}
	}
}

// isExpected reports whether a failure of rawURL is one the test causes;
// status 0 matches any expected status (console lines name no status).
func (tb *tab) isExpected(rawURL string, status int) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	want, ok := tb.expected[u.Path]
	return ok && (status == 0 || status == want)
}

// expect declares that requests for path answer status on purpose.
func (tb *tab) expect(path string, status int) {
	tb.mu.Lock()
	tb.expected[path] = status
	tb.mu.Unlock()
}

// do runs steps, failing the test on error.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatal(err)
	}
}

// get runs one action that returns a value.
func get[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

// load runs steps that lead to a new page (a navigation, a click on a link
// or a button), waits for it and checks its status.
func (tb *tab) load(status int, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserStep)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		tb.t.Fatal(err)
	}
	if int(res.Status) != status {
		tb.t.Fatalf("%s answered %d, want %d", res.URL, res.Status, status)
	}
}

// text is the visible text of the first element sel matches.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return strings.TrimSpace(get(tb, chromedp.Text(chromedp.CSS(sel))))
}

// wantText fails unless the first element sel matches reads want.
func (tb *tab) wantText(sel, want string) {
	tb.t.Helper()
	if got := tb.text(sel); got != want {
		tb.t.Fatalf("%s reads %q, want %q", sel, got, want)
	}
}

// attr is the attribute name of the first element sel matches ("" if none).
func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	return get(tb, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

// style is the computed CSS property of the first element sel matches.
func (tb *tab) style(sel, property string) string {
	tb.t.Helper()
	for _, p := range get(tb, chromedp.ComputedStyle(chromedp.CSS(sel))) {
		if p.Name == property {
			return p.Value
		}
	}
	tb.t.Fatalf("%s has no computed %s", sel, property)
	return ""
}

// phone switches the tab to a phone's viewport.
func (tb *tab) phone() {
	tb.t.Helper()
	tb.do(chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch))
}

// systemTheme makes the tab's system prefer a light or dark scheme.
func (tb *tab) systemTheme(scheme string) {
	tb.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}

// acceptLanguage makes the tab send this Accept-Language header.
func (tb *tab) acceptLanguage(value string) {
	tb.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": value},
		})
		return err
	}))
}

// cookies are the names of the cookies the tab holds for the page.
func (tb *tab) cookies() []string {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		tb.t.Fatal(err)
	}
	var names []string
	for _, c := range res.Cookies {
		names = append(names, c.Name)
	}
	return names
}

// noHorizontalScroll fails when the page is wider than the viewport.
func (tb *tab) noHorizontalScroll() {
	tb.t.Helper()
	if get(tb, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= document.documentElement.clientWidth`)) != true {
		tb.t.Error("the page scrolls sideways")
	}
}

// shot saves a PNG of the whole page as name.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	png := get(tb, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(tb.c.shots, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// redisValues lists the values of the live sessions in Redis, sorted.
func (ts *testServer) redisValues(t *testing.T) []string {
	t.Helper()
	var values []string
	for _, k := range ts.sessionKeys(t) {
		v, _ := redis.String(ts.redis.Do("GET", k), nil)
		values = append(values, v)
	}
	slices.Sort(values)
	return values
}

func wantValues(t *testing.T, ts *testServer, want ...string) {
	t.Helper()
	if got := ts.redisValues(t); !slices.Equal(got, want) {
		t.Fatalf("Redis holds %q, want %q", got, want)
	}
}

func TestBrowserWalkthrough(t *testing.T) {
	srv := newTestServer(t, "redis")
	b := startChromium(t).newTab(t)

	b.load(200, chromedp.Navigate(srv.URL+"/"))
	b.wantText("h1", "Welcome! Please enter your email here.")
	if got := get(b, chromedp.Title()); got != "Welcome · Sessions" {
		t.Errorf("title %q", got)
	}
	b.shot("walkthrough-1-prompt")

	b.load(200, chromedp.Click(chromedp.CSS(`h1 a`)))
	b.wantText(`label[for="email"]`, "Enter your email address:")
	if got := get(b, chromedp.Title()); got != "Enter your email · Sessions" {
		t.Errorf("title %q", got)
	}
	// Keyboard users see where they are: the first Tab reaches the field,
	// which gets the focus ring.
	b.do(chromedp.KeyEvent("\t"))
	if got := b.style("#email:focus-visible", "outline-style"); got != "solid" {
		t.Errorf("focused field's outline-style %q, want solid", got)
	}

	// An address the browser lets through but the server rejects: the error
	// is next to the field, which keeps what was typed.
	b.expect("/set_email", http.StatusBadRequest)
	b.do(chromedp.SendKeys(chromedp.ID("email"), "alice..smith@example.com"))
	b.load(http.StatusBadRequest, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))
	b.wantText("#email-error", "That is not a valid email address.")
	if got := get(b, chromedp.Value(chromedp.ID("email"))); got != "alice..smith@example.com" {
		t.Errorf("field holds %q after the error", got)
	}
	if got := b.attr("#email", "aria-describedby"); got != "email-error" {
		t.Errorf("field's aria-describedby %q, want the error's id", got)
	}
	b.shot("walkthrough-2-error")
	wantValues(t, srv)

	b.do(chromedp.Clear(chromedp.ID("email")), chromedp.SendKeys(chromedp.ID("email"), "alice@example.com"))
	b.load(200, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))
	b.wantText("h1", "Welcome alice@example.com!")
	wantValues(t, srv, `{"email":"alice@example.com"}`)
	b.shot("walkthrough-3-welcome")

	b.load(200, chromedp.Navigate(srv.URL+"/set_email"))
	b.load(200, chromedp.Navigate(srv.URL+"/get_email"))
	b.wantText("h1", "Welcome alice@example.com!")

	b.load(200, chromedp.Click(chromedp.CSS(`form[action="/delete_email"] button`)))
	b.wantText("h1", "Session deleted!")
	b.shot("walkthrough-4-deleted")
	wantValues(t, srv)

	b.load(200, chromedp.Click(chromedp.CSS(`main a`)))
	b.wantText("h1", "Welcome! Please enter your email here.")
}

func TestBrowserTwoBrowsersAreTwoSessions(t *testing.T) {
	srv := newTestServer(t, "redis")
	c := startChromium(t)
	alice, bob := c.newTab(t), c.newTab(t)
	for _, v := range []struct {
		tab   *tab
		email string
	}{{alice, "alice@example.com"}, {bob, "bob@example.com"}} {
		v.tab.load(200, chromedp.Navigate(srv.URL+"/set_email"))
		v.tab.do(chromedp.SendKeys(chromedp.ID("email"), v.email))
		v.tab.load(200, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))
	}
	wantValues(t, srv, `{"email":"alice@example.com"}`, `{"email":"bob@example.com"}`)

	alice.load(200, chromedp.Navigate(srv.URL+"/get_email"))
	bob.load(200, chromedp.Navigate(srv.URL+"/get_email"))
	alice.wantText("h1", "Welcome alice@example.com!")
	bob.wantText("h1", "Welcome bob@example.com!")
	alice.shot("two-sessions-alice")
	bob.shot("two-sessions-bob")

	bob.load(200, chromedp.Click(chromedp.CSS(`form[action="/delete_session"] button`)))
	bob.wantText("h1", "Session ended.")
	wantValues(t, srv, `{"email":"alice@example.com"}`)
	alice.load(200, chromedp.Reload())
	alice.wantText("h1", "Welcome alice@example.com!")
}

func TestBrowserPreferences(t *testing.T) {
	srv := newTestServerWith(t, "redis", Deps{Debug: true})
	c := startChromium(t)
	b := c.newTab(t)
	b.acceptLanguage("zh-CN,zh;q=0.9,en;q=0.5")
	b.systemTheme("light")

	// The first guess comes from Accept-Language, and stores nothing.
	b.load(200, chromedp.Navigate(srv.URL+"/get_email"))
	b.wantText("h1", "欢迎！请在这里输入您的电子邮箱。")
	if got := b.attr("html", "lang"); got != "zh-Hans" {
		t.Errorf("lang %q", got)
	}
	if got := b.cookies(); len(got) != 0 {
		t.Errorf("cookies %q after a guess", got)
	}
	wantValues(t, srv)
	b.shot("preferences-1-guessed-chinese")

	// Switching is a plain form; the choice follows to every page.
	b.load(200, chromedp.Click(chromedp.CSS(`button[name="lang"][value="en"]`)))
	b.wantText("h1", "Welcome! Please enter your email here.")
	b.load(200, chromedp.Click(chromedp.CSS(`h1 a`)))
	b.wantText("label", "Enter your email address:")
	wantValues(t, srv, `{"lang":"en"}`)

	b.load(200, chromedp.Click(chromedp.CSS(`button[name="theme"][value="dark"]`)))
	b.wantText("label", "Enter your email address:") // back on the same page
	if got := b.attr("html", "data-theme"); got != "dark" {
		t.Errorf("data-theme %q after choosing dark", got)
	}
	if got := b.style("body", "background-color"); got != "rgb(18, 18, 21)" {
		t.Errorf("dark background %q", got)
	}
	b.load(200, chromedp.Click(chromedp.CSS(`button[name="lang"][value="zh-Hans"]`)))
	b.do(chromedp.SendKeys(chromedp.ID("email"), "alice@example.com"))
	b.load(200, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))
	b.wantText("h1", "欢迎，alice@example.com！")
	if got := b.attr("html", "data-theme"); got != "dark" {
		t.Errorf("data-theme %q after navigating", got)
	}
	wantValues(t, srv, `{"email":"alice@example.com","lang":"zh-Hans","theme":"dark"}`)
	b.wantText(".debug dd", "redis")
	b.shot("preferences-2-dark-chinese-debug-panel")

	b.phone()
	b.load(200, chromedp.Reload())
	b.noHorizontalScroll()
	b.shot("preferences-3-phone-dark-chinese")

	// Following the system: dark when the system is.
	b.load(200, chromedp.Click(chromedp.CSS(`button[name="theme"][value="system"]`)))
	if got := b.style("body", "background-color"); got != "rgb(244, 244, 241)" {
		t.Errorf("system theme on a light system: background %q", got)
	}
	b.systemTheme("dark")
	if got := b.style("body", "background-color"); got != "rgb(18, 18, 21)" {
		t.Errorf("system theme on a dark system: background %q", got)
	}
	b.load(200, chromedp.Click(chromedp.CSS(`button[name="lang"][value="en"]`)))
	b.shot("preferences-4-phone-system-dark")
	b.load(200, chromedp.Click(chromedp.CSS(`button[name="theme"][value="light"]`)))
	if got := b.style("body", "background-color"); got != "rgb(244, 244, 241)" {
		t.Errorf("light theme on a dark system: background %q", got)
	}
	b.shot("preferences-5-phone-light")
	wantValues(t, srv, `{"email":"alice@example.com","lang":"en","theme":"light"}`)

	// Another browser keeps its own.
	other := c.newTab(t)
	other.load(200, chromedp.Navigate(srv.URL+"/get_email"))
	if got := other.attr("html", "lang") + " " + other.attr("html", "data-theme"); got != "en " {
		t.Errorf("another browser: lang and theme %q, want en and the system's", got)
	}
}

func TestBrowserCrossOriginFormsAreRefused(t *testing.T) {
	srv := newTestServer(t, "redis")
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Another site: localhost is not 127.0.0.1's site, whatever the port.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Another site</title><link rel="icon" href="data:,">
<form method="post" action="%[1]s/set_email"><input name="email_address" value="mallory@example.com"><button id="set">Win a prize</button></form>
<form method="post" action="%[1]s/preferences"><button id="lang" name="lang" value="zh-Hans">Win another</button></form>
<form method="post" action="%[1]s/delete_session"><button id="end">And another</button></form>`, srv.URL)
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	if target.Hostname() != "127.0.0.1" {
		t.Fatalf("the service is at %s; the test needs it at 127.0.0.1", srv.URL)
	}

	b := startChromium(t).newTab(t)
	b.load(200, chromedp.Navigate(srv.URL+"/set_email"))
	b.do(chromedp.SendKeys(chromedp.ID("email"), "alice@example.com"))
	b.load(200, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))
	wantValues(t, srv, `{"email":"alice@example.com"}`)

	for i, button := range []string{"#set", "#lang", "#end"} {
		path := []string{"/set_email", "/preferences", "/delete_session"}[i]
		b.expect(path, http.StatusForbidden)
		b.load(200, chromedp.Navigate(evilURL))
		b.load(http.StatusForbidden, chromedp.Click(chromedp.CSS(button)))
		b.wantText("h1", "Request refused")
		if i == 0 {
			b.shot("cross-origin-refused")
		}
		wantValues(t, srv, `{"email":"alice@example.com"}`)
	}
	b.load(200, chromedp.Navigate(srv.URL+"/get_email"))
	b.wantText("h1", "Welcome alice@example.com!")
	if got := b.attr("html", "lang"); got != "en" {
		t.Errorf("lang %q after a refused switch", got)
	}
}

// TestBrowserDeleteEmailLinks: the tutorial's GET /delete_email deletes the
// email when the visitor opens it from the address bar, and refuses a link
// on another site, even one that sends no Referer (Chromium says where the
// request came from in Sec-Fetch-Site).
func TestBrowserDeleteEmailLinks(t *testing.T) {
	srv := newTestServer(t, "redis")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Another site</title><link rel="icon" href="data:,">
<a id="link" href="%[1]s/delete_email">Win a prize</a>
<a id="quiet" href="%[1]s/delete_email" referrerpolicy="no-referrer">Win another</a>`, srv.URL)
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	b := startChromium(t).newTab(t)
	b.load(200, chromedp.Navigate(srv.URL+"/set_email"))
	b.do(chromedp.SendKeys(chromedp.ID("email"), "alice@example.com"))
	b.load(200, chromedp.Click(chromedp.CSS(`main button[type="submit"]`)))
	wantValues(t, srv, `{"email":"alice@example.com"}`)

	b.expect("/delete_email", http.StatusForbidden)
	for _, link := range []string{"#link", "#quiet"} {
		b.load(200, chromedp.Navigate(evilURL))
		b.load(http.StatusForbidden, chromedp.Click(chromedp.CSS(link)))
		b.wantText("h1", "Request refused")
		wantValues(t, srv, `{"email":"alice@example.com"}`)
	}
	b.shot("delete-email-link-refused")

	b.load(200, chromedp.Navigate(srv.URL+"/delete_email"))
	b.wantText("h1", "Session deleted!")
	wantValues(t, srv)
}
