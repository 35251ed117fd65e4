// Command faults runs the service (the binary given with -bin) against real
// redis-server processes on loopback, injects one fault per scenario while
// a bounded load of visitors uses it, and prints one Markdown table: what
// the visitors sent, what they got, and how many sessions lost an email
// they had been told was stored. scripts/faults.sh builds the binary and
// runs this.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/loadgen"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

// secret is every instance's SECRET_KEY (replicas must share one).
const secret = "3f9a1c7e5b2d8f4a6c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"

// timeout is every instance's SESSION_REDIS_TIMEOUT.
const timeout = 500 * time.Millisecond

func main() {
	bin := flag.String("bin", "", "the service binary (required)")
	only := flag.String("run", "", "run only the scenarios whose name contains this")
	verbose := flag.Bool("v", false, "log what each scenario does")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "usage: faults -bin path/to/sessionsvc [-run name] [-v]")
		os.Exit(2)
	}
	var rows []row
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "running: %s\n", sc.name)
		r := run(sc, *bin, *verbose)
		if *verbose {
			for _, l := range r.res.Losses {
				fmt.Fprintln(os.Stderr, "  lost:", l)
			}
		}
		rows = append(rows, r)
	}
	printTable(os.Stdout, rows)
	for _, r := range rows {
		if r.err != "" {
			os.Exit(1)
		}
	}
}

// scenario is one fault under load.
type scenario struct {
	name string
	fn   func(e *env) row
}

// row is one line of the table.
type row struct {
	name  string
	res   loadgen.Result
	notes []string
	err   string // the scenario could not run
}

var scenarios = []scenario{
	{"steady load, 1 instance", steady},
	{"scale-out: 3 instances, round robin", scaleOut},
	{"Redis killed, restarted 2 s later (AOF)", redisKilled},
	{"Redis paused: CLIENT PAUSE 2000 ALL", redisPaused},
	{"Redis stalled: DEBUG SLEEP 2", redisStalled},
	{"Sentinel: master killed, MIN_REPLICAS=0", func(e *env) row { return masterKilled(e, 0) }},
	{"Sentinel: master killed, MIN_REPLICAS=1", func(e *env) row { return masterKilled(e, 1) }},
	{"Sentinel: SENTINEL FAILOVER (old master up), MIN_REPLICAS=0", func(e *env) row { return askedFailover(e, 0) }},
	{"Sentinel: SENTINEL FAILOVER (old master up), MIN_REPLICAS=1", func(e *env) row { return askedFailover(e, 1) }},
	{"rolling deploy: 3 instances replaced one by one (SIGTERM)", rollingDeploy},
	{"rolling deploy behind HAProxy (deploy/haproxy.cfg), same ports", haproxyDeploy},
	{"burst: 300 visitors at once, SESSION_REDIS_POOL_SIZE=8", burst},
	{"writes on master + 1 replica, MIN_REPLICAS=0", func(e *env) row { return replicatedWrites(e, 0) }},
	{"writes on master + 1 replica, MIN_REPLICAS=1", func(e *env) row { return replicatedWrites(e, 1) }},
	{"sessions revoke-email of 100,000 sessions of one address", revokeEmail},
}

// env is what a scenario runs in: it implements redistest.T, runs cleanups
// at the end, and turns a fatal error into the row's error.
type env struct {
	bin      string
	verbose  bool
	cleanups []func()
	failed   bool
}

type fatal struct{ msg string }

func (e *env) Helper()           {}
func (e *env) Fatal(args ...any) { e.failed = true; panic(fatal{fmt.Sprint(args...)}) }
func (e *env) Fatalf(f string, args ...any) {
	e.failed = true
	panic(fatal{fmt.Sprintf(f, args...)})
}
func (e *env) Logf(f string, args ...any) {
	if e.verbose || e.failed {
		fmt.Fprintf(os.Stderr, "  "+f+"\n", args...)
	}
}
func (e *env) Failed() bool     { return e.failed }
func (e *env) Cleanup(f func()) { e.cleanups = append(e.cleanups, f) }

var _ redistest.T = (*env)(nil)

func run(sc scenario, bin string, verbose bool) (r row) {
	e := &env{bin: bin, verbose: verbose}
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(fatal)
			if !ok {
				panic(p)
			}
			r = row{err: f.msg}
		}
		r.name = sc.name
		for _, f := range slices.Backward(e.cleanups) {
			f()
		}
	}()
	return sc.fn(e)
}

// service is one running instance of the binary.
type service struct {
	base   string
	cmd    *exec.Cmd
	exited chan error
	out    *bytes.Buffer
}

