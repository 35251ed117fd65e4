// Package memcachedtest gives tests a real Memcached: a private memcached
// that the test starts on a free port of 127.0.0.1 and stops at cleanup, or
// the Memcached at TEST_MEMCACHED, shared, with a key prefix of the test's
// own.
package memcachedtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// missing is the message for a machine without Memcached.
const missing = "memcached not found in PATH: install it (Debian/Ubuntu: apt-get install memcached; macOS: brew install memcached) or set TEST_MEMCACHED to the host:port of a Memcached the tests may use"

// Server is a Memcached for one test.
type Server struct {
	// Prefix is a key prefix no other test uses: "session:" on a private
	// server, "test-<random>:session:" on a shared one.
	Prefix string

	t      testing.TB
	addr   string // host:port
	args   []string
	shared bool

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	stderr *bytes.Buffer // what memcached said, for errors at start
}

// New returns the Memcached at TEST_MEMCACHED when that is set, with a key
// prefix of its own, and otherwise starts a private one (see Start). A
// shared server cannot be stopped or restarted.
func New(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv("TEST_MEMCACHED"); addr != "" {
		return &Server{Prefix: "test-" + randomHex(8) + ":session:", t: t, addr: addr, shared: true}
	}
	return Start(t)
}

// Start starts a private memcached on a free port of 127.0.0.1, with 64 MB
// of memory, no UDP, and extra arguments appended to its command line (for
// example "-I", "2k"). When the tests run as root it runs as nobody
// (memcached refuses to run as root otherwise). It fails the test when
// memcached is missing, and stops the server at cleanup.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("memcached"); err != nil {
		t.Fatal(missing)
	}
	s := &Server{Prefix: "session:", t: t}
	t.Cleanup(s.Stop)
	var err error
	for range 5 { // the free port may be taken before memcached binds it
		var port string
		if port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		s.addr = "127.0.0.1:" + port
		s.args = append([]string{"-l", "127.0.0.1", "-p", port, "-U", "0", "-m", "64"}, extra...)
		if os.Geteuid() == 0 {
			s.args = append(s.args, "-u", "nobody")
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatal(err)
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// start runs memcached and waits until it answers.
func (s *Server) start() error {
	cmd := exec.Command("memcached", s.args...)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start memcached: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.stderr = cmd, exited, stderr
	s.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("memcached %s exited at start: %s", strings.Join(s.args, " "), strings.TrimSpace(stderr.String()))
		default:
		}
		if reply, err := s.try("version"); err == nil && strings.HasPrefix(reply, "VERSION") {
			return nil
		}
	}
	s.Stop()
	return errors.New("memcached did not answer within 10s")
}

// Stop kills the server at once, as a crash would. It may be called twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart stops the server and starts a fresh, empty one on the same port,
// as a restart of a real Memcached would leave it.
func (s *Server) Restart() {
	s.t.Helper()
	if s.shared {
		s.t.Fatal("cannot restart the shared Memcached at TEST_MEMCACHED")
	}
	s.Stop()
	var err error
	for range 50 { // the port may be held for a moment after the kill
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal(err)
}

// Do sends one line of the text protocol (a command without data, such as
// "mg KEY t" or "version") on a fresh connection and returns the first line
// of the reply, without its CRLF. It fails the test on a network error.
func (s *Server) Do(line string) string {
	s.t.Helper()
	reply, err := s.try(line)
	if err != nil {
		s.t.Fatalf("memcached %s: %q: %v", s.addr, line, err)
	}
	return reply
}

func (s *Server) try(line string) (string, error) {
	c, r, err := s.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "%s\r\n", line); err != nil {
		return "", err
	}
	reply, err := r.ReadString('\n')
	return strings.TrimRight(reply, "\r\n"), err
}

// Stats returns the server's general statistics ("stats"), such as
// curr_items.
func (s *Server) Stats() map[string]string {
	s.t.Helper()
	c, r, err := s.dial()
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprint(c, "stats\r\n"); err != nil {
		s.t.Fatal(err)
	}
	stats := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("memcached %s: stats: %v", s.addr, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "END" {
			return stats
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "STAT" {
			stats[f[1]] = f[2]
		}
	}
}

// Items returns the number of items the server holds (curr_items). Only a
// private server's count is the test's own.
func (s *Server) Items() int {
	s.t.Helper()
	n, err := strconv.Atoi(s.Stats()["curr_items"])
	if err != nil {
		s.t.Fatalf("memcached %s: curr_items: %v", s.addr, err)
	}
	return n
}

func (s *Server) dial() (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c), nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
