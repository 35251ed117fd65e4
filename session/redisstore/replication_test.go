package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// replicatedStore is a store on srv whose writes wait for minReplicas.
func replicatedStore(t testing.TB, srv *redistest.Server, minReplicas int) (*session.Store, *redisstore.Backend) {
	t.Helper()
	u, err := config.ParseRedisURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := redisstore.New(redisstore.Config{URL: redisstore.URL(u), Prefix: srv.Prefix, Timeout: 300 * time.Millisecond, PoolSize: 8, MinReplicas: minReplicas})
	t.Cleanup(func() { b.Close() })
	return sessiontest.NewStore(t, b, nil), b
}

// counted returns how often each of names ran since the last call, and how
// many of those calls Redis rejected.
func counted(t *testing.T, srv *redistest.Server, names ...string) map[string]string {
	t.Helper()
	info, _ := redis.String(srv.Do("INFO", "commandstats"), nil)
	srv.Do("CONFIG", "RESETSTAT")
	got := map[string]string{}
	for _, line := range strings.Split(info, "\r\n") {
		for _, name := range names {
			if rest, ok := strings.CutPrefix(line, "cmdstat_"+strings.ToLower(name)+":calls="); ok {
				calls, _, _ := strings.Cut(rest, ",")
				got[name] = calls
				if _, r, ok := strings.Cut(rest, "rejected_calls="); ok {
					if r, _, _ = strings.Cut(r, ","); r != "0" {
						got[name] += " (" + r + " rejected)"
					}
				}
			}
		}
	}
	return got
}

func TestMinReplicas(t *testing.T) {
	// A master without replicas cannot have a write acknowledged: 503
	// within the timeout, nothing handed to the visitor.
	lone := redistest.StartTCP(t)
	store, _ := replicatedStore(t, lone, 1)
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	start := time.Now()
	c.Want("POST", "/set?v=a@example.com", 503, "unavailable")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a write waiting for a missing replica took %v", d)
	}
	if c.Cookie != "" {
		t.Errorf("an unacknowledged write set cookie %q", c.Cookie)
	}

	// With a replica, writes and deletes wait for it, in the same round
	// trip; reads do not wait.
	g := redistest.StartGroup(t, 1, 0)
	master, replica := g.Nodes[0], g.Nodes[1]
	store, _ = replicatedStore(t, master, 1)
	c = &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	master.Do("SCRIPT", "LOAD", redisstore.CASScript)
	counted(t, master)
	set(t, c, "b@example.com")
	id := c.Cookie
	if got, _ := redis.String(replica.Do("GET", "session:"+id), nil); got != `{"email":"b@example.com"}` {
		t.Errorf("the replica has %q when the write is acknowledged", got)
	}
	for _, step := range []struct {
		method, path string
		want         map[string]string
	}{
		{"GET", "/get", map[string]string{"GET": "1"}},
		{"POST", "/set?v=c@example.com", map[string]string{"EVALSHA": "1", "GET": "2", "SET": "1", "WAIT": "1"}},
		{"POST", "/delete", map[string]string{"DEL": "1", "EVALSHA": "1", "GET": "2", "WAIT": "1"}},
	} {
		counted(t, master)
		c.Do(step.method, step.path)
		if got := counted(t, master, "GET", "GETEX", "SET", "DEL", "EVALSHA", "WAIT"); fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("%s %s sent %v, want %v", step.method, step.path, got, step.want)
		}
	}
	if n, _ := redis.Int(replica.Do("EXISTS", "session:"+id), nil); n != 0 {
		t.Error("the replica still has the deleted session when the delete is acknowledged")
	}
}

// TestRedisReadOnlyReplyDropsConnections demotes the master behind the
// store's back: writes get READONLY, which counts as a broken connection
// (retried once on a fresh one, then 503), and the store recovers at once
// when a master is back at that address.
func TestRedisReadOnlyReplyDropsConnections(t *testing.T) {
	g := redistest.StartGroup(t, 1, 0)
	master, replica := g.Nodes[0], g.Nodes[1]
	store, _ := replicatedStore(t, master, 0)
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	set(t, c, "a@example.com")

	stats, err := redis.Dial("tcp", master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer stats.Close()
	connections := func() int {
		info, _ := redis.String(stats.Do("INFO", "stats"))
		_, n, _ := strings.Cut(info, "total_connections_received:")
		n, _, _ = strings.Cut(n, "\r\n")
		got, _ := strconv.Atoi(n)
		return got
	}

	host, port, _ := net.SplitHostPort(replica.Addr())
	replica.Do("REPLICAOF", "NO", "ONE")
	master.Do("REPLICAOF", host, port)
	counted(t, master)
	before := connections()
	c.Want("POST", "/set?v=b@example.com", 503, "unavailable")
	if got := connections() - before; got != 1 {
		t.Errorf("the store opened %d connections after READONLY, want 1 (the retry)", got)
	}
	if got := counted(t, master, "SET")["SET"]; got != "0 (2 rejected)" {
		t.Errorf("SET calls = %q, want 2 rejected ones (the write and its retry)", got)
	}

	master.Do("REPLICAOF", "NO", "ONE")
	set(t, c, "c@example.com")
	c.Want("GET", "/get", 200, "c@example.com")
}

// BenchmarkMinReplicas measures what waiting for a replica costs a write,
// side by side with not waiting, on one master and one replica.
func BenchmarkMinReplicas(b *testing.B) {
	g := redistest.StartGroup(b, 1, 0)
	for _, n := range []int{0, 1} {
		b.Run(fmt.Sprintf("min-replicas=%d", n), func(b *testing.B) {
			_, backend := replicatedStore(b, g.Nodes[0], n)
			data := []byte(`{"email":"someone@example.com"}`)
			id := session.NewID()
			for b.Loop() {
				if err := backend.Write(context.Background(), session.Record{Key: id, Data: data, TTL: time.Hour}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
