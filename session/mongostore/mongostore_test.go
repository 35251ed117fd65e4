package mongostore_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"log/slog"
	"testing"

	"github.com/sessionsvc/sessionsvc/internal/mongotest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/mongostore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// open returns a Backend on srv, in the test's database and a collection
// of its own, closed at cleanup; edit, when not nil, changes the Config
// first.
func open(t testing.TB, srv *mongotest.Server, edit func(*mongostore.Config)) *mongostore.Backend {
	t.Helper()
	cfg := mongostore.Config{
		URI: srv.URI(), Database: srv.Database, Collection: "sessions_" + rand.Text(), Prefix: "session:",
		Logger: slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := mongostore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	srv := mongotest.Start(t)
	sessiontest.Run(t, func(t testing.TB) session.Backend { return open(t, srv, nil) })
}

// A conditional write applies only where each value it changes still
// holds exactly what was loaded, however a query's equality would stretch
// (an array holding the value, null for a missing field); values it does
// not change may have changed meanwhile. Emptying a session compares all.
func TestConditionsAreExact(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	set := func(path string, v any) bson.D { return bson.D{{Key: "$set", Value: bson.D{{Key: path, Value: v}}}} }
	for _, tc := range []struct {
		name     string
		loaded   string
		other    bson.D // what another writer did meanwhile
		data     string // what this write wants; "" deletes
		conflict bool
		want     string // the session afterwards
	}{
		{"another value changed", `{"a":"x","b":"1"}`, set("data.b", "2"), `{"a":"y","b":"1"}`, false, `{"a":"y","b":"2"}`},
		{"another value added", `{"a":"x"}`, bson.D{{Key: "$set", Value: bson.D{{Key: "data.c", Value: "3"}}}, {Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}}, `{"b":"new"}`, false, `{"b":"new","c":"3"}`},
		{"the value changed", `{"a":"x"}`, set("data.a", "z"), `{"a":"y"}`, true, `{"a":"z"}`},
		{"the value became an array holding it", `{"a":"x","b":"1"}`, set("data.a", bson.A{"x"}), `{"a":"y","b":"1"}`, true, `{"a":["x"],"b":"1"}`},
		{"an object became an array holding it", `{"a":{"k":"v"}}`, set("data.a", bson.A{bson.D{{Key: "k", Value: "v"}}}), `{"a":{"k":"w"}}`, true, `{"a":[{"k":"v"}]}`},
		{"null became missing", `{"a":null,"b":"1"}`, bson.D{{Key: "$unset", Value: bson.D{{Key: "data.a", Value: ""}}}, {Key: "$inc", Value: bson.D{{Key: "n", Value: -1}}}}, `{"a":1,"b":"1"}`, true, `{"b":"1"}`},
		{"missing became set", `{"b":"1"}`, bson.D{{Key: "$set", Value: bson.D{{Key: "data.a", Value: "z"}}}, {Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}}, `{"a":"y","b":"1"}`, true, `{"a":"z","b":"1"}`},
		{"empty what is as loaded", `{"a":"x","b":[1]}`, nil, "", false, ""},
		{"empty after a value became an array", `{"a":"x"}`, set("data.a", bson.A{"x"}), "", true, `{"a":["x"]}`},
		{"empty after a value was added", `{"a":"x"}`, bson.D{{Key: "$set", Value: bson.D{{Key: "data.c", Value: "3"}}}, {Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}}, "", true, `{"a":"x","c":"3"}`},
		{"retire what is as loaded", `{"a":"x"}`, nil, `{"__renewed_to":"k","__renewed_until":"1"}`, false, `{"__renewed_to":"k","__renewed_until":"1"}`},
		{"retire after another value changed", `{"a":"x","b":"1"}`, set("data.b", "2"), `{"__renewed_to":"k","__renewed_until":"1"}`, true, `{"a":"x","b":"2"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			key := session.NewID()
			if err := b.Write(ctx, session.Record{Key: key, Data: []byte(tc.loaded), TTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			if tc.other != nil {
				if _, err := b.Collection().UpdateOne(ctx, bson.D{{Key: "_id", Value: "session:" + key}}, tc.other); err != nil {
					t.Fatal(err)
				}
			}
			rec := session.Record{Key: key, TTL: time.Hour, Loaded: []byte(tc.loaded)}
			if tc.data != "" {
				rec.Data = []byte(tc.data)
			}
			err := b.Write(ctx, rec)
			var c *session.Conflict
			if got := errors.As(err, &c); got != tc.conflict || !got && err != nil {
				t.Fatalf("Write = %v, want a conflict: %v", err, tc.conflict)
			}
			if c != nil && string(c.Data) != tc.want {
				t.Errorf("conflict holds %s, want %s", c.Data, tc.want)
			}
			got, _, err := b.Load(ctx, key, 0)
			if string(got) != tc.want || err != nil {
				t.Errorf("afterwards the session holds %s, %v; want %s", got, err, tc.want)
			}
			if tc.want != "" {
				var doc struct{ N int }
				b.Collection().FindOne(ctx, bson.D{{Key: "_id", Value: "session:" + key}}).Decode(&doc)
				if want := strings.Count(tc.want, `":`) - strings.Count(tc.want, `{"k"`); doc.N != want {
					t.Errorf("n = %d, want %d", doc.N, want)
				}
			}
		})
	}
}

