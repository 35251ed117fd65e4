package main

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/loadgen"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

// sharedSecret is the SECRET_KEY of every instance in these tests: replicas
// share one, or they cannot read each other's signed cookies.
const sharedSecret = "SECRET_KEY=8c1f0e4b7a2d9c3e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e"

// redisInfo reads one field of INFO on conn.
func redisInfo(t *testing.T, conn redis.Conn, field string) int {
	t.Helper()
	info, err := redis.String(conn.Do("INFO"))
	if err != nil {
		t.Fatal(err)
	}
	_, v, _ := strings.Cut(info, "\r\n"+field+":")
	v, _, _ = strings.Cut(v, "\r\n")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("INFO %s = %q", field, v)
	}
	return n
}

func dialRedis(t *testing.T, srv *redistest.Server) redis.Conn {
	t.Helper()
	c, err := redis.Dial("unix", strings.TrimPrefix(srv.URL, "unix://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runLoad runs load for d and returns what it saw.
func runLoad(t *testing.T, load *loadgen.Load, d time.Duration) loadgen.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return load.Run(ctx)
}

func prepare(t *testing.T, load *loadgen.Load) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := load.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestScaleOut runs three instances against one Redis: a visitor going from
// one to the next sees its email on each, and so do many at once.
func TestScaleOut(t *testing.T) {
	srv := redistest.Start(t)
	env := []string{"SESSION_TYPE=redis", "SESSION_REDIS=" + srv.URL, "SESSION_USE_SIGNER=true", sharedSecret}
	var bases []string
	var stops []func() error
	for range 3 {
		base, _, stop := startRun(t, env...)
		bases, stops = append(bases, base), append(stops, stop)
	}

	cookie := setEmail(t, bases[0], "alice@example.com")
	for _, base := range append(bases, bases...) {
		if _, body := get(t, base+"/get_email", cookie); !strings.Contains(body, "<h1>Welcome alice@example.com!</h1>") {
			t.Fatalf("%s does not know the session:\n%s", base, body)
		}
	}

	load := loadgen.New(loadgen.Config{Targets: bases, Visitors: 30, WriteEvery: 3, Pause: time.Millisecond})
	defer load.Close()
	prepare(t, load)
	runLoad(t, load, time.Second)
	r := load.Verify(t.Context())
	if r.Sent == 0 || r.OK != r.Sent || r.Lost != 0 {
		t.Errorf("load over three instances: %+v, want every request answered 2xx/3xx and no session lost", r)
	}
	t.Logf("three instances: %d requests, all answered; no session lost", r.Sent)

	stats := dialRedis(t, srv)
	load.Close()
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}
	if n := redisInfo(t, stats, "connected_clients"); n != 1 {
		t.Errorf("%d connections to Redis left after every instance stopped, want only this test's", n-1)
	}
}

// TestRedisOutageUnderLoad stops, restarts, pauses and stalls Redis while
// visitors use the service: session pages answer 503 with Retry-After
// within the timeout, the form and /healthz keep working, /readyz tells,
// the service recovers by itself, and no session is lost (Redis keeps an
// append-only file, written on every change).
func TestRedisOutageUnderLoad(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always", "--enable-debug-command", "local")
	const timeout = 300 * time.Millisecond
	base, _, _ := startRun(t, "SESSION_TYPE=redis", "SESSION_REDIS="+srv.URL, "SESSION_REDIS_TIMEOUT="+timeout.String())
	load := loadgen.New(loadgen.Config{Targets: []string{base}, Visitors: 10, Pause: 5 * time.Millisecond, WriteEvery: 5, PlainEvery: 4})
	defer load.Close()
	prepare(t, load)
	done := make(chan loadgen.Result)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { done <- load.Run(ctx) }()

	// recovered waits until /readyz and a session page answer 200 again.
	cookie := setEmail(t, base, "probe@example.com")
	recovered := func(what string, since time.Time) {
		t.Helper()
		for time.Since(since) < 10*time.Second {
			ready, _ := get(t, base+"/readyz", "")
			page, body := get(t, base+"/get_email", cookie)
			if ready == 200 && page == 200 {
				if !strings.Contains(body, "probe@example.com") {
					t.Errorf("after %s the probe's session is gone:\n%s", what, body)
				}
				t.Logf("%s: service answered again %v after Redis did", what, time.Since(since).Round(time.Millisecond))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: no recovery within 10s", what)
	}

	time.Sleep(300 * time.Millisecond)
	srv.Stop()
	time.Sleep(500 * time.Millisecond)
	if code, body := get(t, base+"/readyz", ""); code != 503 {
		t.Errorf("/readyz with Redis stopped = %d %s", code, body)
	}
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	recovered("Redis restarted", time.Now())

	time.Sleep(300 * time.Millisecond)
	srv.Do("CLIENT", "PAUSE", 1000, "ALL")
	recovered("CLIENT PAUSE 1000", time.Now().Add(time.Second))

	time.Sleep(300 * time.Millisecond)
	srv.Do("DEBUG", "SLEEP", 1) // returns when Redis wakes up
	recovered("DEBUG SLEEP 1", time.Now())
	time.Sleep(300 * time.Millisecond)

	cancel()
	<-done
	verify, stop := context.WithTimeout(t.Context(), 5*time.Second)
	defer stop()
	r := load.Verify(verify)
	t.Logf("%+v", r)
	if r.Other5xx != 0 || r.Failed != 0 || r.Other != 0 {
		t.Errorf("%d other 5xx, %d without answer, %d other errors; want none", r.Other5xx, r.Failed, r.Other)
	}
	if r.Conflict != 0 && r.Retired == 0 {
		t.Errorf("%d answers 409 (a retired ID), yet no visitor's ID was retired", r.Conflict)
	}
	if r.Unavailable == 0 {
		t.Error("no 503 at all: the faults did not reach the service")
	}
	if r.NoRetryAfter != 0 {
		t.Errorf("%d answers 503 without Retry-After", r.NoRetryAfter)
	}
	if r.PlainNotOK != 0 {
		t.Errorf("%d answers from the form or /healthz were not 200", r.PlainNotOK)
	}
	if r.Lost != 0 {
		t.Errorf("%d sessions lost", r.Lost)
	}
	// The bound is loose for a busy machine; the fault script measures.
	if r.Max503 > timeout+time.Second {
		t.Errorf("slowest 503 took %v; the timeout is %v", r.Max503, timeout)
	}
}

// TestSIGTERMUnderLoad stops the binary with SIGTERM while visitors use it:
// it exits 0, and every request it accepted (logged) was answered with what
// it logged; requests that got no answer were never accepted. A new
// instance then serves every session.
func TestSIGTERMUnderLoad(t *testing.T) {
	srv := redistest.Start(t)
	env := []string{"PORT=" + freePort(t), "HOME=" + t.TempDir(), "GIN_MODE=release", sharedSecret,
		"SESSION_TYPE=redis", "SESSION_REDIS=" + srv.URL, "SESSION_COOKIE_SECURE=false", "SHUTDOWN_TIMEOUT=10s"}
	cmd, out, exited := startBinary(t, env)
	base := "http://127.0.0.1:" + strings.TrimPrefix(env[0], "PORT=")

	load := loadgen.New(loadgen.Config{Targets: []string{base}, Visitors: 20, WriteEvery: 4, Record: true})
	defer load.Close()
	prepare(t, load)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan loadgen.Result)
	go func() { done <- load.Run(ctx) }()
	time.Sleep(500 * time.Millisecond)
	signalled := time.Now()
	if err := stopBinary(t, cmd, exited); err != nil {
		t.Errorf("exit after SIGTERM under load: %v, want status 0", err)
	}
	t.Logf("exited %v after SIGTERM", time.Since(signalled).Round(time.Millisecond))
	time.Sleep(100 * time.Millisecond) // the load meets the closed port
	cancel()
	r := <-done

	logged := map[string]int{} // request ID -> status
	shutdownAt, afterShutdown := -1, 0
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for i := 0; sc.Scan(); i++ {
		var line struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			Status    int    `json:"status"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		switch {
		case line.Msg == "shutting down":
			shutdownAt = i
		case line.Msg == "request" && strings.HasPrefix(line.RequestID, "lg-"):
			logged[line.RequestID] = line.Status
			if shutdownAt >= 0 {
				afterShutdown++
			}
		}
	}
	var accepted, refused int
	for _, req := range r.Requests {
		status, ok := logged[req.ID]
		switch {
		case ok && req.Status != status:
			t.Errorf("request %s %s was logged with %d but answered %d %s", req.ID, req.Path, status, req.Status, req.Err)
		case ok:
			accepted++
		case req.Err == "":
			t.Errorf("request %s %s answered %d but not logged", req.ID, req.Path, req.Status)
		default:
			refused++
		}
		if ok && status >= 500 {
			t.Errorf("request %s %s answered %d", req.ID, req.Path, status)
		}
	}
	t.Logf("%d requests accepted and answered (%d finished during shutdown), %d refused after the listener closed", accepted, afterShutdown, refused)
	if accepted == 0 {
		t.Fatal("no request was served")
	}

	// The next version serves every session.
	next, _, _ := startRun(t, "GIN_MODE=release", "SESSION_COOKIE_SECURE=false", "SESSION_TYPE=redis", "SESSION_REDIS="+srv.URL, sharedSecret)
	load.SetTargets(next)
	verify := load.Verify(t.Context())
	if verify.Lost != 0 {
		t.Errorf("%d sessions lost across the restart", verify.Lost)
	}
}

// TestBurstIsBounded sends a burst of many visitors at a small pool: the
// service never holds more Redis connections than the pool allows, answers
// each request or sheds it with 503, and once warm opens no new connections.
func TestBurstIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	const pool = 4
	base, _, _ := startRun(t, "SESSION_TYPE=redis", "SESSION_REDIS="+srv.URL, "SESSION_REDIS_POOL_SIZE="+strconv.Itoa(pool), "SESSION_REDIS_TIMEOUT=300ms")
	stats := dialRedis(t, srv)

	// Sample Redis's client count while the burst runs.
	most := make(chan int)
	stop := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				most <- n
				return
			case <-time.After(time.Millisecond):
			}
			info, _ := redis.String(stats.Do("INFO", "clients"))
			_, v, _ := strings.Cut(info, "connected_clients:")
			v, _, _ = strings.Cut(v, "\r\n")
			c, _ := strconv.Atoi(v)
			n = max(n, c-1) // less this test's own connection
		}
	}()
	burst := loadgen.New(loadgen.Config{Targets: []string{base}, Visitors: 200, WriteEvery: 2})
	defer burst.Close()
	prepare(t, burst)
	r := runLoad(t, burst, time.Second)
	close(stop)
	if n := <-most; n > pool {
		t.Errorf("%d Redis connections at once, pool size %d", n, pool)
	}
	if r.OK == 0 || r.Other5xx != 0 || r.Failed != 0 || r.Other != 0 || r.NoRetryAfter != 0 {
		t.Errorf("burst of 200 visitors: %+v; want answers or 503s with Retry-After only", r)
	}
	t.Logf("burst of 200 visitors on a pool of %d: %d requests, %d answered, %d shed with 503", pool, r.Sent, r.OK, r.Unavailable)

	steady := loadgen.New(loadgen.Config{Targets: []string{base}, Visitors: 8, WriteEvery: 5, Pause: time.Millisecond})
	defer steady.Close()
	prepare(t, steady)
	runLoad(t, steady, 200*time.Millisecond) // warm-up
	before := redisInfo(t, stats, "total_connections_received")
	r = runLoad(t, steady, time.Second)
	if n := redisInfo(t, stats, "total_connections_received") - before; n != 0 {
		t.Errorf("steady load opened %d new Redis connections after warm-up", n)
	}
	if r.OK != r.Sent {
		t.Errorf("steady load: %+v, want every request answered", r)
	}
	t.Logf("steady load: %d requests, no new Redis connection", r.Sent)
}

// TestRunClosesEveryStore stops the service over each kind of store: the
// store is closed once, after the last request, and run returns nil.
func TestRunClosesEveryStore(t *testing.T) {
	srv := redistest.New(t)
	for _, env := range [][]string{
		{"SESSION_TYPE=redis", "SESSION_REDIS=" + srv.URL, "SESSION_KEY_PREFIX=" + srv.Prefix},
		{"SESSION_TYPE=filesystem", "SESSION_FILE_DIR=" + t.TempDir()},
		{"SESSION_TYPE=cookie"},
	} {
		base, _, stop := startRun(t, env...)
		cookie := setEmail(t, base, "a@example.com")
		if _, body := get(t, base+"/get_email", cookie); !strings.Contains(body, "Welcome a@example.com!") {
			t.Errorf("%s: %s", env[0], body)
		}
		if err := stop(); err != nil {
			t.Errorf("%s: run returned %v", env[0], err)
		}
	}
}
