// Package handlers serves the tutorial's pages, health checks and static
// files. NewServer builds the whole HTTP surface; routes.go lists it.
package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/web"
)

// Store is the session store (a *session.Store): a gin-contrib/sessions
// Store, and what the pages and health checks ask of it besides.
type Store interface {
	sessions.Store
	// ReadyStore: Ping and Describe, for readiness.
	ReadyStore
	// Inspect describes a loaded session, for the debug panel.
	Inspect(ctx context.Context, s sessions.Session) (session.Snapshot, error)
}

// Deps are what the server needs.
type Deps struct {
	Logger *slog.Logger
	Store  Store
	// StoreName names the store in logs and the debug panel ("redis",
	// "filesystem", "cookie").
	StoreName  string
	CookieName string
	// LogKey keys the hash that stands for session IDs in logs.
	LogKey []byte
	// TrustedProxies are the addresses whose X-Forwarded-* headers are
	// believed; empty trusts none.
	TrustedProxies []netip.Prefix
	// HSTSMaxAge, when positive, is sent as Strict-Transport-Security:
	// max-age=N (whole seconds) on every response to a request that came
	// over HTTPS, directly or through a trusted proxy; never over plain
	// HTTP, and never with includeSubDomains, which would force HTTPS onto
	// every host under this one. Zero sends none.
	HSTSMaxAge time.Duration
	// CrossOrigin refuses state-changing requests that browsers send from
	// other origins, but for the ones it trusts; nil trusts none.
	CrossOrigin *http.CrossOriginProtection
	// ClearSiteData sends Clear-Site-Data: "cookies" when a visitor ends
	// the session, which makes the browser drop every cookie of the site,
	// other applications' on sibling hosts too. Off: only the session
	// cookie is expired.
	ClearSiteData bool
	// Debug shows developers, under the welcome page, what the session
	// holds: the store, the key with the ID shortened, the time left and
	// the values. Off by default; main turns it on only for GIN_MODE=debug.
	Debug bool
	// Readiness answers GET /readyz. Nil: one over Store. Give the one
	// whose details another listener serves, so that a change of state
	// is logged once.
	Readiness *Readiness
	// ObserveRequest, when set, is told of every request once it is served:
	// its method, route (as in the log), status and duration.
	ObserveRequest func(method, route string, status int, d time.Duration)
}

type server struct {
	Deps
	pages *web.Pages
	bufs  sync.Pool
	langs *languageMatcher
	hsts  []string     // the Strict-Transport-Security value; nil for none
	ids   idHasher     // session IDs as logs show them
	lines slog.Handler // Deps.Logger's, for request lines, which name their request ID themselves
}

// NewServer returns the service's HTTP handler.
func NewServer(deps Deps) (http.Handler, error) {
	pages, err := web.LoadPages()
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	s := &server{Deps: deps, pages: pages, langs: newLanguageMatcher(), ids: newIDHasher(deps.LogKey)}
	if s.CrossOrigin == nil {
		s.CrossOrigin = http.NewCrossOriginProtection()
	}
	s.lines = deps.Logger.Handler()
	s.Logger = slog.New(withRequestID(s.lines))
	if deps.HSTSMaxAge > 0 {
		s.hsts = []string{"max-age=" + strconv.FormatInt(int64(deps.HSTSMaxAge/time.Second), 10)}
	}
	if s.Readiness == nil {
		s.Readiness = NewReadiness(deps.Store, deps.StoreName, deps.Logger)
	}
	if s.ObserveRequest == nil {
		s.ObserveRequest = func(string, string, int, time.Duration) {}
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	// Gin believes any proxy unless told which; it takes them as text.
	var proxies []string
	for _, p := range deps.TrustedProxies {
		proxies = append(proxies, p.String())
	}
	r := gin.New()
	if err := r.SetTrustedProxies(proxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	r.HandleMethodNotAllowed = true
	// No redirects built from the request: Gin's would answer /set_email/
	// with a cacheable 301 to /set_email, prefixed with X-Forwarded-Prefix
	// from any client, before the middleware that adds the security
	// headers runs. Such paths get the 404 page like any other unknown URL.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// The session is loaded lazily: a route that never reads it (health
	// checks, static files) costs the store nothing. markHTTPS comes first:
	// the session keeps the request it is given.
	r.Use(s.logRequests, s.recoverPanics, securityHeaders, s.markHTTPS, sessions.Sessions(deps.CookieName, deps.Store), s.refuseCrossOrigin)
	addRoutes(r, s)
	return r, nil
}

// recoverPanics turns a panic into a logged error and a plain 500 page, the
// last line of defence: no handler is meant to panic.
func (s *server) recoverPanics(c *gin.Context) {
	defer func() {
		err := recover()
		if err == nil {
			return
		}
		if err == http.ErrAbortHandler {
			panic(err)
		}
		s.Logger.ErrorContext(c.Request.Context(), "panic", "error", fmt.Sprint(err), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			s.errorPage(c, http.StatusInternalServerError, web.InternalTitle, web.Internal)
		}
		c.Abort()
	}()
	c.Next()
}

// contentSecurityPolicy allows the page's own stylesheet and forms, and
// nothing else: no scripts at all, no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Header values every response (or every session page) carries, made once:
// assigning them costs no allocation per request, where Header.Set makes a
// slice each time. Never modified; Header.Add appends to a copy, as each
// slice is full.
var (
	cspValue        = []string{contentSecurityPolicy}
	nosniffValue    = []string{"nosniff"}
	sameOriginValue = []string{"same-origin"}
	denyValue       = []string{"DENY"}
	noStoreValue    = []string{"no-store"}
	varyValue       = []string{"Cookie, Accept-Language"}
	htmlValue       = []string{"text/html; charset=utf-8"}
)

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h["Content-Security-Policy"] = cspValue
	h["X-Content-Type-Options"] = nosniffValue
	h["Referrer-Policy"] = sameOriginValue
	h["X-Frame-Options"] = denyValue
	c.Next()
}

// refuseCrossOrigin answers 403 to state-changing requests (POST and the
// like) that a browser sent from another origin, before any handler runs.
func (s *server) refuseCrossOrigin(c *gin.Context) {
	if err := s.CrossOrigin.Check(c.Request); err != nil {
		s.forbidCrossSite(c)
		return
	}
	c.Next()
}

// source is what a request shows of where it came from.
type source int

const (
	sourceUnknown    source = iota // nothing tells
	sourceSameOrigin               // one of this service's pages, or typed or bookmarked
	sourceElsewhere                // another site, or another origin of this one
)

// sourceOf tells where a request came from, for the one GET that changes
// state (the tutorial's /delete_email). Sec-Fetch-Site, when the browser
// sends it: same-origin or none (typed, bookmarked) is this service, and
// same-site or cross-site is not. Without it (older browsers), Origin, and
// without that, the origin of Referer, compared with the service's own:
// the request's scheme (https when it came over HTTPS, directly or through
// a trusted proxy) and Host. A request with none of the three, such as a
// link with referrerpolicy="no-referrer" in an older browser, or a
// non-browser client, is unknown.
func (s *server) sourceOf(r *http.Request) source {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return sourceSameOrigin
	case "same-site", "cross-site":
		return sourceElsewhere
	}
	from := r.Header.Get("Origin")
	if from == "" {
		ref := r.Header.Get("Referer")
		if ref == "" {
			return sourceUnknown
		}
		u, err := url.Parse(ref)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return sourceElsewhere
		}
		from = u.Scheme + "://" + u.Host
	}
	scheme := "http://"
	if session.IsHTTPS(r) {
		scheme = "https://"
	}
	if strings.EqualFold(from, scheme+r.Host) {
		return sourceSameOrigin
	}
	return sourceElsewhere
}

