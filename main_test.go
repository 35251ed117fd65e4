package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

// binary is the service built once for the tests that run it as a process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionsvc-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sessionsvc")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// syncBuffer is a bytes.Buffer safe to write from the server while a test
// reads it.
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

// startRun runs the service in-process with environ and waits until
// /healthz answers. It returns the base URL, the log and a function that
// stops the service and returns run's error.
func startRun(t *testing.T, environ ...string) (string, *syncBuffer, func() error) {
	t.Helper()
	t.Chdir(t.TempDir()) // no stray .env
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sessionsvc"}, append([]string{"HOME=" + t.TempDir(), "PORT=" + port}, environ...), logs, logs)
	}()
	base := "http://127.0.0.1:" + port
	waitHealthy(t, base, done)
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("run did not return after its context ended")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return base, logs, stop
}

// startBinary runs the built service with env (whose first entry is its
// PORT) in a directory of its own, and waits until it is healthy. It
// returns the process, its standard output and the channel its exit comes
// on.
func startBinary(t *testing.T, env []string) (cmd *exec.Cmd, out *syncBuffer, exited <-chan error) {
	t.Helper()
	cmd = exec.Command(binary)
	cmd.Dir, cmd.Env = t.TempDir(), env
	out = &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitHealthy(t, "http://127.0.0.1:"+strings.TrimPrefix(env[0], "PORT="), done)
	return cmd, out, done
}

// stopBinary sends cmd SIGTERM and returns how it exited, failing the test
// when it has not within 15 s.
func stopBinary(t *testing.T, cmd *exec.Cmd, exited <-chan error) error {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		return err
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no exit within 15s of SIGTERM")
		return nil
	}
}

func waitHealthy(t *testing.T, base string, exited <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("service exited at start: %v", err)
		default:
		}
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatal("service not healthy within 10s")
}

// waitForLog waits up to two seconds for want in the log: info lines reach
// it in batches (see logbuf.Writer).
func waitForLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, logs)
		}
	}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// setEmail posts the form and returns the session cookie ("name=value").
