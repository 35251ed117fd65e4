package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"log/slog"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/session"
)

// sessionLogKey is the gin context key of the session ID for the request
// log line, which shows its hash.
const sessionLogKey = "session"

// requestIDKey is the context key of the request ID.
type requestIDKey struct{}

// logRequests gives each request an ID (the client's X-Request-ID when
// well-formed, else a random one), echoes it, puts it in the request's
// context for every log line of the request, and writes one line per
// request once it is served. Session IDs appear only as idHasher hashes.
func (s *server) logRequests(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Writer.Header()["X-Request-Id"] = []string{id}
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))

	c.Next()

	route := c.FullPath()
	if route == "" {
		route = "(none)"
	}
	status, took := c.Writer.Status(), time.Since(start)
	s.ObserveRequest(c.Request.Method, route, status, took)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	sid := s.ids.hash(c.GetString(sessionLogKey))
	logFast(c.Request.Context(), s.lines, level, "request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
		slog.Duration("duration", took),
		slog.String("session", sid),
		slog.String("request_id", id),
	)
}

// logFast logs straight to h, leaving out empty string attributes:
// Logger.LogAttrs would capture the caller's stack for every line, for a
// source the handler never prints.
func logFast(ctx context.Context, h slog.Handler, level slog.Level, msg string, attrs ...slog.Attr) {
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	for _, a := range attrs {
		if a.Value.Kind() != slog.KindString || a.Value.String() != "" {
			r.AddAttrs(a)
		}
	}
	h.Handle(ctx, r)
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

// requestIDHandler adds the request ID in a record's context as the
// request_id attribute.
type requestIDHandler struct{ slog.Handler }

func withRequestID(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// idHasher turns session IDs into what logs show for them: the first 12
// hex digits of their HMAC under the log key. Stable across replicas that
// share the key, useless as a cookie.
// It reuses its HMAC states: keying one costs two SHA-256 blocks.
type idHasher struct{ macs *sync.Pool }

// idMAC is a keyed HMAC state and room for an ID and its sum.
type idMAC struct {
	h        hash.Hash
	buf, sum []byte
}

func newIDHasher(key []byte) idHasher {
	return idHasher{&sync.Pool{New: func() any { return &idMAC{h: hmac.New(sha256.New, key)} }}}
}

func (h idHasher) hash(id string) string {
	if id == "" {
		return ""
	}
	m := h.macs.Get().(*idMAC)
	defer h.macs.Put(m)
	m.h.Reset()
	m.buf = append(m.buf[:0], id...)
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	return hex.EncodeToString(m.sum[:6])
}

// SessionEventLogger returns a session.Config.Notify that logs each
// session event (created, renewed, destroyed, refused) with hashed IDs and
// the request ID.
func SessionEventLogger(logger *slog.Logger, key []byte) func(context.Context, session.Event, string, string) {
	h := withRequestID(logger.Handler())
	ids := newIDHasher(key)
	return func(ctx context.Context, e session.Event, id, oldID string) {
		logFast(ctx, h, slog.LevelInfo, "session "+string(e),
			slog.String("event", string(e)),
			slog.String("session", ids.hash(id)),
			slog.String("old_session", ids.hash(oldID)))
	}
}