// start starts an instance on a free port with the given environment (on
// top of a Redis store, shared secret and the timeout), and waits until its
// /healthz answers.
func (e *env) start(environ ...string) *service {
	return e.startOn(e.freePort(), environ...)
}

func (e *env) freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startOn is start on the given port.
func (e *env) startOn(port string, environ ...string) *service {
	dir, err := os.MkdirTemp("", "sessionsvc")
	if err != nil {
		e.Fatal(err)
	}
	e.Cleanup(func() { os.RemoveAll(dir) })
	s := &service{base: "http://127.0.0.1:" + port, exited: make(chan error, 1), out: &bytes.Buffer{}}
	s.cmd = exec.Command(e.bin)
	s.cmd.Dir = dir
	s.cmd.Env = append([]string{"PORT=" + port, "HOME=" + dir, "GIN_MODE=release", "SECRET_KEY=" + secret,
		"SESSION_TYPE=redis", "SESSION_COOKIE_SECURE=false", "SESSION_REDIS_TIMEOUT=" + timeout.String()}, environ...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		e.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	e.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-s.exited:
			e.Fatalf("service exited at start: %v\n%s", err, s.out)
		default:
		}
		if res, err := http.Get(s.base + "/healthz"); err == nil {
			res.Body.Close()
			return s
		}
	}
	e.Fatal("service not healthy within 10s")
	return nil
}

// stop sends SIGTERM and returns how long the exit took, and its error.
func (s *service) stop(e *env) (time.Duration, error) {
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		return time.Since(start), err
	case <-time.After(15 * time.Second):
		e.Fatal("no exit within 15s of SIGTERM")
		return 0, nil
	}
}

