// Package handlers serves the tutorial's pages, health checks and static
// files. NewServer builds the whole HTTP surface; routes.go lists it.
package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/sessionstore"
	"github.com/sessionsvc/sessionsvc/web"
)

// Store is the session store: a gin-contrib/sessions Store that can report
// whether its backend answers.
type Store interface {
	sessions.Store
	Ping(ctx context.Context) error
}

// Deps are what the server needs.
type Deps struct {
	Logger *slog.Logger
	Store  Store
	// StoreName names the store in /readyz ("redis", "filesystem", "cookie").
	StoreName  string
	CookieName string
	// LogKey keys the hash that stands for session IDs in logs.
	LogKey []byte
	// TrustedProxies are the addresses (IPs or CIDRs) whose X-Forwarded-*
	// headers are believed; empty trusts none.
	TrustedProxies []string
	// TrustedOrigins may post forms here besides the service's own origin.
	TrustedOrigins []string
}

type server struct {
	Deps
	pages   map[string]*template.Template
	bufs    sync.Pool
	csrf    *http.CrossOriginProtection
	logMACs *sessionstore.MACPool // keyed with LogKey
}

// NewServer returns the service's HTTP handler.
func NewServer(deps Deps) (http.Handler, error) {
	pages, err := web.Pages()
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	s := &server{Deps: deps, pages: pages, csrf: http.NewCrossOriginProtection(), logMACs: sessionstore.NewMACPool(deps.LogKey)}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	for _, o := range deps.TrustedOrigins {
		if err := s.csrf.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}

	r := gin.New()
	if err := r.SetTrustedProxies(deps.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	r.HandleMethodNotAllowed = true
	r.Use(s.logRequests, s.recoverPanics, securityHeaders, s.refuseCrossOrigin)
	addRoutes(r, s)
	return r, nil
}

// requestIDKey and sessionLogKey are gin context keys for the request log.
const (
	requestIDKey  = "request_id"
	sessionLogKey = "session"
)

// logRequests writes one log line per request, after it is served. Session
// IDs appear only as a keyed hash (see sessionLogID).
func (s *server) logRequests(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(requestIDKey, id)
	c.Writer.Header()["X-Request-Id"] = []string{id}

	c.Next()

	route := c.FullPath()
	if route == "" {
		route = "(none)"
	}
	status := c.Writer.Status()
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", id),
	}
	if sid := c.GetString(sessionLogKey); sid != "" {
		attrs = append(attrs, slog.String("session", sid))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.Logger.LogAttrs(c.Request.Context(), level, "request", attrs...)
}

// validRequestID accepts 1 to 64 characters of [A-Za-z0-9._-], so a client's
// X-Request-ID cannot inject anything into logs or headers.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// sessionLogID is what logs show for a session ID: the first 12 hex digits
// of its HMAC under LogKey. Stable across replicas sharing a secret, useless
// as a cookie.
func (s *server) sessionLogID(id string) string {
	if id == "" {
		return ""
	}
	m := s.logMACs.Get()
	defer s.logMACs.Put(m)
	return hex.EncodeToString(m.Sum(id)[:6])
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
		s.Logger.ErrorContext(c.Request.Context(), "panic", "error", fmt.Sprint(err), "stack", string(debug.Stack()), "request_id", c.GetString(requestIDKey))
		if !c.Writer.Written() {
			s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "The server hit an unexpected error. Please try again.")
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
	varyCookieValue = []string{"Cookie"}
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
	if err := s.csrf.Check(c.Request); err != nil {
		s.forbidCrossSite(c)
		return
	}
	c.Next()
}

// refuseCrossSiteGET protects the one GET that changes state (the
// tutorial's /delete_email): a browser navigation from another site is
// refused. Typed URLs, bookmarks and non-browser clients pass.
func (s *server) refuseCrossSiteGET(c *gin.Context) {
	if site := c.GetHeader("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		s.forbidCrossSite(c)
		return
	}
	c.Next()
}

func (s *server) forbidCrossSite(c *gin.Context) {
	s.errorPage(c, http.StatusForbidden, "Request refused", "This request came from another site, so nothing was changed.")
	c.Abort()
}

// render writes a page. It renders into a buffer first, so a template error
// never sends half a page.
func (s *server) render(c *gin.Context, status int, page string, data any) {
	buf := s.bufs.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); s.bufs.Put(buf) }()
	if err := s.pages[page].Execute(buf, data); err != nil {
		s.Logger.ErrorContext(c.Request.Context(), "render page", "page", page, "error", err)
		c.String(http.StatusInternalServerError, "Internal Server Error")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// errorPage is a short page with a title and one sentence.
func (s *server) errorPage(c *gin.Context, status int, title, message string) {
	s.render(c, status, "error", struct{ Title, Message string }{title, message})
}
