package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
)

// exposition returns what a scrape of m shows.
func exposition(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestLabelsStayBounded(t *testing.T) {
	m := New()
	for _, tc := range []struct {
		method string
		status int
		want   string
	}{
		{"GET", 200, `method="GET",route="/r",status="200"`},
		{"BREW", 405, `method="OTHER",route="/r",status="405"`},
		{"GET", 1000, `method="GET",route="/r",status="other"`},
	} {
		m.ObserveRequest(tc.method, "/r", tc.status, time.Millisecond)
		if out := exposition(t, m); !strings.Contains(out, "sessionsvc_http_request_duration_seconds_count{"+tc.want+"} 1") {
			t.Errorf("%s %d: no series {%s}:\n%s", tc.method, tc.status, tc.want, out)
		}
	}
}

func TestStoreAndSessionSeries(t *testing.T) {
	m := New()
	out := exposition(t, m)
	for _, s := range []string{
		`sessionsvc_store_errors_total{op="refresh"} 0`,
		`sessionsvc_store_operation_duration_seconds_count{op="delete"} 0`,
		`sessionsvc_store_operation_duration_seconds_count{op="conflict"} 0`,
		`sessionsvc_sessions_total{event="renewed"} 0`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("series %s missing before any event", s)
		}
	}
	m.ObserveStore(session.OpSave, time.Millisecond, nil)
	m.ObserveStore(session.OpSave, time.Second, errors.New("down"))
	m.CountEvent(t.Context(), session.Renewed, "", "")
	m.WatchPool(func() session.PoolStats {
		return session.PoolStats{Active: 5, Idle: 2, Waiting: 3, Waits: 7, WaitTime: 1500 * time.Millisecond}
	})
	out = exposition(t, m)
	for _, s := range []string{
		`sessionsvc_store_operation_duration_seconds_count{op="save"} 2`,
		`sessionsvc_store_errors_total{op="save"} 1`,
		`sessionsvc_sessions_total{event="renewed"} 1`,
		"sessionsvc_redis_pool_active_connections 5",
		"sessionsvc_redis_pool_idle_connections 2",
		"sessionsvc_redis_pool_waiting 3",
		"sessionsvc_redis_pool_waits_total 7",
		"sessionsvc_redis_pool_wait_seconds_total 1.5",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("no %s in:\n%s", s, out)
		}
	}
}

// BenchmarkObserveRequest is what metrics add to every request.
func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("GET", "/get_email", 200, 250*time.Microsecond)
		}
	})
}

// BenchmarkObserveStore is what metrics add to every store operation.
func BenchmarkObserveStore(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveStore(session.OpLoad, 100*time.Microsecond, nil)
		}
	})
}