// status asks one URL and returns the status code (0 without an answer).
func status(u string) int {
	res, err := http.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// load is the scenarios' usual load: 20 visitors, each sending a request
// every 10 ms or so; one in 5 changes the email, one in 10 is the form or
// /healthz.
func (e *env) load(targets ...string) *loadgen.Load {
	return e.prepare(loadgen.Config{Targets: targets, Visitors: 20, Pause: 10 * time.Millisecond, WriteEvery: 5, PlainEvery: 10, Timeout: 10 * time.Second})
}

// prepare makes a load of cfg and gives each of its visitors a session.
func (e *env) prepare(cfg loadgen.Config) *loadgen.Load {
	l := loadgen.New(cfg)
	e.Cleanup(l.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := l.Prepare(ctx); err != nil {
		e.Fatal(err)
	}
	return l
}

// during runs the load while fault runs, then for after more, and verifies
// every session.
func (e *env) during(l *loadgen.Load, fault func(), after time.Duration) loadgen.Result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // also when the fault fails
	done := make(chan loadgen.Result, 1)
	go func() { done <- l.Run(ctx) }()
	fault()
	time.Sleep(after)
	cancel()
	<-done
	verify, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	return l.Verify(verify)
}

// outageNotes describe how the service rode out an outage that ended at back.
func outageNotes(r loadgen.Result, back time.Time, ready int) []string {
	notes := []string{fmt.Sprintf("slowest 503: %v", r.Max503.Round(time.Millisecond))}
	if ready != 0 {
		notes = append(notes, fmt.Sprintf("/readyz during it: %d", ready))
	}
	if r.LastFailure.After(back) {
		notes = append(notes, fmt.Sprintf("last failure %v after Redis was back", r.LastFailure.Sub(back).Round(time.Millisecond)))
	} else {
		notes = append(notes, "no failure once Redis was back")
	}
	return append(notes, plainNote(r))
}

func plainNote(r loadgen.Result) string {
	if r.PlainNotOK == 0 {
		return "form and /healthz: all 200"
	}
	return fmt.Sprintf("form and /healthz: %d not 200", r.PlainNotOK)
}

func steady(e *env) row {
	srv := redistest.Start(e)
	s := e.start("SESSION_REDIS=" + srv.URL)
	r := e.during(e.load(s.base), func() {}, 3*time.Second)
	return row{res: r, notes: []string{fmt.Sprintf("mean latency %v", mean(r))}}
}

func scaleOut(e *env) row {
	srv := redistest.Start(e)
	var bases []string
	for range 3 {
		bases = append(bases, e.start("SESSION_REDIS="+srv.URL).base)
	}
	r := e.during(e.load(bases...), func() {}, 3*time.Second)
	return row{res: r, notes: []string{"each visitor's requests go round the 3 instances"}}
}

func redisKilled(e *env) row {
	srv := redistest.Start(e, "--appendonly", "yes", "--appendfsync", "always")
	s := e.start("SESSION_REDIS=" + srv.URL)
	var back time.Time
	var ready int
	r := e.during(e.load(s.base), func() {
		time.Sleep(time.Second)
		srv.Stop()
		time.Sleep(time.Second)
		ready = status(s.base + "/readyz")
		time.Sleep(time.Second)
		srv.Restart()
		back = time.Now()
	}, 2*time.Second)
	return row{res: r, notes: outageNotes(r, back, ready)}
}

func redisPaused(e *env) row {
	srv := redistest.Start(e)
	s := e.start("SESSION_REDIS=" + srv.URL)
	var back time.Time
	var ready int
	r := e.during(e.load(s.base), func() {
		time.Sleep(time.Second)
		srv.Do("CLIENT", "PAUSE", 2000, "ALL")
		back = time.Now().Add(2 * time.Second)
		time.Sleep(time.Second)
		ready = status(s.base + "/readyz")
	}, 3*time.Second)
	return row{res: r, notes: outageNotes(r, back, ready)}
}

func redisStalled(e *env) row {
	srv := redistest.Start(e, "--enable-debug-command", "local")
	s := e.start("SESSION_REDIS=" + srv.URL)
	var back time.Time
	ready := make(chan int, 1)
	r := e.during(e.load(s.base), func() {
		time.Sleep(time.Second)
		go func() { time.Sleep(time.Second); ready <- status(s.base + "/readyz") }()
		srv.Do("DEBUG", "SLEEP", 2) // answers when Redis wakes up
		back = time.Now()
	}, 2*time.Second)
	return row{res: r, notes: outageNotes(r, back, <-ready)}
}

// sentinelService starts a master with two replicas, three sentinels and an
// instance that finds the master through them.
func sentinelService(e *env, minReplicas int) (*redistest.Group, *service) {
	g := redistest.StartGroup(e, 2, 3)
	return g, e.start("SESSION_REDIS="+g.URL(), "SESSION_REDIS_MIN_REPLICAS="+strconv.Itoa(minReplicas))
}

func masterKilled(e *env, minReplicas int) row {
	g, s := sentinelService(e, minReplicas)
	var killed time.Time
	var master string
	r := e.during(e.load(s.base), func() {
		time.Sleep(time.Second)
		master = g.Master()
		g.Node(master).Stop()
		killed = time.Now()
		g.WaitFailover(master)
	}, 2*time.Second)
	note := "no failure after the kill"
	if r.LastFailure.After(killed) {
		note = fmt.Sprintf("last failure %v after the kill", r.LastFailure.Sub(killed).Round(time.Millisecond))
	}
	return row{res: r, notes: []string{note, plainNote(r)}}
}

func askedFailover(e *env, minReplicas int) row {
	g, s := sentinelService(e, minReplicas)
	var asked time.Time
	r := e.during(e.load(s.base), func() {
		time.Sleep(time.Second)
		master := g.Master()
		asked = time.Now()
		for {
			if _, err := g.Sentinels[0].Try("SENTINEL", "FAILOVER", g.Name); err == nil {
				break
			} else if time.Since(asked) > 20*time.Second {
				e.Fatalf("SENTINEL FAILOVER: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		g.WaitFailover(master)
	}, 2*time.Second)
	notes := []string{"no 503 after the failover was asked"}
	if r.LastFailure.After(asked) {
		notes[0] = fmt.Sprintf("last 503 %v after the failover was asked", r.LastFailure.Sub(asked).Round(time.Millisecond))
	}
	return row{res: r, notes: append(notes, plainNote(r))}
}

func rollingDeploy(e *env) row {
	srv := redistest.Start(e)
	env := "SESSION_REDIS=" + srv.URL
	var live []*service
	for range 3 {
		live = append(live, e.start(env))
	}
	bases := func() []string {
		var b []string
		for _, s := range live {
			b = append(b, s.base)
		}
		return b
	}
	l := e.prepare(loadgen.Config{Targets: bases(), Visitors: 20, Pause: 10 * time.Millisecond, WriteEvery: 5, PlainEvery: 10, Redispatch: true})
	var exits []string
	var slowest time.Duration
	r := e.during(l, func() {
		for range 3 {
			time.Sleep(time.Second)
			old := live[0]
			live = append(live[1:], e.start(env))
			l.SetTargets(append(bases(), old.base)...) // the balancer still sends some to the old one
			took, err := old.stop(e)
			exits = append(exits, fmt.Sprint(err))
			slowest = max(slowest, took)
			l.SetTargets(bases()...)
		}
	}, time.Second)
	codes := "exit 0 ×3"
	if slices.ContainsFunc(exits, func(s string) bool { return s != "<nil>" }) {
		codes = "exits: " + strings.Join(exits, ", ")
	}
	return row{res: r, notes: []string{codes, fmt.Sprintf("slowest shutdown %v", slowest.Round(time.Millisecond)),
		fmt.Sprintf("%d requests refused unread and resent elsewhere, as a balancer retries", r.Redispatched)}}
}

// haproxyDeploy runs HAProxy with the compose file's configuration (its
// servers fixed to three local instances instead of Docker's DNS) and
// restarts the instances one by one on their ports while visitors go
// through HAProxy, which alone retries what a stopping instance refused.
func haproxyDeploy(e *env) row {
	if _, err := exec.LookPath("haproxy"); err != nil {
		e.Fatal("haproxy not found in PATH (Debian/Ubuntu: apt-get install haproxy)")
	}
	srv := redistest.Start(e)
	redisEnv := "SESSION_REDIS=" + srv.URL
	ports := []string{e.freePort(), e.freePort(), e.freePort()}
	live := make([]*service, len(ports))
	var servers []string
	for i, port := range ports {
		live[i] = e.startOn(port, redisEnv)
		servers = append(servers, fmt.Sprintf("    server app%d 127.0.0.1:%s", i+1, port))
	}
	conf, err := os.ReadFile("deploy/haproxy.cfg")
	if err != nil {
		e.Fatal(err)
	}
	lbPort := e.freePort()
	cfg := string(conf)
	for _, r := range [][2]string{
		{"bind :8080", "bind 127.0.0.1:" + lbPort},
		{" init-addr none resolvers docker", ""},
		{"    server-template app 10 app:5000", strings.Join(servers, "\n")},
	} {
		if !strings.Contains(cfg, r[0]) {
			e.Fatalf("deploy/haproxy.cfg has no %q", r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	dir, err := os.MkdirTemp("", "haproxy")
	if err != nil {
		e.Fatal(err)
	}
	e.Cleanup(func() { os.RemoveAll(dir) })
	path := dir + "/haproxy.cfg"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		e.Fatal(err)
	}
	lb := exec.Command("haproxy", "-db", "-f", path)
	var lbOut bytes.Buffer
	lb.Stdout, lb.Stderr = &lbOut, &lbOut
	if err := lb.Start(); err != nil {
		e.Fatal(err)
	}
	e.Cleanup(func() { lb.Process.Kill(); lb.Wait() })
	base := "http://127.0.0.1:" + lbPort
	for deadline := time.Now().Add(10 * time.Second); status(base+"/healthz") != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.Fatalf("HAProxy not answering within 10s:\n%s", lbOut.String())
		}
	}

	var exits []string
	r := e.during(e.load(base), func() {
		for i, port := range ports {
			time.Sleep(time.Second)
			_, err := live[i].stop(e)
			exits = append(exits, fmt.Sprint(err))
			live[i] = e.startOn(port, redisEnv)
		}
	}, time.Second)
	codes := "exit 0 ×3"
	if slices.ContainsFunc(exits, func(s string) bool { return s != "<nil>" }) {
		codes = "exits: " + strings.Join(exits, ", ")
	}
	return row{res: r, notes: []string{codes, "each instance down while it restarts; HAProxy retried elsewhere"}}
}

func burst(e *env) row {
	srv := redistest.Start(e)
	s := e.start("SESSION_REDIS="+srv.URL, "SESSION_REDIS_POOL_SIZE=8")
	c, err := redis.Dial("unix", strings.TrimPrefix(srv.URL, "unix://"))
	if err != nil {
		e.Fatal(err)
	}
	defer c.Close()
	clients := func() int {
		info, _ := redis.String(c.Do("INFO", "clients"))
		_, v, _ := strings.Cut(info, "connected_clients:")
		n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(v, "\n", 2)[0]))
		return n - 1 // less this one
	}
	most := 0
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				most = max(most, clients())
			}
		}
	}()
	l := e.prepare(loadgen.Config{Targets: []string{s.base}, Visitors: 300, WriteEvery: 5})
	r := e.during(l, func() {}, 3*time.Second)
	close(stop)
	<-sampled
	return row{res: r, notes: []string{fmt.Sprintf("at most %d Redis connections (pool 8)", most), fmt.Sprintf("slowest answer %v", r.MaxLatency.Round(time.Millisecond))}}
}

