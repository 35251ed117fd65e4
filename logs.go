package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// logFlushInterval bounds how long an info line waits in the log buffer.
const logFlushInterval = 100 * time.Millisecond

// logBuffer gathers log lines into few large writes: one request log line
// per write(2) would cost as much as the response itself. Lines reach the
// underlying writer when the buffer (32 KiB) fills, every interval, on
// Flush and on Close. Safe for concurrent use.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 32<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write buffers p; slog's handlers write one whole line per call.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Buffered() == 0 {
		return nil
	}
	return b.w.Flush()
}

// Close stops the periodic flush and flushes. Writes after Close still
// buffer, and reach the writer only on a later Flush.
func (b *logBuffer) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}

// flushOnWarn sends warnings and errors out at once rather than with the
// next periodic flush: they may come just before the process dies.
type flushOnWarn struct {
	slog.Handler
	buf *logBuffer
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.buf.Flush()
	}
	return err
}

func (h flushOnWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnWarn{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{h.Handler.WithGroup(name), h.buf}
}

// flatJSON writes the records that are flat (no groups, no attributes added
// with WithAttrs) and simple (every value a string of printable ASCII, an
// integer, a bool or a duration) byte for byte as its slog.JSONHandler
// would, with a few appends into a pooled buffer instead of slog's generic
// encoder: the request line, one per request, is such a record, and costs
// less than half as much (go test -bench RequestLine). Any other record goes
// to the JSONHandler.
type flatJSON struct {
	*slog.JSONHandler
	w io.Writer
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledLine bounds the buffers kept for reuse: one huge line must not
// keep its memory for ever.
const maxPooledLine = 16 << 10

func (h flatJSON) Handle(ctx context.Context, r slog.Record) error {
	p := linePool.Get().(*[]byte)
	line, ok := appendFlatJSON((*p)[:0], r)
	if cap(line) <= maxPooledLine {
		*p = line
		defer linePool.Put(p)
	}
	if !ok {
		return h.JSONHandler.Handle(ctx, r)
	}
	_, err := h.w.Write(line)
	return err
}

func (h flatJSON) WithAttrs(attrs []slog.Attr) slog.Handler { return h.JSONHandler.WithAttrs(attrs) }

func (h flatJSON) WithGroup(name string) slog.Handler { return h.JSONHandler.WithGroup(name) }

// appendFlatJSON appends r as slog.JSONHandler (default options) writes it,
// or reports false when r is not flat and simple.
func appendFlatJSON(b []byte, r slog.Record) ([]byte, bool) {
	if y := r.Time.Year(); r.Time.IsZero() || y < 0 || y >= 10000 {
		return b, false
	}
	b = append(b, `{"time":"`...)
	b = r.Time.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b, ok := appendPlainJSON(b, r.Level.String())
	b = append(b, `,"msg":`...)
	if b, ok = appendPlainJSON(b, r.Message); !ok {
		return b, false
	}
	r.Attrs(func(a slog.Attr) bool {
		b = append(b, ',')
		if b, ok = appendPlainJSON(b, a.Key); !ok || a.Key == "" {
			ok = false
			return false
		}
		b = append(b, ':')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			b, ok = appendPlainJSON(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = strconv.AppendInt(b, int64(v.Duration()), 10)
		default:
			ok = false
		}
		return ok
	})
	return append(b, "}\n"...), ok
}

// appendPlainJSON appends s as a JSON string if no character of it needs
// escaping (printable ASCII other than '"' and '\'), or reports false.
func appendPlainJSON(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}
