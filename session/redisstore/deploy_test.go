package redisstore_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// previousRelease is a replica of the release before conditional writes,
// as it uses Redis: it reads a session with GET and writes it whole with
// SET ... PX ... XX, a JSON object with sorted keys.
type previousRelease struct {
	t   *testing.T
	srv *redistest.Server
}

func (p previousRelease) get(id string) map[string]string {
	p.t.Helper()
	data, err := redis.Bytes(p.srv.Do("GET", p.srv.Prefix+id), nil)
	if err != nil {
		p.t.Fatalf("the previous release's GET: %v", err)
	}
	values := map[string]string{}
	if err := json.Unmarshal(data, &values); err != nil {
		p.t.Fatalf("the previous release cannot read %s: %v", data, err)
	}
	return values
}

func (p previousRelease) set(id, key, value string) {
	p.t.Helper()
	values := p.get(id)
	values[key] = value
	data, _ := json.Marshal(values)
	if ok, _ := redis.String(p.srv.Do("SET", p.srv.Prefix+id, data, "PX", 100_000, "XX"), nil); ok != "OK" {
		p.t.Fatal("the previous release's SET did not apply")
	}
}

// TestRollingDeploy: replicas of this release and of the previous one
// serve the same visitors side by side during a rolling deploy. The
// stored format is the same (a string holding JSON), so each reads what
// the other wrote and nobody is logged out; changes between replicas of
// this release are never lost.
func TestRollingDeploy(t *testing.T) {
	srv := redistest.New(t)
	old := previousRelease{t, srv}
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, redisStore(t, srv, nil)).URL}
	id := c.Do("POST", "/set?v=a@example.com").Body
	for i := range 50 {
		email, other := fmt.Sprintf("e%d@example.com", i), fmt.Sprintf("o%d", i)
		old.set(id, "other", other) // the visitor's request lands on an old replica...
		c.Want("GET", "/other", 200, other)
		c.Want("POST", "/set?v="+email, 200, id) // ...then on a new one
		if got := old.get(id); got["email"] != email || got["other"] != other {
			t.Fatalf("round %d: the previous release reads %v", i, got)
		}
		// Two new replicas at once keep both changes.
		sessiontest.Together(c, "POST", "/set?v=x"+email, "POST", "/other?v=x"+other)
		if got := old.get(id); got["email"] != "x"+email || got["other"] != "x"+other {
			t.Fatalf("round %d: after two concurrent changes the previous release reads %v", i, got)
		}
	}
	if typ, _ := redis.String(srv.Do("TYPE", srv.Prefix+id), nil); typ != "string" {
		t.Errorf("the session is a Redis %s, want a string", typ)
	}
}
