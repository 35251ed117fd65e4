package handlers

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sessionsvc/sessionsvc/config"
)

// TestReadyzPublicAnswerIsStatusOnly: the public /readyz tells whether the
// store answers and nothing else: not where it is, not why it fails.
func TestReadyzPublicAnswerIsStatusOnly(t *testing.T) {
	srv := newTestServer(t, "redis-private")
	u, err := config.ParseRedisURL(srv.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, srv.URL)
	want := func(status int, body string) {
		t.Helper()
		p := b.get("/readyz")
		if p.status != status || p.body != body {
			t.Errorf("/readyz = %d %s, want %d %s", p.status, p.body, status, body)
		}
		if strings.Contains(p.body, u.Address) {
			t.Errorf("/readyz shows the store's address %s", u.Address)
		}
		if got := p.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
			t.Errorf("/readyz Content-Type %q", got)
		}
	}
	want(200, `{"status":"ready"}`)
	srv.redis.Stop()
	want(503, `{"status":"unavailable"}`)
	srv.redis.Restart()
	want(200, `{"status":"ready"}`)
}

// TestReadyzDescribesTheStore: the readiness details, on the listener
// beside the metrics, name the store, its address and latency, and the
// error when it does not answer.
func TestReadyzDescribesTheStore(t *testing.T) {
	srv := newTestServer(t, "redis-private")
	u, err := config.ParseRedisURL(srv.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	addr := u.Address // host:port, or a socket's path
	details := newBrowser(t, srv.details.URL)
	p := details.get("/readyz")
	var body map[string]any
	if err := json.Unmarshal([]byte(p.body), &body); err != nil || p.status != 200 {
		t.Fatalf("readiness details = %d %s", p.status, p.body)
	}
	if body["status"] != "ready" || body["store"] != "redis" || body["address"] != addr || body["latency_ms"] == nil || body["error"] != nil {
		t.Errorf("readiness details = %s, want the store, its address %q and latency", p.body, addr)
	}

	srv.redis.Stop()
	p = details.get("/readyz")
	body = nil
	if err := json.Unmarshal([]byte(p.body), &body); err != nil || p.status != 503 {
		t.Fatalf("readiness details with the store down = %d %s", p.status, p.body)
	}
	if msg, _ := body["error"].(string); body["status"] != "unavailable" || body["store"] != "redis" || body["address"] != addr || msg == "" {
		t.Errorf("readiness details with the store down = %s, want the store, its address %q and the error", p.body, addr)
	}
}

// TestReadinessLogsEachChangeOnce: when the store stops answering, the
// log tells why, once however often readiness is asked; and once again
// when it answers again.
func TestReadinessLogsEachChangeOnce(t *testing.T) {
	srv := newTestServer(t, "redis-private")
	u, err := config.ParseRedisURL(srv.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	public, details := newBrowser(t, srv.URL), newBrowser(t, srv.details.URL)
	ask := func() {
		t.Helper()
		for range 3 {
			public.get("/readyz")
			details.get("/readyz")
		}
	}
	// lines returns the log lines with msg.
	lines := func(msg string) []map[string]any {
		t.Helper()
		var found []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(srv.log.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if rec["msg"] == msg {
				found = append(found, rec)
			}
		}
		return found
	}
	wantLines := func(down, up int) {
		t.Helper()
		if got := len(lines("session store not ready")); got != down {
			t.Errorf("%d lines say the store is not ready, want %d:\n%s", got, down, srv.log)
		}
		if got := len(lines("session store ready again")); got != up {
			t.Errorf("%d lines say the store is ready again, want %d:\n%s", got, up, srv.log)
		}
	}

	ask()
	wantLines(0, 0)
	srv.redis.Stop()
	ask()
	wantLines(1, 0)
	down := lines("session store not ready")[0]
	if msg, _ := down["error"].(string); down["level"] != "ERROR" || down["store"] != "redis" || down["address"] != u.Address || msg == "" {
		t.Errorf("not ready logged as %v, want an error with the store, its address and the error", down)
	}
	srv.redis.Restart()
	ask()
	wantLines(1, 1)
	srv.redis.Stop()
	ask()
	wantLines(2, 1)
}
