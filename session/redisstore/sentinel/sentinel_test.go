package sentinel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session/redisstore/sentinel"
)

func newSentinel(t *testing.T, g *redistest.Group, name string) *sentinel.Sentinel {
	t.Helper()
	var addrs []string
	for _, s := range g.Sentinels {
		addrs = append(addrs, s.Addr())
	}
	s := sentinel.New(sentinel.Config{Addrs: addrs, MasterName: name, Timeout: time.Second})
	t.Cleanup(s.Close)
	return s
}

// Dial connects to the master the sentinels name, and Check accepts the
// connection while that server stays the master.
func TestDialFindsTheMaster(t *testing.T) {
	g := redistest.StartGroup(t, 1, 1)
	s := newSentinel(t, g, g.Name)
	c, err := s.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := s.Master(), g.Nodes[0].Addr(); got != want {
		t.Errorf("Master() = %q, want %q", got, want)
	}
	role, err := redis.Values(c.Do("ROLE"))
	if err != nil || len(role) == 0 || string(role[0].([]byte)) != "master" {
		t.Errorf("ROLE on the dialled connection = %v, %v; want master", role, err)
	}
	if err := s.Check(c, time.Now().Add(-2*time.Second)); err != nil {
		t.Errorf("Check of a connection to the master: %v", err)
	}
	if s.Fenced() {
		t.Error("Fenced with no failover going on")
	}
}

// A master name the sentinels do not know fails Dial with an error that
// says so, within the timeout.
func TestDialUnknownMaster(t *testing.T) {
	g := redistest.StartGroup(t, 0, 1)
	s := newSentinel(t, g, "nobody")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := s.Dial(ctx)
	if err == nil || !strings.Contains(err.Error(), `does not know master "nobody"`) {
		t.Errorf("Dial = %v, want an unknown master", err)
	}
}
