package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogBuffer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		log       func(buf *logBuffer)
		immediate bool // the line is out without a flush
	}{
		{"info waits", func(buf *logBuffer) { newLogger("release", buf).Info("request", "status", 200) }, false},
		{"warning goes out at once", func(buf *logBuffer) { newLogger("release", buf).Warn("slow") }, true},
		{"error goes out at once", func(buf *logBuffer) { newLogger("debug", buf).Error("down") }, true},
		{"error with attrs goes out at once", func(buf *logBuffer) { newLogger("release", buf).With("k", "v").WithGroup("g").Error("down") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &syncBuffer{}
			buf := newLogBuffer(out, time.Hour)
			tc.log(buf)
			if got := out.String() != ""; got != tc.immediate {
				t.Errorf("written before any flush: %v, want %v (%q)", got, tc.immediate, out.String())
			}
			buf.Close()
			if n := strings.Count(out.String(), "\n"); n != 1 {
				t.Errorf("after Close: %d lines, want 1: %q", n, out.String())
			}
		})
	}
}

func TestLogBufferFlushesPeriodically(t *testing.T) {
	out := &syncBuffer{}
	buf := newLogBuffer(out, 10*time.Millisecond)
	defer buf.Close()
	logger := newLogger("release", buf)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				logger.Info("request", "route", "/get_email")
			}
		})
	}
	wg.Wait()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out.String(), "\n") < 800; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 800 lines written after 5s", strings.Count(out.String(), "\n"))
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, `{"time":`) || !strings.HasSuffix(line, `"route":"/get_email"}`) {
			t.Fatalf("torn line %q", line)
		}
	}
}

// TestFlatJSONMatchesSlog checks that flatJSON writes what slog's
// JSONHandler writes, for the records it takes and those it hands on.
func TestFlatJSONMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 26, 4, 5, 6, 789_000_000, time.FixedZone("", 3600))
	for _, tc := range []struct {
		name  string
		level slog.Level
		time  time.Time
		msg   string
		attrs []slog.Attr
		fast  bool // written by flatJSON itself
	}{
		{"request line", slog.LevelInfo, at, "request", []slog.Attr{
			slog.String("method", "GET"), slog.String("route", "/get_email"), slog.Int("status", 200),
			slog.Int("bytes", 1137), slog.Duration("duration", 123456789), slog.String("session", "0123456789ab"),
			slog.String("request_id", "a.b_c-d"),
		}, true},
		{"other kinds", slog.LevelError + 2, time.Now(), "x", []slog.Attr{
			slog.Uint64("u", 1<<63), slog.Bool("b", true), slog.Int64("neg", -5), slog.String("empty", ""), slog.String("k", "v"),
		}, true},
		{"no attrs", slog.LevelWarn, at, "", nil, true},
		{"longer than a pooled buffer", slog.LevelInfo, at, "m", []slog.Attr{slog.String("k", strings.Repeat("x", 2*maxPooledLine))}, true},
		{"quote in value", slog.LevelInfo, at, "m", []slog.Attr{slog.String("k", `say "hi"`)}, false},
		{"newline in message", slog.LevelInfo, at, "a\nb", nil, false},
		{"non-ASCII", slog.LevelInfo, at, "m", []slog.Attr{slog.String("k", "née")}, false},
		{"invalid UTF-8 key", slog.LevelInfo, at, "m", []slog.Attr{slog.String("\xff", "v")}, false},
		{"group", slog.LevelInfo, at, "m", []slog.Attr{slog.Group("g", slog.Int("a", 1))}, false},
		{"float", slog.LevelInfo, at, "m", []slog.Attr{slog.Float64("f", 1.5)}, false},
		{"time value", slog.LevelInfo, at, "m", []slog.Attr{slog.Time("t", at)}, false},
		{"any", slog.LevelInfo, at, "m", []slog.Attr{slog.Any("err", errors.New("boom"))}, false},
		{"empty attr", slog.LevelInfo, at, "m", []slog.Attr{{}, slog.Int("a", 1)}, false},
		{"zero time", slog.LevelInfo, time.Time{}, "m", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := slog.NewRecord(tc.time, tc.level, tc.msg, 0)
			r.AddAttrs(tc.attrs...)
			if _, fast := appendFlatJSON(nil, r); fast != tc.fast {
				t.Errorf("written by flatJSON itself: %v, want %v", fast, tc.fast)
			}
			checkFlatJSON(t, r)
		})
	}
}

// checkFlatJSON checks that flatJSON writes r as slog's JSONHandler does.
func checkFlatJSON(t *testing.T, r slog.Record) {
	t.Helper()
	var want, got bytes.Buffer
	slog.NewJSONHandler(&want, nil).Handle(context.Background(), r)
	flatJSON{slog.NewJSONHandler(&got, nil), &got}.Handle(context.Background(), r)
	if got.String() != want.String() {
		t.Errorf("flatJSON wrote\n%s\nslog's JSONHandler\n%s", got.String(), want.String())
	}
}

// FuzzFlatJSON: whatever the strings, flatJSON writes what slog's
// JSONHandler writes.
func FuzzFlatJSON(f *testing.F) {
	f.Add("request", "route", "/get_email", int64(200))
	f.Add("m", "k", "\"\\\x00\u2028é", int64(-1))
	f.Fuzz(func(t *testing.T, msg, key, value string, n int64) {
		r := slog.NewRecord(time.Unix(0, n), slog.Level(n%16), msg, 0)
		r.AddAttrs(slog.String(key, value), slog.Int64("n", n), slog.Duration(value, time.Duration(n)))
		checkFlatJSON(t, r)
	})
}

// BenchmarkRequestLine is the request line through the release logger's
// handler, beside slog's JSONHandler alone.
func BenchmarkRequestLine(b *testing.B) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", "GET"), slog.String("route", "/get_email"), slog.Int("status", 200),
		slog.Int("bytes", 1137), slog.Duration("duration", 123456), slog.String("session", "0123456789ab"),
		slog.String("request_id", "0123456789abcdef"))
	for _, h := range []struct {
		name string
		h    slog.Handler
	}{
		{"flatJSON", flatJSON{slog.NewJSONHandler(io.Discard, nil), io.Discard}},
		{"JSONHandler", slog.NewJSONHandler(io.Discard, nil)},
	} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.h.Handle(context.Background(), r)
			}
		})
	}
}