func (s *server) forbidCrossSite(c *gin.Context) {
	s.errorPage(c, http.StatusForbidden, web.RefusedTitle, web.Refused)
	c.Abort()
}

// markHTTPS marks requests that reached a trusted proxy over HTTPS
// (X-Forwarded-Proto: https), so that their session cookies are Secure,
// and answers every request that came over HTTPS, directly or so, with
// Strict-Transport-Security.
func (s *server) markHTTPS(c *gin.Context) {
	if c.Request.TLS == nil && strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https") && s.fromTrustedProxy(c.Request) {
		c.Request = c.Request.WithContext(session.WithHTTPS(c.Request.Context()))
	}
	if s.hsts != nil && session.IsHTTPS(c.Request) {
		c.Writer.Header()["Strict-Transport-Security"] = s.hsts
	}
	c.Next()
}

func (s *server) fromTrustedProxy(r *http.Request) bool {
	addr, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range s.TrustedProxies {
		if p.Contains(addr.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// render writes a page in the visitor's language and theme. It renders into
// a buffer first, so a template error never sends half a page. Pages vary by
// the session cookie and Accept-Language (see preferences).
func (s *server) render(c *gin.Context, status int, page string, data any) {
	t, theme := s.preferences(c)
	v := web.View{T: t, Langs: web.Languages(), Theme: theme, Back: backTo(c.Request.URL.Path), Page: data}
	buf := s.bufs.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); s.bufs.Put(buf) }()
	if err := s.pages.Execute(buf, page, v); err != nil {
		s.Logger.ErrorContext(c.Request.Context(), "render page", "page", page, "error", err)
		c.String(http.StatusInternalServerError, "Internal Server Error")
		return
	}
	h := c.Writer.Header()
	h["Vary"] = varyValue
	h["Content-Type"] = htmlValue
	if buf.Len() > autoLengthMax {
		h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	}
	c.Status(status)
	c.Writer.Write(buf.Bytes())
}

// autoLengthMax is the largest body net/http gives a Content-Length of its
// own when written at once. A smaller page leaves the header to it: with
// its own eight headers a response then fits the header map's first
// allocation.
const autoLengthMax = 2048

// handleStatic serves the embedded file the path names under /static/.
// Files only: a directory, like a file that is not there, gets the 404
// page, never a listing.
func (s *server) handleStatic(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("filepath"), "/")
	if info, err := fs.Stat(web.Static, name); err != nil || info.IsDir() {
		s.errorPage(c, http.StatusNotFound, web.NotFoundTitle, web.NotFound)
		return
	}
	http.ServeFileFS(c.Writer, c.Request, web.Static, name)
}

// errorPage is a short page with a title and one sentence.
func (s *server) errorPage(c *gin.Context, status int, title, message web.Msg) {
	s.render(c, status, "error", struct{ Title, Message web.Msg }{title, message})
}
