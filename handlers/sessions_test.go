package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionsvc/sessionsvc/config"
)

func TestEndOtherSessions(t *testing.T) {
	for _, kind := range []string{"redis", "filesystem"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, kind)
			// Four browsers, each with its own cookie jar: three of them
			// are alice (the email's case does not matter), one is bob.
			here, phone, laptop, bob := newBrowser(t, srv.URL), newBrowser(t, srv.URL), newBrowser(t, srv.URL), newBrowser(t, srv.URL)
			here.post("/set_email", url.Values{"email_address": {"alice@example.com"}})
			phone.post("/set_email", url.Values{"email_address": {"alice@example.com"}})
			laptop.post("/set_email", url.Values{"email_address": {"Alice@Example.com"}})
			bob.post("/set_email", url.Values{"email_address": {"bob@example.com"}})

			wantPage(t, here.get("/get_email"), 200, `<form method="post" action="/end_other_sessions">`, "End all my other sessions")
			p := here.post("/end_other_sessions", nil)
			wantPage(t, p, 200, "Other sessions ended.", "2 other sessions of alice@example.com were ended.")
			if p.header.Get("Cache-Control") != "no-store" {
				t.Error("the result page may be cached")
			}
			wantPage(t, here.get("/get_email"), 200, "<h1>Welcome alice@example.com!</h1>")
			wantPage(t, phone.get("/get_email"), 200, prompt)
			wantPage(t, laptop.get("/get_email"), 200, prompt)
			wantPage(t, bob.get("/get_email"), 200, "<h1>Welcome bob@example.com!</h1>")
			if srv.redis != nil {
				if keys := srv.redis.Keys(); len(keys) != 2 {
					t.Errorf("Redis keys %q, want this browser's and bob's", keys)
				}
			}
			if n := strings.Count(srv.log.String(), `"msg":"session destroyed"`); n != 2 {
				t.Errorf("%d sessions logged as destroyed, want 2", n)
			}

			// Again: nothing left to end.
			wantPage(t, here.post("/end_other_sessions", nil), 200, "There were no other sessions of alice@example.com.")
			// A session without an email has no others.
			anon := newBrowser(t, srv.URL)
			wantPage(t, anon.post("/end_other_sessions", nil), 400, "please enter yours first")
			// From another site: refused like every cross-origin form.
			bob2 := newBrowser(t, srv.URL)
			bob2.post("/set_email", url.Values{"email_address": {"bob@example.com"}})
			wantPage(t, bob2.doWith("POST", "/end_other_sessions", nil, http.Header{"Sec-Fetch-Site": {"cross-site"}}), 403)
			wantPage(t, bob.get("/get_email"), 200, "<h1>Welcome bob@example.com!</h1>")
		})
	}
}

func TestEndOtherSessionsNeedsServerSessions(t *testing.T) {
	srv := newTestServer(t, "cookie")
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	p := b.get("/get_email")
	wantPage(t, p, 200, "<h1>Welcome a@example.com!</h1>")
	if strings.Contains(p.body, "End all my other sessions") {
		t.Error("cookie sessions offer to end other sessions, which live only in other browsers")
	}
	wantPage(t, b.post("/end_other_sessions", nil), 404)
}

func TestReadyzDescribesTheStore(t *testing.T) {
	srv := newTestServer(t, "redis")
	p := newBrowser(t, srv.URL).get("/readyz")
	var body map[string]any
	if err := json.Unmarshal([]byte(p.body), &body); err != nil || p.status != 200 {
		t.Fatalf("/readyz = %d %s", p.status, p.body)
	}
	u, err := config.ParseRedisURL(srv.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Address // host:port, or a socket's path
	if body["store"] != "redis" || body["address"] != addr || body["latency_ms"] == nil {
		t.Errorf("/readyz = %s, want the store, its address %q and latency", p.body, addr)
	}
}
