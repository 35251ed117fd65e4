package handlers

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
)

// Benchmarks of every route through the whole handler (middleware, session
// store, page), over a private redis-server on a unix socket, with the
// production settings: signed browser-session cookies, JSON request log
// (discarded). Compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 10 ./handlers > old.txt

// benchHandler returns the service's handler over a fresh Redis.
func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	srv := redistest.Start(b)
	u, err := config.ParseRedisURL(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	store, err := session.New(session.Config{
		Backend:  redisstore.New(redisstore.Config{URL: redisstore.URL(u), Prefix: srv.Prefix, Timeout: 5 * time.Second, PoolSize: 32}), // a generous timeout: a busy machine must not fail a benchmark
		Signer:   session.NewSigner("session id", "a benchmark secret of at least 32 bytes"),
		Lifetime: 31 * 24 * time.Hour, Refresh: true,
		Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	h, err := NewServer(Deps{
		Logger: slog.New(slog.NewJSONHandler(&benchLog{b}, nil)), Store: store, StoreName: "redis",
		CookieName: "session", LogKey: []byte("log key"),
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// benchRequest is one request and the status it must get.
type benchRequest struct {
	method, path, email string // email: posted as email_address when set
	session             bool   // carry the session cookie
	status              int
}

func serve(b *testing.B, h http.Handler, r benchRequest, cookie *http.Cookie) *httptest.ResponseRecorder {
	var body io.Reader
	if r.email != "" {
		body = strings.NewReader(url.Values{"email_address": {r.email}}.Encode())
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.session && cookie != nil {
		req.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != r.status {
		b.Fatalf("%s %s = %d, want %d:\n%s", r.method, r.path, w.Code, r.status, w.Body)
	}
	return w
}

// BenchmarkHandlers serves each route; the steps of a case run in order in
// every iteration (a case that deletes a session stores one first).
func BenchmarkHandlers(b *testing.B) {
	setEmail := benchRequest{"POST", "/set_email", "alice@example.com", true, http.StatusSeeOther}
	for _, tc := range []struct {
		name  string
		steps []benchRequest
	}{
		{"get_email", []benchRequest{{"GET", "/get_email", "", true, http.StatusOK}}},
		{"get_email-anonymous", []benchRequest{{"GET", "/get_email", "", false, http.StatusOK}}},
		{"set_email-same", []benchRequest{setEmail}},
		{"set_email-change", []benchRequest{{"POST", "/set_email", "bob@example.com", true, http.StatusSeeOther}, setEmail}},
		{"set_email-new-session", []benchRequest{{"POST", "/set_email", "alice@example.com", false, http.StatusSeeOther}}},
		{"set_email-invalid", []benchRequest{{"POST", "/set_email", "not an address", true, http.StatusBadRequest}}},
		{"set_email-form", []benchRequest{{"GET", "/set_email", "", false, http.StatusOK}}},
		{"delete_email", []benchRequest{setEmail, {"POST", "/delete_email", "", true, http.StatusOK}}},
		{"delete_session", []benchRequest{setEmail, {"POST", "/delete_session", "", true, http.StatusOK}}},
		{"healthz", []benchRequest{{"GET", "/healthz", "", false, http.StatusOK}}},
		{"readyz", []benchRequest{{"GET", "/readyz", "", false, http.StatusOK}}},
		{"static", []benchRequest{{"GET", "/static/style.css", "", false, http.StatusOK}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := benchHandler(b)
			w := serve(b, h, benchRequest{"POST", "/set_email", "alice@example.com", false, http.StatusSeeOther}, nil)
			cookie := w.Result().Cookies()[0]
			b.ReportAllocs()
			for b.Loop() {
				for _, step := range tc.steps {
					// Keep the cookie a step sets, as a browser does: a
					// change of email retires the old one.
					for _, c := range serve(b, h, step, cookie).Result().Cookies() {
						if c.Name == cookie.Name && c.MaxAge >= 0 {
							cookie = c
						}
					}
				}
			}
		})
	}
}

// benchLog takes the JSON log as production would (every line is made) but
// keeps only warnings and errors, in the benchmark's output.
type benchLog struct{ b *testing.B }

func (l *benchLog) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(`"level":"INFO"`)) {
		l.b.Log(string(p))
	}
	return len(p), nil
}