func setEmail(t *testing.T, base, email string) string {
	t.Helper()
	res, err := noRedirects.PostForm(base+"/set_email", url.Values{"email_address": {email}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 {
		t.Fatalf("POST /set_email = %d with cookies %v", res.StatusCode, res.Cookies())
	}
	return res.Cookies()[0].Name + "=" + res.Cookies()[0].Value
}

func TestRunServesAndShutsDownGracefully(t *testing.T) {
	srv := redistest.New(t)
	base, logs, stop := startRun(t, "SESSION_TYPE=redis", "SESSION_REDIS="+srv.URL, "SESSION_KEY_PREFIX="+srv.Prefix, "SESSION_USE_SIGNER=true")
	cookie := setEmail(t, base, "alice@example.com")
	if _, body := get(t, base+"/get_email", cookie); !strings.Contains(body, "<h1>Welcome alice@example.com!</h1>") {
		t.Fatalf("welcome page:\n%s", body)
	}

	// A request in flight when shutdown starts: headers sent, body not yet.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	form := "email_address=bob%40example.com"
	fmt.Fprintf(conn, "POST /set_email HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(form), form[:5])
	time.Sleep(100 * time.Millisecond) // let the server start reading it

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	waitForLog(t, logs, "shutting down")
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("new connections still accepted during shutdown")
	}
	fmt.Fprint(conn, form[5:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("in-flight request = %d, want 303", res.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run returned %v, want nil", err)
	}
	if len(srv.Keys()) != 2 {
		t.Errorf("keys = %q, want 2 sessions", srv.Keys())
	}
}

func TestRunShowsTheDebugPanelOnlyInDebugMode(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		panel bool
	}{{"debug", true}, {"release", false}} {
		t.Run(tc.mode, func(t *testing.T) {
			base, _, _ := startRun(t, "GIN_MODE="+tc.mode, "SECRET_KEY=9c1e4b7f02d6a35e8f41c07b9d2e6a13f5b80c4d7e29a16b3f0c85d4e7a2916b")
			cookie := setEmail(t, base, "alice@example.com")
			_, body := get(t, base+"/get_email", cookie)
			if !strings.Contains(body, "<h1>Welcome alice@example.com!</h1>") {
				t.Fatalf("welcome page:\n%s", body)
			}
			if got := strings.Contains(body, `<section class="debug"`); got != tc.panel {
				t.Errorf("debug panel shown = %v, want %v", got, tc.panel)
			}
		})
	}
}

// TestRunClearSiteDataOnlyWhenAsked: ending a session sends Clear-Site-Data
// only with SESSION_CLEAR_SITE_DATA=true; otherwise only the session cookie
// is expired.
func TestRunClearSiteDataOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		name, env, want string
	}{
		{"default", "", ""},
		{"false", "SESSION_CLEAR_SITE_DATA=false", ""},
		{"true", "SESSION_CLEAR_SITE_DATA=true", `"cookies"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _, _ := startRun(t, tc.env)
			cookie := setEmail(t, base, "alice@example.com")
			req, _ := http.NewRequest("POST", base+"/delete_session", nil)
			req.Header.Set("Cookie", cookie)
			res, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("POST /delete_session = %d", res.StatusCode)
			}
			if got := strings.Join(res.Header.Values("Clear-Site-Data"), ", "); got != tc.want {
				t.Errorf("Clear-Site-Data = %q, want %q", got, tc.want)
			}
			if c := res.Cookies(); len(c) != 1 || c[0].Name+"="+c[0].Value == cookie || c[0].MaxAge >= 0 {
				t.Errorf("cookies %v, want the session cookie expired", c)
			}
		})
	}
}

// TestRunSendsHSTSOnlyOverHTTPS: behind a trusted proxy that says the
// request came over HTTPS, every response carries Strict-Transport-Security
// (a year by default, HSTS_MAX_AGE otherwise, none for 0); over plain HTTP
// none does.
func TestRunSendsHSTSOnlyOverHTTPS(t *testing.T) {
	for _, tc := range []struct {
		name, env       string
		overHTTPS, http string // the header over HTTPS and over plain HTTP
	}{
		{"default", "", "max-age=31536000", ""},
		{"an hour", "HSTS_MAX_AGE=1h", "max-age=3600", ""},
		{"off", "HSTS_MAX_AGE=0", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _, _ := startRun(t, "TRUSTED_PROXIES=127.0.0.1", tc.env)
			for _, path := range []string{"/get_email", "/nowhere"} {
				for proto, want := range map[string]string{"https": tc.overHTTPS, "http": tc.http, "": tc.http} {
					req, _ := http.NewRequest("GET", base+path, nil)
					if proto != "" {
						req.Header.Set("X-Forwarded-Proto", proto)
					}
					res, err := noRedirects.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					if got := strings.Join(res.Header.Values("Strict-Transport-Security"), ", "); got != want {
						t.Errorf("GET %s, X-Forwarded-Proto %q: Strict-Transport-Security %q, want %q", path, proto, got, want)
					}
				}
			}
		})
	}
}

func TestRunWithRedisDownAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	base, logs, stop := startRun(t, "SESSION_TYPE=redis", "SESSION_REDIS="+srv.URL)
	if !strings.Contains(logs.String(), "session store not reachable at start") {
		t.Errorf("no start-up warning in log:\n%s", logs)
	}
	if code, _ := get(t, base+"/readyz", ""); code != 503 {
		t.Errorf("/readyz = %d, want 503", code)
	}
	if code, _ := get(t, base+"/get_email", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); code != 503 {
		t.Errorf("/get_email with a cookie = %d, want 503", code)
	}
	srv.Restart()
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz after Redis started = %d %s", code, body)
	}
	cookie := setEmail(t, base, "a@example.com")
	if _, body := get(t, base+"/get_email", cookie); !strings.Contains(body, "Welcome a@example.com!") {
		t.Errorf("after recovery:\n%s", body)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestRunReadsDotEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	port := freePort(t)
	os.WriteFile(".env", []byte("PORT="+port+"\nSESSION_TYPE=cookie\nPERMANENT_SESSION_LIFETIME=bogus\n"), 0o600)
	home := "HOME=" + t.TempDir()

	err := run(t.Context(), nil, []string{home}, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), `PERMANENT_SESSION_LIFETIME="bogus"`) {
		t.Fatalf("run with a bad value in .env = %v", err)
	}

	// The environment wins over .env; the rest of .env applies.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, []string{home, "PERMANENT_SESSION_LIFETIME=60"}, io.Discard, io.Discard) }()
	waitHealthy(t, "http://127.0.0.1:"+port, done)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run = %v", err)
	}
}

func TestBinaryRejectsBadConfig(t *testing.T) {
	shared := t.TempDir() // a session directory every local user can write
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ env, want string }{
		{"GIN_MODE=prod", `GIN_MODE="prod": accepted values are debug, release`},
		{"SESSION_TYPE=dynamodb", `SESSION_TYPE="dynamodb": accepted values are redis, memcached, sqlalchemy, sql, mongodb, mongo, filesystem, cookie, null`},
		{"GIN_MODE=release", `SECRET_KEY="": required when GIN_MODE=release`},
		{"SESSION_FILE_DIR=/proc/nope", `SESSION_FILE_DIR="/proc/nope": want a directory this process can create and write`},
		{"SESSION_FILE_DIR=" + shared, `SESSION_FILE_DIR="` + shared + `": want a directory this process can create and write, owned by its user and writable by no one else: ` + shared + ` is writable by its group or others (mode 0777)`},
		{"SESSION_COOKIE_DOMAIN=example.com/app", `SESSION_COOKIE_DOMAIN="example.com/app": want a domain name`},
		{"SESSION_COOKIE_PATH=/app;x", `SESSION_COOKIE_PATH="/app;x": want a path of printable ASCII characters but ";"`},
		{"SESSION_COOKIE_NAME=__HOST-s", `SESSION_COOKIE_NAME="__HOST-s": a __Host- cookie needs SESSION_COOKIE_SECURE=true`},
		{"GIN_MODE=release\x00SECRET_KEY=0123456789abcdef0123456789abcdef", `SECRET_KEY=(hidden, 32 bytes): too weak for GIN_MODE=release`},
	} {
		// A binary that takes the setting serves until it is killed.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary)
		cmd.Dir = t.TempDir()
		cmd.Env = append(strings.Split(tc.env, "\x00"), "PORT="+freePort(t), "HOME="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("%q: exit %v, want status 2", tc.env, err)
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
			t.Errorf("%q: stderr %q, want one line starting %q", tc.env, stderr.String(), tc.want)
		}
	}
}

// TestBinaryWithoutHome: with neither HOME nor XDG_CACHE_HOME the default
// session directory lies in the shared temporary directory. Release mode
// refuses to start on it; debug mode keeps sessions there, in a directory
// only its user can enter.
func TestBinaryWithoutHome(t *testing.T) {
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // if it starts, it serves until killed
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PORT=" + freePort(t), "TMPDIR=" + tmp, "GIN_MODE=release", "SECRET_KEY=b6ed7d7450be0b7e2d2f096c95193503b6045f8ecff02fddde6914ce5732d009"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("release: exit %v, want status 2", err)
	}
	const want = `SESSION_FILE_DIR="": required when GIN_MODE=release and neither HOME nor XDG_CACHE_HOME is set`
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("release: stderr %q, want one line starting %q", stderr.String(), want)
	}

	debug, _, exited := startBinary(t, []string{"PORT=" + freePort(t), "TMPDIR=" + tmp})
	defer stopBinary(t, debug, exited)
	base := "http://127.0.0.1:" + strings.TrimPrefix(debug.Env[0], "PORT=")
	if _, body := get(t, base+"/get_email", setEmail(t, base, "a@example.com")); !strings.Contains(body, "Welcome a@example.com!") {
		t.Errorf("debug: the session did not last:\n%s", body)
	}
	for _, dir := range []string{filepath.Join(tmp, "sessionsvc"), filepath.Join(tmp, "sessionsvc", "sessions")} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("debug: %s: %v, want a directory of mode 0700", dir, err)
		}
	}
}

func TestBinaryExitsCleanlyOnSIGTERM(t *testing.T) {
	cmd, out, exited := startBinary(t, []string{"PORT=" + freePort(t), "SESSION_TYPE=cookie", "HOME=" + t.TempDir()})
	check := exec.Command(binary, "healthcheck")
	check.Env, check.Dir = cmd.Env, cmd.Dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("healthcheck of a running service: %v %s", err, out)
	}
	if err := stopBinary(t, cmd, exited); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0\n%s", err, out.String())
	}
	check = exec.Command(binary, "healthcheck")
	check.Env, check.Dir = cmd.Env, cmd.Dir
	if err := check.Run(); err == nil {
		t.Error("healthcheck succeeded with the service stopped")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("log lacks the stop line:\n%s", out.String())
	}
}

// writeTestCA makes a throwaway CA and a server certificate for 127.0.0.1
// signed by it, as PEM files in dir.
func writeTestCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := newKey(), newKey()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

func TestRunOverTLSWithPassword(t *testing.T) {
	caFile, certFile, keyFile := writeTestCA(t, t.TempDir())
	port := freePort(t)
	redistest.Start(t, "--tls-port", port, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", caFile, "--tls-auth-clients", "no", "--requirepass", "s3cretpw")
	url := "rediss://:s3cretpw@127.0.0.1:" + port + "/0"

	metricsAddr := "127.0.0.1:" + freePort(t)
	base, logs, stop := startRun(t, "SESSION_TYPE=redis", "SESSION_REDIS="+url, "SESSION_REDIS_CA_FILE="+caFile, "METRICS_ADDR="+metricsAddr)
	if code, body := get(t, base+"/readyz", ""); code != 200 || body != `{"status":"ready"}` {
		t.Fatalf("/readyz over TLS = %d %s", code, body)
	}
	// The details are on the metrics listener, not the public port.
	waitForLog(t, logs, "serving metrics")
	if code, body := get(t, "http://"+metricsAddr+"/readyz", ""); code != 200 || !strings.Contains(body, `"address":"127.0.0.1:`+port+`"`) || !strings.Contains(body, `"store":"redis"`) {
		t.Errorf("readiness details over TLS = %d %s, want the store and its address", code, body)
	}
	cookie := setEmail(t, base, "tls@example.com")
	if _, body := get(t, base+"/get_email", cookie); !strings.Contains(body, "Welcome tls@example.com!") {
		t.Errorf("welcome page over TLS:\n%s", body)
	}
	stop()

	// Without the CA the server's certificate is refused; with a wrong
	// password the login is. Neither shows a password anywhere.
	for _, env := range [][]string{
		{"SESSION_REDIS=" + url},
		{"SESSION_REDIS=" + strings.Replace(url, "s3cretpw", "wr0ngpw", 1), "SESSION_REDIS_CA_FILE=" + caFile},
	} {
		metricsAddr := "127.0.0.1:" + freePort(t)
		base, logs2, stop := startRun(t, append([]string{"SESSION_TYPE=redis", "METRICS_ADDR=" + metricsAddr}, env...)...)
		code, body := get(t, base+"/readyz", "")
		waitForLog(t, logs2, "serving metrics")
		detailsCode, details := get(t, "http://"+metricsAddr+"/readyz", "")
		stop()
		if code != 503 || body != `{"status":"unavailable"}` {
			t.Errorf("%v: /readyz = %d %s, want 503", env, code, body)
		}
		if detailsCode != 503 || !strings.Contains(details, `"error":`) {
			t.Errorf("%v: readiness details = %d %s, want 503 and the error", env, detailsCode, details)
		}
		if !strings.Contains(logs2.String(), "session store not ready") {
			t.Errorf("%v: the log does not say why the store is not ready:\n%s", env, logs2)
		}
		for _, secret := range []string{"s3cretpw", "wr0ngpw"} {
			if strings.Contains(body, secret) || strings.Contains(details, secret) || strings.Contains(logs2.String(), secret) {
				t.Errorf("%v: a password shows in /readyz, its details or the log:\n%s\n%s\n%s", env, body, details, logs2)
			}
		}
	}
	if strings.Contains(logs.String(), "s3cretpw") {
		t.Error("the password shows in the log")
	}
}

func TestRunKeyRotation(t *testing.T) {
	srv := redistest.New(t)
	// Two keys from "openssl rand -hex 32".
	oldKey, newKey := "a386c9ec37aa8c7b1cc2bae065a786afe61f2b741aa07d5883abb9df02a165b9", "ff35af4c2e09f8660ca9d93c087a52cee5daecf0a51b2c11e04a0ccd6e9980d1"
	common := []string{"GIN_MODE=release", "SESSION_COOKIE_SECURE=false", "SESSION_TYPE=redis", "SESSION_REDIS=" + srv.URL, "SESSION_KEY_PREFIX=" + srv.Prefix, "SESSION_USE_SIGNER=true"}

	base, _, stop := startRun(t, append(common, "SECRET_KEY="+oldKey)...)
	signedWithOld := setEmail(t, base, "a@example.com")
	stop()

	// New key, old one as a fallback: the cookie still works and comes back
	// signed with the new key.
	base, _, stop = startRun(t, append(common, "SECRET_KEY="+newKey, "SECRET_KEY_FALLBACKS="+oldKey)...)
	req, _ := http.NewRequest("GET", base+"/get_email", nil)
	req.Header.Set("Cookie", signedWithOld)
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "Welcome a@example.com!") || len(res.Cookies()) != 1 || "session="+res.Cookies()[0].Value == signedWithOld {
		t.Fatalf("with the old key as fallback: cookies %v, page:\n%s", res.Cookies(), body)
	}
	resigned := "session=" + res.Cookies()[0].Value
	stop()

	// Old key dropped: the re-signed cookie works, the old one starts afresh.
	base, _, stop = startRun(t, append(common, "SECRET_KEY="+newKey)...)
	defer stop()
	if _, body := get(t, base+"/get_email", resigned); !strings.Contains(body, "Welcome a@example.com!") {
		t.Errorf("re-signed cookie refused:\n%s", body)
	}
	if _, body := get(t, base+"/get_email", signedWithOld); !strings.Contains(body, "Please enter your email") {
		t.Errorf("cookie signed with a dropped key accepted:\n%s", body)
	}
}