func replicatedWrites(e *env, minReplicas int) row {
	g := redistest.StartGroup(e, 1, 0)
	s := e.start("SESSION_REDIS="+g.Nodes[0].URL, "SESSION_REDIS_MIN_REPLICAS="+strconv.Itoa(minReplicas))
	l := e.prepare(loadgen.Config{Targets: []string{s.base}, Visitors: 8, WriteEvery: 1})
	r := e.during(l, func() {}, 3*time.Second)
	return row{res: r, notes: []string{"every request a write (POST /set_email)", fmt.Sprintf("%.0f requests/s, mean latency %v", float64(r.Sent)/3, mean(r))}}
}

// revokeEmail ends 100,000 sessions of one address with the admin CLI
// while visitors use the service, and compares the visitors' 99th
// percentile latency before and during it.
func revokeEmail(e *env) row {
	const n, email = 100_000, "bulk@example.com"
	srv := redistest.Start(e)
	s := e.start("SESSION_REDIS=" + srv.URL)
	conn, err := srv.Dial(context.Background())
	if err != nil {
		e.Fatal(err)
	}
	expiry := time.Now().Add(time.Hour).UnixMilli()
	for i := range n {
		key := fmt.Sprintf("bulk%032d", i) // keys as SESSION_HASH_IDS makes them: 36 characters
		conn.Send("SET", "session:"+key, `{"email":"`+email+`"}`, "PX", 3_600_000)
		conn.Send("ZADD", "by-email:session:"+email, expiry, key)
	}
	if _, err := conn.Do(""); err != nil {
		e.Fatal(err)
	}
	conn.Close()
	l := e.prepare(loadgen.Config{Targets: []string{s.base}, Visitors: 8, Pause: 5 * time.Millisecond, WriteEvery: 5, Record: true})
	var began, ended time.Time
	r := e.during(l, func() {
		time.Sleep(2 * time.Second)
		began = time.Now()
		cmd := exec.Command(e.bin, "sessions", "revoke-email", email)
		cmd.Env, cmd.Dir = s.cmd.Env, s.cmd.Dir
		if out, err := cmd.CombinedOutput(); err != nil {
			e.Fatalf("revoke-email: %v\n%s", err, out)
		}
		ended = time.Now()
	}, time.Second)
	left, _ := redis.Int(srv.Do("EXISTS", "by-email:session:"+email), nil)
	idle, during := p99(r.Requests, time.Time{}, began), p99(r.Requests, began, ended)
	return row{res: r, notes: []string{
		fmt.Sprintf("revoke-email took %v; index left: %d", ended.Sub(began).Round(time.Millisecond), left),
		fmt.Sprintf("visitors' p99 %v before, %v during it (%.2fx)", idle, during, float64(during)/float64(idle)),
	}}
}

