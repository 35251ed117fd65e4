package redisstore_test

import (
	"net/http"
	"testing"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

func TestInspectRedis(t *testing.T) {
	srv := redistest.Start(t)
	app := sessiontest.NewApp(t, redisStore(t, srv, nil))
	c := &sessiontest.Client{T: t, Base: app.URL}
	c.Do("POST", "/set?v=a@example.com")
	if got := sessiontest.Inspect(t, c); got.Key != "session:"+c.Cookie {
		t.Errorf("Key = %q, want session:<cookie>", got.Key)
	}

	srv.Do("PERSIST", "session:"+c.Cookie)
	if got := sessiontest.Inspect(t, c); !got.TTLKnown || got.TTL >= 0 {
		t.Errorf("after PERSIST: TTL = %v (known %v), want negative", got.TTL, got.TTLKnown)
	}

	srv.Stop()
	if r := c.Do("GET", "/inspect"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("Redis down: GET /inspect = %d %s, want 503", r.Status, r.Body)
	}
}
