package memcachedtest_test

import (
	"net"
	"strings"
	"testing"

	"github.com/sessionsvc/sessionsvc/internal/memcachedtest"
)

// A private server answers, keeps what it is given, and comes back empty on
// the same address after Restart; after Stop nothing answers there.
func TestStartRestartStop(t *testing.T) {
	s := memcachedtest.Start(t)
	if got := s.Do("version"); !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("version = %q", got)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("set k 0 60 1\r\nx\r\n"))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	c.Close()
	if got := string(buf[:n]); got != "STORED\r\n" {
		t.Fatalf("set = %q", got)
	}
	if got := s.Items(); got != 1 {
		t.Errorf("curr_items = %d, want 1", got)
	}

	addr := s.Addr()
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("restarted on %s, want %s", s.Addr(), addr)
	}
	if got := s.Items(); got != 0 {
		t.Errorf("after Restart curr_items = %d, want 0", got)
	}
	if got := s.Do("mg k v"); got != "EN" {
		t.Errorf("after Restart mg k = %q, want EN (miss)", got)
	}

	s.Stop()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("something still answers after Stop")
	}
	s.Stop() // twice is fine
}

// Extra arguments reach memcached: a 1 KB item limit refuses a 2 KB item.
func TestExtraArguments(t *testing.T) {
	s := memcachedtest.Start(t, "-I", "1k", "-o", "slab_chunk_max=1024")
	if got := s.Stats(); got["threads"] == "" {
		t.Fatalf("stats = %v", got)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("set k 0 60 2048\r\n" + strings.Repeat("x", 2048) + "\r\n"))
	buf := make([]byte, 128)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); !strings.Contains(got, "too large") {
		t.Errorf("set of 2 KB = %q, want too large", got)
	}
}
