package handlers

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A client that leaves while the store is slow is not a store outage.
func TestClientGoneWhileStoreIsSlow(t *testing.T) {
	srv := newTestServer(t, "redis-private")
	b := newBrowser(t, srv.URL)
	b.post("/set_email", url.Values{"email_address": {"a@example.com"}})
	cookie := b.http.Jar.Cookies(mustURL(t, srv.URL))[0]

	srv.redis.Do("CLIENT", "PAUSE", 1000, "ALL")
	ctx, cancel := context.WithCancel(t.Context())
	req := httptest.NewRequestWithContext(ctx, "GET", "/get_email", nil)
	req.AddCookie(cookie)
	time.AfterFunc(100*time.Millisecond, cancel)
	w := httptest.NewRecorder()
	srv.Config.Handler.ServeHTTP(w, req)

	if w.Code != statusClientClosedRequest {
		t.Errorf("status %d, want %d", w.Code, statusClientClosedRequest)
	}
	log := srv.log.String()
	if !strings.Contains(log, "client went away") || strings.Contains(log, `"level":"ERROR","msg":"session store unavailable"`) {
		t.Errorf("log does not tell a client that went away from an outage:\n%s", log)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
