package logbuf

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the Writer's flushing
// goroutine while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		name      string
		json      bool
		log       func(l *slog.Logger)
		immediate bool // the line is out without a flush
	}{
		{"info waits", true, func(l *slog.Logger) { l.Info("request", "status", 200) }, false},
		{"text info waits", false, func(l *slog.Logger) { l.Info("request", "status", 200) }, false},
		{"warning goes out at once", true, func(l *slog.Logger) { l.Warn("slow") }, true},
		{"error goes out at once", true, func(l *slog.Logger) { l.Error("down") }, true},
		{"text error goes out at once", false, func(l *slog.Logger) { l.Error("down") }, true},
		{"error with attrs goes out at once", true, func(l *slog.Logger) { l.With("k", "v").WithGroup("g").Error("down") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &syncBuffer{}
			logger, buf := newLogger(out, tc.json, time.Hour)
			tc.log(logger)
			if got := out.String() != ""; got != tc.immediate {
				t.Errorf("written before any flush: %v, want %v (%q)", got, tc.immediate, out.String())
			}
			if err := buf.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if n := strings.Count(out.String(), "\n"); n != 1 {
				t.Fatalf("after Close: %d lines, want 1: %q", n, out.String())
			}
			if got := json.Valid([]byte(out.String())); got != tc.json {
				t.Errorf("JSON line: %v, want %v (%q)", got, tc.json, out.String())
			}
		})
	}
}

// TestNewLoggerWritesAsJSONHandler: in JSON, lines are what slog's
// JSONHandler writes, byte for byte.
func TestNewLoggerWritesAsJSONHandler(t *testing.T) {
	var got, want bytes.Buffer
	logger, buf := newLogger(&got, true, time.Hour)
	r := requestLine()
	logger.Handler().Handle(t.Context(), r)
	buf.Close()
	slog.NewJSONHandler(&want, nil).Handle(t.Context(), r)
	if got.String() != want.String() {
		t.Errorf("wrote\n%s\nslog's JSONHandler\n%s", got.String(), want.String())
	}
}

func TestWriterFlushesPeriodically(t *testing.T) {
	out := &syncBuffer{}
	logger, buf := newLogger(out, true, 10*time.Millisecond)
	defer buf.Close()
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

// requestLine is a record like the service's request log line for an
// anonymous page.
func requestLine() slog.Record {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", "GET"), slog.String("route", "/get_email"), slog.Int("status", 200),
		slog.Int("bytes", 1137), slog.Duration("duration", 123456), slog.String("request_id", "0123456789abcdef"))
	return r
}

// BenchmarkRequestLine writes request lines through slog.JSONHandler from
// parallel goroutines to a real file, once straight ("direct") and once
// through NewLogger's buffer ("logbuf"). The file is a pipe that another
// goroutine drains, as a container runtime drains a container's standard
// output, or /dev/null. Besides ns/op it reports, from /proc/self, the CPU
// time the process spent per line (user and system, in 10 ms ticks: steadier
// than ns/op when other jobs share the machine) and its read and write
// system calls per line (the pipe's reader makes the reads).
func BenchmarkRequestLine(b *testing.B) {
	for _, sink := range []struct {
		name string
		open func(b *testing.B) *os.File
	}{
		{"pipe", drainedPipe},
		{"devnull", devNull},
	} {
		for _, buffered := range []bool{false, true} {
			name := sink.name + "/direct"
			if buffered {
				name = sink.name + "/logbuf"
			}
			b.Run(name, func(b *testing.B) {
				f := sink.open(b)
				var h slog.Handler = slog.NewJSONHandler(f, nil)
				flush := func() {}
				if buffered {
					logger, buf := NewLogger(f, true)
					defer buf.Close()
					h, flush = logger.Handler(), func() { buf.Flush() }
				}
				ctx := context.Background()
				b.ReportAllocs()
				u0, counted := readUsage()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						h.Handle(ctx, requestLine())
					}
				})
				flush()
				if u1, _ := readUsage(); counted {
					n := float64(b.N)
					b.ReportMetric(float64(u1.cpu-u0.cpu)/n, "cpu-ns/op")
					b.ReportMetric(float64(u1.syscr-u0.syscr)/n, "syscr/op")
					b.ReportMetric(float64(u1.syscw-u0.syscw)/n, "syscw/op")
				}
			})
		}
	}
}

// drainedPipe returns the write end of a pipe whose read end a goroutine
// reads until the benchmark ends.
func drainedPipe(b *testing.B) *os.File {
	b.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(io.Discard, r)
	}()
	b.Cleanup(func() {
		w.Close()
		<-done
		r.Close()
	})
	return w
}

func devNull(b *testing.B) *os.File {
	b.Helper()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// usage is what this process has spent so far.
type usage struct {
	cpu          time.Duration // user and system
	syscr, syscw int64         // read and write system calls
}

// readUsage reads /proc/self/stat and /proc/self/io; ok is false where
// they are not to be had (not Linux).
func readUsage() (u usage, ok bool) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return u, false
	}
	// After the command's name in parentheses: state is field 3, utime and
	// stime fields 14 and 15, in ticks of 1/100 s.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return u, false
	}
	for _, f := range fields[11:13] {
		ticks, _ := strconv.ParseInt(f, 10, 64)
		u.cpu += time.Duration(ticks) * 10 * time.Millisecond
	}
	io, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return u, false
	}
	for line := range strings.Lines(string(io)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscr":
			u.syscr = n
		case "syscw":
			u.syscw = n
		}
	}
	return u, true
}