// A renewal whose old session changed meanwhile writes nothing: the new
// session it wrote first is deleted again.
func TestRenewalConflictLeavesNothing(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	ctx := t.Context()
	old, fresh := session.NewID(), session.NewID()
	b.Write(ctx, session.Record{Key: old, Data: []byte(`{"a":"x"}`), TTL: time.Hour})
	b.Write(ctx, session.Record{Key: old, Data: []byte(`{"a":"y"}`), TTL: time.Hour, Loaded: []byte(`{"a":"x"}`)})
	err := b.Write(ctx,
		session.Record{Key: fresh, Data: []byte(`{"a":"x"}`), TTL: time.Hour},
		session.Record{Key: old, Data: []byte(`{"__renewed_to":"k","__renewed_until":"1"}`), TTL: time.Second, Loaded: []byte(`{"a":"x"}`)})
	var c *session.Conflict
	if !errors.As(err, &c) || c.Key != old || string(c.Data) != `{"a":"y"}` {
		t.Fatalf("Write = %v, want a conflict on the old key holding a=y", err)
	}
	if _, found, _ := b.Load(ctx, fresh, 0); found {
		t.Error("the renewal's new session was left behind")
	}
	if n := count(t, b); n != 1 {
		t.Errorf("%d documents, want the old session's only", n)
	}
}

func BenchmarkBackend(b *testing.B) {
	srv := mongotest.Start(b)
	sessiontest.Bench(b, func(t testing.TB) session.Backend { return open(t, srv, nil) })
}

// New needs no server, fails on a URI that cannot work, and describes
// where sessions are kept without credentials.
func TestNew(t *testing.T) {
	for _, uri := range []string{"", "http://127.0.0.1:27017", "mongodb://", "mongodb://127.0.0.1:1/?maxPoolSize=many"} {
		if b, err := mongostore.New(mongostore.Config{URI: uri}); err == nil {
			b.Close()
			t.Errorf("New(%q) passed", uri)
		}
	}
	b, err := mongostore.New(mongostore.Config{URI: "mongodb://user:s3cret@127.0.0.1:1,127.0.0.2:2/admin?replicaSet=rs&maxPoolSize=20"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := map[string]string{"hosts": "127.0.0.1:1,127.0.0.2:2", "database": "flask_session", "collection": "sessions", "expiry": "not known yet: no contact with the server"}
	got := b.Describe()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Describe()[%q] = %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if strings.Contains(v, "s3cret") || strings.Contains(v, "user") {
			t.Errorf("Describe()[%q] = %q tells the credentials", k, v)
		}
	}
	if got, want := b.Location("abc"), "flask_session.sessions/abc"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	// Down: a call fails within about the timeout (500ms), not the driver's 30s.
	start := time.Now()
	if err := b.Ping(t.Context()); err == nil {
		t.Error("Ping passed with no server")
	}
	if _, _, err := b.Load(t.Context(), "abc", 0); err == nil {
		t.Error("Load passed with no server")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a Ping and a Load with no server took %v", d)
	}
}

// List walks every live session whose key starts with a prefix, in
// batches of at most 500, each once; sessions of another Prefix in the
// same collection are not its.
func TestListPages(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	other := open(t, srv, func(c *mongostore.Config) { c.Collection, c.Prefix = b.Describe()["collection"], "sessionx" })
	ctx := t.Context()
	const total = 1203
	for i := range total {
		if err := b.Write(ctx, session.Record{Key: fmt.Sprintf("k%04d", i), Data: []byte(`{"a":"b"}`), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	other.Write(ctx, session.Record{Key: "k0001", Data: []byte(`{"a":"other"}`), TTL: time.Hour})
	expire(t, b, "k0002")
	for _, tc := range []struct {
		prefix string
		want   int
	}{{"", total - 1}, {"k1", 203}, {"k01", 100}, {"k0002", 0}, {"x", 0}} {
		seen := map[string]bool{}
		err := b.List(ctx, tc.prefix, func(batch []session.Stored) error {
			if len(batch) > 500 {
				t.Errorf("batch of %d", len(batch))
			}
			for _, s := range batch {
				if seen[s.Key] || !strings.HasPrefix(s.Key, tc.prefix) || string(s.Data) != `{"a":"b"}` || s.TTL < 59*time.Minute {
					t.Errorf("List(%q) gave %+v", tc.prefix, s)
				}
				seen[s.Key] = true
			}
			return nil
		})
		if err != nil || len(seen) != tc.want {
			t.Errorf("List(%q) found %d, %v; want %d", tc.prefix, len(seen), err, tc.want)
		}
	}
	if recs, err := b.Get(ctx, "k0001", "k0002", "missing", "k1202"); err != nil || len(recs) != 2 || recs[0].Key != "k0001" || recs[1].Key != "k1202" {
		t.Errorf("Get = %+v, %v; want k0001 and k1202", recs, err)
	}
}
