// Package mongotest gives tests a real MongoDB-wire server: a private
// FerretDB (scripts/ferretdb, SQLite files in a temporary directory) that
// the test starts on a free port and stops at cleanup, or the MongoDB at
// TEST_MONGODB_URL. Each test gets a database of its own, so that tests and
// packages running in parallel never collide; on a shared server it is
// dropped at cleanup.
//
// The FerretDB helper is a Go module of its own (it pins older versions of
// modules the service uses), built once per machine and version with the go
// command into the user's cache directory, under a name that carries a hash
// of its sources: the first test to need it after a change builds it (about
// a minute from a cold Go build cache), the others reuse it.
package mongotest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnvURL names the variable that points the tests at a real MongoDB
// instead of a private FerretDB.
const EnvURL = "TEST_MONGODB_URL"

// NamePrefix begins the name of every database this package hands out.
const NamePrefix = "sessionsvc_test_"

// Server is a MongoDB-wire server for one test.
type Server struct {
	// Database is a database name no other test uses.
	Database string

	uri    string
	t      testing.TB
	bin    string // the helper; "" for a shared server
	dir    string // the helper's state
	listen string // host:port, fixed after the first start

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closing it ends the helper
	exited chan struct{}
}

// Start returns the MongoDB at TEST_MONGODB_URL when that is set, and
// otherwise builds (once) and starts a private FerretDB, stopped at
// cleanup. It fails the test, saying what to do, when the helper cannot be
// built or started.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Database: NamePrefix + randomHex(8), t: t}
	if raw := os.Getenv(EnvURL); raw != "" {
		s.uri = raw
		t.Cleanup(s.dropDatabase)
		return s
	}
	bin, err := helper()
	if err != nil {
		t.Fatalf("cannot build the FerretDB test server: %v\n"+
			"It needs the go command in PATH and the Go module proxy (or a module cache holding github.com/FerretDB/FerretDB v1.24.2): "+
			"try `cd scripts/ferretdb && go build .`; or set %s to a MongoDB the tests may use (each test makes a database of its own and drops it).", err, EnvURL)
	}
	s.bin, s.dir, s.listen = bin, t.TempDir(), "127.0.0.1:0"
	t.Cleanup(s.Stop) // before the temporary directory's removal
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// URI is the server's mongodb:// URI (SESSION_MONGODB).
func (s *Server) URI() string { return s.uri }

// Shared reports whether the server is the MongoDB at TEST_MONGODB_URL,
// which tests cannot stop.
func (s *Server) Shared() bool { return s.bin == "" }

// Stop kills the private server at once, as a crash would; its data stays
// for Restart. It may be called twice. On a shared server it fails the
// test.
func (s *Server) Stop() {
	s.t.Helper()
	if s.Shared() {
		s.t.Fatal("cannot stop the shared MongoDB at " + EnvURL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.stdin.Close()
	s.cmd = nil
}

// Restart stops the private server and starts it again on the same port
// and directory: it keeps its data, as a MongoDB would.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Client returns a client of the server, disconnected at cleanup, for
// tests that look at documents and indexes directly.
func (s *Server) Client(t testing.TB) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(s.uri).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c
}

// start runs the helper and reads the URI it prints once it accepts
// connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.bin, "-dir", s.dir, "-listen", s.listen)
	log, err := os.OpenFile(filepath.Join(s.dir, "ferretdb.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stderr = log
	stdin, err := cmd.StdinPipe() // held open: the helper ends when this process does
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the FerretDB test server: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, stdout)
	}()
	fail := func(why string) error {
		cmd.Process.Kill()
		<-exited
		stdin.Close()
		out, _ := os.ReadFile(filepath.Join(s.dir, "ferretdb.log"))
		return fmt.Errorf("the FerretDB test server %s:\n%s", why, out)
	}
	select {
	case l := <-line:
		u, err := url.Parse(l)
		if err != nil || u.Scheme != "mongodb" || u.Host == "" {
			return fail(fmt.Sprintf("printed %q, not a mongodb:// URI", l))
		}
		s.uri, s.listen = l, u.Host
	case <-time.After(30 * time.Second):
		return fail("did not start within 30s")
	}
	s.cmd, s.stdin, s.exited = cmd, stdin, exited
	return nil
}

// dropDatabase drops the test's database on a shared server.
func (s *Server) dropDatabase() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(s.uri))
	if err != nil {
		s.t.Errorf("drop test database %s: %v", s.Database, err)
		return
	}
	defer c.Disconnect(ctx)
	if err := c.Database(s.Database).Drop(ctx); err != nil {
		s.t.Errorf("drop test database %s: %v", s.Database, err)
	}
}

// built is the helper binary once this process has it.
var built struct {
	sync.Mutex
	path string
}

// helper returns the path of the FerretDB helper, building it when the
// cache has no binary for the current sources. Test processes take turns
// through a lock file, so that parallel packages build it once.
func helper() (string, error) {
	built.Lock()
	defer built.Unlock()
	if built.path != "" {
		return built.path, nil
	}
	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cache = filepath.Join(cache, "sessionsvc")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "ferretdb-"+hex.EncodeToString(h.Sum(nil))[:16])

	lock, err := os.OpenFile(filepath.Join(cache, "ferretdb.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err != nil {
		if err := build(src, bin); err != nil {
			return "", err
		}
	}
	built.path = bin
	return bin, nil
}

// build compiles the helper in src to bin, through a temporary file, so
// that bin is whole or absent.
func build(src, bin string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return errors.New("the go command is not in PATH")
	}
	tmp := bin + ".tmp" + randomHex(4)
	cmd := exec.Command(goCmd, "build", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false") // the build lists of the caller are not the helper's
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build in %s: %w\n%s", src, err, out)
	}
	return os.Rename(tmp, bin)
}

// sourceDir finds scripts/ferretdb: beside this package's source file, or
// else under the module root above the working directory.
func sourceDir() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "ferretdb")
		if isHelperDir(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/sessionsvc/sessionsvc\n") {
			src := filepath.Join(dir, "scripts", "ferretdb")
			if isHelperDir(src) {
				return src, nil
			}
			tried = append(tried, src)
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("scripts/ferretdb not found (looked in %s)", strings.Join(append(tried, "the module root above "+wd), ", "))
}

func isHelperDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "main.go"))
	return err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
