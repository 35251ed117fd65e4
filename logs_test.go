package main

import (
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
