package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/dirstore"
)

// FuzzSetEmail posts arbitrary bodies to /set_email: the answer is always a
// redirect (stored), 400 (refused, with the form) or 413 (too large), never
// a 500, and an accepted email is greeted escaped.
func FuzzSetEmail(f *testing.F) {
	dir, err := dirstore.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dir.Close() })
	store, err := session.New(session.Config{Backend: dir, Lifetime: time.Hour, Path: "/"})
	if err != nil {
		f.Fatal(err)
	}
	h, err := NewServer(Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: store, StoreName: "filesystem", CookieName: "session", LogKey: []byte("k")})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		"email_address=alice%40example.com",
		"email_address=%22%3Cscript%3E%22%40x.org",
		"email_address=",
		"email_address=a%40b&email_address=c%40d",
		"email_address=%ZZ",
		"email_address=" + strings.Repeat("a", 300) + "%40x.org",
		"email_address=Alice+%3Ca%40b.c%3E",
		"email_address=a%40b.c%0D%0ASet-Cookie:+x=y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/set_email", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusSeeOther:
			cookies := w.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("stored without exactly one cookie: %v", cookies)
			}
			get := httptest.NewRequest("GET", "/get_email", nil)
			get.AddCookie(cookies[0])
			w = httptest.NewRecorder()
			h.ServeHTTP(w, get)
			page := w.Body.String()
			if w.Code != 200 || !strings.Contains(page, "<h1>Welcome ") || strings.Count(page, "<h1>") != 1 {
				t.Fatalf("welcome page %d:\n%s", w.Code, page)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if len(w.Result().Cookies()) != 0 {
				t.Fatal("a refused form set a cookie")
			}
		default:
			t.Fatalf("status %d for body %q", w.Code, body)
		}
	})
}
