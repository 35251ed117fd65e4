package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// handleHealthz answers 200 while the process runs; it touches no store.
func handleHealthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// The public /readyz bodies: the status and nothing else.
var (
	readyBody       = []byte(`{"status":"ready"}`)
	unavailableBody = []byte(`{"status":"unavailable"}`)
)

// handleReadyz answers 200 {"status":"ready"} when the session store
// answers, 503 {"status":"unavailable"} otherwise. The public port tells
// no more: where the store is and why it fails are for operators, on the
// metrics listener (Readiness.ServeHTTP) and in the log.
func (s *server) handleReadyz(c *gin.Context) {
	if s.Readiness.check(c.Request.Context()).err != nil {
		c.Data(http.StatusServiceUnavailable, "application/json; charset=utf-8", unavailableBody)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", readyBody)
}

// ReadyStore is what readiness asks of the session store.
type ReadyStore interface {
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Describe tells where the store keeps sessions (Redis: the server's
	// address; with Sentinel, the current master's).
	Describe() map[string]string
}

// Readiness checks whether the session store answers. The public GET
// /readyz tells only that; ServeHTTP, for the metrics listener, tells the
// details. It logs them when the store stops answering (an error) and when
// it answers again, once per change however often it is asked.
type Readiness struct {
	store  ReadyStore
	name   string
	logger *slog.Logger

	mu   sync.Mutex
	down bool // the last check failed
}

// NewReadiness returns the readiness of store, named name ("redis",
// "filesystem", "cookie") in its details and logs. It starts out ready: a
// first check that fails is logged.
func NewReadiness(store ReadyStore, name string, logger *slog.Logger) *Readiness {
	return &Readiness{store: store, name: name, logger: slog.New(withRequestID(logger.Handler()))}
}

// readyCheck is the outcome of one check.
type readyCheck struct {
	err     error
	latency time.Duration
	about   map[string]string // the store's Describe
}

// check pings the store and logs a change of state.
func (r *Readiness) check(ctx context.Context) readyCheck {
	start := time.Now()
	err := r.store.Ping(ctx)
	rc := readyCheck{err: err, latency: time.Since(start), about: r.store.Describe()}
	r.mu.Lock()
	changed := r.down != (err != nil)
	r.down = err != nil
	r.mu.Unlock()
	if changed {
		attrs := []any{"store", r.name, "latency", rc.latency}
		for k, v := range rc.about {
			attrs = append(attrs, k, v)
		}
		if err != nil {
			r.logger.ErrorContext(ctx, "session store not ready", append(attrs, "error", err)...)
		} else {
			r.logger.InfoContext(ctx, "session store ready again", attrs...)
		}
	}
	return rc
}

// ServeHTTP answers 200 when the store answers, 503 otherwise, with JSON
// that names the store, its round-trip time, what the store tells about
// itself (Redis: the server's address) and, on failure, the error. None of
// it holds a password: URLs are not part of store errors, and addresses
// carry no credentials. It is meant for the metrics listener, never the
// public port.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rc := r.check(req.Context())
	body := map[string]any{"status": "ready", "store": r.name, "latency_ms": float64(rc.latency.Microseconds()) / 1000}
	for k, v := range rc.about {
		body[k] = v
	}
	status := http.StatusOK
	if rc.err != nil {
		status = http.StatusServiceUnavailable
		body["status"], body["error"] = "unavailable", rc.err.Error()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
