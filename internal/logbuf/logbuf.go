// Package logbuf builds the service's logger: slog's own handlers (JSON or
// text) writing through a buffer that gathers lines into writes of up to
// 32 KiB. Info lines reach the output within FlushInterval, warnings and
// errors at once, the rest on Close.
//
// The buffer saves a system call per request line. Straight to a pipe that
// another goroutine drains, as a container runtime drains a container's
// standard output, the request line cost 1.43 µs and 1.003 write(2); through
// the buffer 1.08 µs and 0.011 write(2), one per 93 lines (medians of ten
// runs, on a 2-vCPU virtual machine shared with other jobs):
//
//	go test -run '^$' -bench RequestLine -count 10 -cpu 1 ./internal/logbuf
//
// To /dev/null, 1.43 against 1.00 µs of CPU. A second run of the command
// measured 2.23 against 1.26 µs to the pipe, 1.68 against 1.20 µs of CPU to
// /dev/null. An anonymous page cost the service 18 µs of CPU in all in the
// README's run of scripts/bench.sh: the buffer is worth 2 to 5% of it.
package logbuf

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// FlushInterval bounds how long an info line waits in the buffer.
const FlushInterval = 100 * time.Millisecond

// NewLogger returns a logger that writes JSON lines (slog.JSONHandler) to w
// when json is true, text lines (slog.TextHandler) otherwise, through a
// Writer: info lines reach w within FlushInterval, warnings and errors at
// once. Close the Writer to stop its flushing and write out the rest.
func NewLogger(w io.Writer, json bool) (*slog.Logger, *Writer) {
	return newLogger(w, json, FlushInterval)
}

func newLogger(w io.Writer, json bool, interval time.Duration) (*slog.Logger, *Writer) {
	buf := newWriter(w, interval)
	var h slog.Handler = slog.NewTextHandler(buf, nil)
	if json {
		h = slog.NewJSONHandler(buf, nil)
	}
	return slog.New(flushOnWarn{h, buf}), buf
}

// Writer gathers lines into writes of up to 32 KiB. Lines reach the
// underlying writer when the buffer fills, every interval, on Flush and on
// Close. Safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// newWriter returns a Writer over w that flushes every interval until
// Close.
func newWriter(w io.Writer, interval time.Duration) *Writer {
	b := &Writer{w: bufio.NewWriterSize(w, 32<<10), stop: make(chan struct{}), done: make(chan struct{})}
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

// Write buffers p; slog's handlers write one whole line per call, so lines
// are never torn.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Buffered() == 0 {
		return nil
	}
	return b.w.Flush()
}

// Close stops the periodic flush and flushes. Writes after Close still
// buffer, and reach the writer only on a later Flush.
func (b *Writer) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}

// flushOnWarn sends warnings and errors out at once rather than with the
// next periodic flush: they may come just before the process dies.
type flushOnWarn struct {
	slog.Handler
	buf *Writer
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
