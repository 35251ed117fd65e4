package redistest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// StartTCP starts a private redis-server like Start, but listening on a free
// port of 127.0.0.1 (replication and Sentinel need TCP). Its URL is
// redis://127.0.0.1:PORT.
func StartTCP(t T, extra ...string) *Server {
	t.Helper()
	dir := mkdir(t)
	s := &Server{Prefix: "session:", dir: dir, network: "tcp", t: t}
	t.Cleanup(s.Stop)
	err := s.startOnFreePort(func(port string) []string {
		return append([]string{"--port", port, "--bind", "127.0.0.1"}, baseArgs(dir, extra)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// StartSentinel starts a Redis Sentinel (redis-server --sentinel) on a free
// port of 127.0.0.1 that monitors the master at masterAddr under name. It
// declares a master down after 1 s of silence (shorter makes a busy machine
// fail over servers that are up) and retries a failed failover after 2 s,
// so that tests fail over in two seconds or so. Extra
// lines go into its configuration file (e.g. "requirepass pw").
func StartSentinel(t T, name, masterAddr string, quorum int, extra ...string) *Server {
	t.Helper()
	host, port, err := net.SplitHostPort(masterAddr)
	if err != nil {
		t.Fatal(err)
	}
	dir := mkdir(t)
	s := &Server{Prefix: "session:", dir: dir, network: "tcp", t: t}
	t.Cleanup(s.Stop)
	conf := filepath.Join(dir, "sentinel.conf")
	err = s.startOnFreePort(func(own string) []string {
		lines := append([]string{
			"port " + own,
			"bind 127.0.0.1",
			"dir " + dir,
			"logfile " + filepath.Join(dir, "redis.log"),
			fmt.Sprintf("sentinel monitor %s %s %s %d", name, host, port, quorum),
			"sentinel down-after-milliseconds " + name + " 1000",
			"sentinel failover-timeout " + name + " 1000",
		}, extra...)
		// Sentinel rewrites this file with what it learns, so a restart
		// resumes from there.
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{conf, "--sentinel"}
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startOnFreePort starts the server on a port that was free a moment ago,
// trying again with another when something else took it meanwhile.
func (s *Server) startOnFreePort(args func(port string) []string) error {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return errors.New(missing)
	}
	var err error
	for range 5 {
		var port string
		if port, err = freePort(); err != nil {
			return err
		}
		s.addr = "127.0.0.1:" + port
		s.URL = "redis://" + s.addr
		s.args = args(port)
		if err = s.start(); err == nil {
			return nil
		}
	}
	return err
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// Addr is the server's host:port, or its socket's path.
func (s *Server) Addr() string { return s.addr }

// Group is a master with replicas and the sentinels that watch them, all
// private servers on loopback.
type Group struct {
	// Name is the master's name in the sentinels' configuration.
	Name string
	// Nodes are the data servers; Nodes[0] was the master at start.
	Nodes []*Server
	// Sentinels watch the nodes.
	Sentinels []*Server
	t         T
}

// StartGroup starts a master, replicas replicas and sentinels sentinels
// (quorum: a majority of them), and waits until the replicas are in sync and
// every sentinel knows every replica and every other sentinel, so that a
// failover can start at once. Extra arguments go to every data server.
func StartGroup(t T, replicas, sentinels int, extra ...string) *Group {
	t.Helper()
	g := &Group{Name: "sessions", t: t}
	// Full syncs (a new replica, an old master coming back) start at once.
	extra = append([]string{"--repl-diskless-sync-delay", "0"}, extra...)
	master := StartTCP(t, extra...)
	g.Nodes = append(g.Nodes, master)
	for range replicas {
		host, port, _ := net.SplitHostPort(master.Addr())
		g.Nodes = append(g.Nodes, StartTCP(t, append([]string{"--replicaof", host, port}, extra...)...))
	}
	for _, r := range g.Nodes[1:] {
		g.waitFor("replica "+r.Addr()+" in sync", func() bool {
			info, _ := redis.String(r.Try("INFO", "replication"))
			return strings.Contains(info, "master_link_status:up")
		})
	}
	g.waitAcked(master, replicas)
	for range sentinels {
		g.Sentinels = append(g.Sentinels, StartSentinel(t, g.Name, master.Addr(), sentinels/2+1))
	}
	g.WaitSentinels()
	// Registered last, so it runs before the servers stop.
	t.Cleanup(func() {
		if t.Failed() {
			g.logs()
		}
	})
	return g
}

// logs shows what the servers logged, to tell why a failover went wrong.
func (g *Group) logs() {
	for _, s := range append(g.Nodes, g.Sentinels...) {
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		g.t.Logf("%s log:\n%s", s.Addr(), log)
	}
}

// URL is the group's redis-sentinel:// address.
func (g *Group) URL() string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = s.Addr()
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "#" + g.Name
}

// Master asks the first sentinel that answers for the master's address.
func (g *Group) Master() string {
	g.t.Helper()
	for _, s := range g.Sentinels {
		if addr, err := g.askMaster(s); err == nil {
			return addr
		}
	}
	g.t.Fatal("no sentinel answers")
	return ""
}

func (g *Group) askMaster(s *Server) (string, error) {
	hp, err := redis.Strings(s.Try("SENTINEL", "get-master-addr-by-name", g.Name))
	if err != nil || len(hp) != 2 {
		return "", fmt.Errorf("sentinel %s: %v %v", s.Addr(), hp, err)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Node returns the data server at addr.
func (g *Group) Node(addr string) *Server {
	g.t.Helper()
	for _, n := range g.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	g.t.Fatalf("no data server at %s", addr)
	return nil
}

// WaitFailover waits until every running sentinel names a master other than
// old, that server says it is a master, and a replica acknowledges its
// writes. It
// returns the new master's address. (A demoted master that is still up is
// made a replica by the sentinels some 10 s later; this does not wait for
// that.)
func (g *Group) WaitFailover(old string) string {
	g.t.Helper()
	var master string
	g.waitFor("a new master", func() bool {
		master = ""
		for _, s := range g.Sentinels {
			if s.cmd == nil {
				continue
			}
			addr, err := g.askMaster(s)
			if err != nil || addr == old || master != "" && addr != master {
				return false
			}
			master = addr
		}
		role, _ := redis.Values(g.Node(master).Try("ROLE"))
		if len(role) == 0 || string(role[0].([]byte)) != "master" {
			return false
		}
		return g.acked(g.Node(master), 1)
	})
	return master
}

// WaitSynced waits until every running data server but the master
// acknowledges the master's writes. (The master is asked again each time,
// in case the sentinels fail it over meanwhile.)
func (g *Group) WaitSynced() {
	g.t.Helper()
	g.waitFor("every replica acknowledging writes", func() bool {
		running := -1 // less the master
		for _, n := range g.Nodes {
			if n.cmd != nil {
				running++
			}
		}
		return g.acked(g.Node(g.Master()), running)
	})
}

// waitAcked waits until n replicas acknowledge a write on master. A replica
// does so only some time (up to a second) after its link is up.
func (g *Group) waitAcked(master *Server, n int) {
	g.t.Helper()
	g.waitFor(fmt.Sprintf("%d replicas acknowledging writes", n), func() bool { return g.acked(master, n) })
}

// acked writes a key on master and reports whether n replicas acknowledge
// it within 100 ms. (WAIT counts acknowledgements of its own connection's
// last write.)
func (g *Group) acked(master *Server, n int) bool {
	c, err := redis.Dial("tcp", master.Addr(), redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	if _, err := c.Do("SET", "redistest:acked", 1, "PX", 1000); err != nil {
		return false
	}
	got, _ := redis.Int(c.Do("WAIT", n, 100))
	return got >= n
}

// WaitSentinels waits until every running sentinel knows every replica and
// every other running sentinel.
func (g *Group) WaitSentinels() {
	g.t.Helper()
	running := 0
	for _, s := range g.Sentinels {
		if s.cmd != nil {
			running++
		}
	}
	for _, s := range g.Sentinels {
		if s.cmd == nil {
			continue
		}
		g.waitFor("sentinel "+s.Addr()+" to know the group", func() bool {
			replicas, err1 := redis.Values(s.Try("SENTINEL", "REPLICAS", g.Name))
			others, err2 := redis.Values(s.Try("SENTINEL", "SENTINELS", g.Name))
			return err1 == nil && err2 == nil && len(replicas) == len(g.Nodes)-1 && len(others) == running-1
		})
	}
}

// waitFor polls ok for up to 30 s.
func (g *Group) waitFor(what string, ok func() bool) {
	g.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	g.t.Fatalf("timed out after 30s waiting for %s", what)
}

// Try runs one command on a fresh connection and returns its reply and error.
func (s *Server) Try(cmd string, args ...any) (any, error) {
	c, err := dialURL(s.URL, redis.DialConnectTimeout(time.Second), redis.DialReadTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Do(cmd, args...)
}