// p99 is the 99th percentile latency of the answered requests that started
// in [from, to).
func p99(reqs []loadgen.Request, from, to time.Time) time.Duration {
	var ls []time.Duration
	for _, q := range reqs {
		if q.Status != 0 && !q.Start.Before(from) && q.Start.Before(to) {
			ls = append(ls, q.Latency)
		}
	}
	if len(ls) == 0 {
		return 0
	}
	slices.Sort(ls)
	return ls[len(ls)*99/100].Round(10 * time.Microsecond)
}

func mean(r loadgen.Result) time.Duration {
	if r.Sent == 0 {
		return 0
	}
	return (r.TotalLatency / time.Duration(r.Sent)).Round(10 * time.Microsecond)
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| scenario | requests | 2xx/3xx | 503 | other 5xx | no answer | sessions lost | notes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rows {
		if r.err != "" {
			fmt.Fprintf(w, "| %s | | | | | | | could not run: %s |\n", r.name, strings.ReplaceAll(r.err, "\n", " "))
			continue
		}
		x := r.res
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %s |\n", r.name, x.Sent, x.OK, x.Unavailable, x.Other5xx, x.Failed, x.Lost, strings.Join(r.notes, "; "))
		if x.Other != 0 || x.NoRetryAfter != 0 {
			fmt.Fprintf(w, "| ↳ also | | | | | | | %d other answers (4xx), %d 503s without Retry-After |\n", x.Other, x.NoRetryAfter)
		}
		if x.Retired != 0 {
			fmt.Fprintf(w, "| ↳ also | | | | | | | %d visitors started again: a change of email whose answer failed retired their session's ID (%d changes asked with it answered 409) |\n", x.Retired, x.Conflict)
		}
	}
}
