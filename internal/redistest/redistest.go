// Package redistest gives tests a real Redis: a private redis-server that the
// test starts on a unix socket in a temporary directory (so parallel test
// packages never collide) and stops at cleanup, or the Redis at REDIS_URL.
// For replication and Sentinel it starts servers on free loopback ports
// (tcp.go). The fault-injection tool uses it too, through T.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// Server is a Redis for one test.
type Server struct {
	// URL is the address to give the code under test (SESSION_REDIS).
	URL string
	// Prefix is a key prefix no other test uses: "session:" on a private
	// server, "test-<random>:session:" on a shared one.
	Prefix string

	dir     string
	args    []string
	network string // where the server listens: "unix" or "tcp"
	addr    string // the socket's path or host:port
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	t       T
}

// T is the part of testing.TB this package uses, so that programs other
// than tests can start servers too.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
	Cleanup(func())
}

var _ T = testing.TB(nil)

// missing is the message for a machine without Redis.
const missing = "redis-server not found in PATH: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a Redis the tests may use"

// New returns the Redis at REDIS_URL when that is set, with a key prefix of
// its own, and otherwise starts a private one (see Start).
func New(t T) *Server {
	t.Helper()
	if url := os.Getenv("REDIS_URL"); url != "" {
		return &Server{URL: url, Prefix: "test-" + randomHex(8) + ":session:", t: t}
	}
	return Start(t)
}

// Start starts a private redis-server that keeps nothing on disk, listening
// only on a unix socket, with extra arguments appended to its command line
// (e.g. "--requirepass", "pw"). It fails the test when redis-server is
// missing.
func Start(t T, extra ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal(missing)
	}
	dir := mkdir(t)
	sock := filepath.Join(dir, "redis.sock")
	s := &Server{
		URL:     "unix://" + sock,
		Prefix:  "session:",
		dir:     dir,
		args:    append([]string{"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700"}, baseArgs(dir, extra)...),
		network: "unix",
		addr:    sock,
		t:       t,
	}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// baseArgs are the arguments every private server gets: nothing kept on
// disk unless extra says otherwise, files in dir.
func baseArgs(dir string, extra []string) []string {
	return append([]string{"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, extra...)
}

// mkdir makes the temporary directory of one server.
func mkdir(t T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "redis") // short: socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// start runs redis-server and waits until it answers.
func (s *Server) start() error {
	cmd := exec.Command("redis-server", s.args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	go func() { cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			s.cmd = nil
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server exited at start:\n%s", log)
		default:
		}
		if c, err := redis.Dial(s.network, s.addr, redis.DialConnectTimeout(time.Second)); err == nil {
			c.Close()
			return nil
		}
	}
	s.Stop()
	return errors.New("redis-server did not answer within 10s")
}

// Stop kills the server at once, as a crash would. It may be called twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
	if s.network == "unix" {
		os.Remove(s.addr)
	}
}

// Restart starts a stopped server again on the same address: empty, unless
// it was started with persistence (e.g. "--appendonly", "yes").
func (s *Server) Restart() {
	s.t.Helper()
	if s.dir == "" {
		s.t.Fatal("cannot restart the shared Redis at REDIS_URL")
	}
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Do runs one command on a fresh connection and fails the test on error.
func (s *Server) Do(cmd string, args ...any) any {
	s.t.Helper()
	c, err := dialURL(s.URL)
	if err != nil {
		s.t.Fatalf("connect to test redis: %v", err)
	}
	defer c.Close()
	reply, err := c.Do(cmd, args...)
	if err != nil {
		s.t.Fatalf("redis %s: %v", cmd, err)
	}
	return reply
}

// Keys lists the keys under the server's prefix, using SCAN.
func (s *Server) Keys() []string {
	s.t.Helper()
	var keys []string
	cursor := 0
	for {
		reply, err := redis.Values(s.Do("SCAN", cursor, "MATCH", s.Prefix+"*", "COUNT", 1000), nil)
		if err != nil {
			s.t.Fatal(err)
		}
		cursor, _ = redis.Int(reply[0], nil)
		page, _ := redis.Strings(reply[1], nil)
		keys = append(keys, page...)
		if cursor == 0 {
			return keys
		}
	}
}

// Dial opens a connection to the server, with opts.
func (s *Server) Dial(ctx context.Context, opts ...redis.DialOption) (redis.Conn, error) {
	if sock, ok := strings.CutPrefix(s.URL, "unix://"); ok {
		return redis.DialContext(ctx, "unix", sock, opts...)
	}
	return redis.DialURLContext(ctx, s.URL, opts...)
}

func dialURL(url string, opts ...redis.DialOption) (redis.Conn, error) {
	if sock, ok := strings.CutPrefix(url, "unix://"); ok {
		return redis.Dial("unix", sock, opts...)
	}
	return redis.DialURL(url, opts...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
