package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionsvc/sessionsvc/internal/mongotest"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/mongostore"
)

// expire sets the expiry of key's document to a second ago, as time
// passing would.
func expire(t *testing.T, b *mongostore.Backend, key string) {
	t.Helper()
	_, err := b.Collection().UpdateOne(t.Context(), bson.D{{Key: "_id", Value: "session:" + key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiry", Value: time.Now().Add(-time.Second)}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// count is how many documents the collection holds, expired or not.
func count(t *testing.T, b *mongostore.Backend) int64 {
	t.Helper()
	n, err := b.Collection().CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A document whose expiry has passed is never served, by any read, before
// the server or the sweep deletes it; a conditional write does not bring
// it back, nor does a refreshing read.
func TestExpiredIsNeverServed(t *testing.T) {
	srv := mongotest.Start(t)
	b := open(t, srv, nil)
	ctx := t.Context()
	key := session.NewID()
	data := []byte(`{"email":"a@example.com"}`)
	if err := b.Write(ctx, session.Record{Key: key, Data: data, TTL: time.Hour, Owner: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := b.Load(ctx, key, 0); !found {
		t.Fatal("a live session was not found")
	}
	expire(t, b, key)
	for _, refresh := range []time.Duration{0, time.Hour} {
		if data, found, err := b.Load(ctx, key, refresh); found || err != nil {
			t.Errorf("Load(refresh %v) of an expired session = %s, %v, %v", refresh, data, found, err)
		}
	}
	if recs, err := b.Get(ctx, key); len(recs) != 0 || err != nil {
		t.Errorf("Get = %v, %v", recs, err)
	}
	var listed []session.Stored
	if err := b.List(ctx, "", func(batch []session.Stored) error { listed = append(listed, batch...); return nil }); len(listed) != 0 || err != nil {
		t.Errorf("List = %v, %v", listed, err)
	}
	if keys, err := b.Owned(ctx, "a@example.com"); len(keys) != 0 || err != nil {
		t.Errorf("Owned = %v, %v", keys, err)
	}
	if _, found, _ := b.TTL(ctx, key); found {
		t.Error("TTL found an expired session")
	}
	for name, rec := range map[string]session.Record{
		"change": {Key: key, Data: []byte(`{"email":"b@example.com"}`), TTL: time.Hour, Loaded: data},
		"empty":  {Key: key, Loaded: data},
	} {
		err := b.Write(ctx, rec)
		if c, ok := err.(*session.Conflict); !ok || c.Data != nil {
			t.Errorf("%s over an expired session = %v, want a conflict with nothing", name, err)
		}
	}
	if n := count(t, b); n != 1 {
		t.Errorf("%d documents, want the expired one, not yet deleted", n)
	}
	if _, found, _ := b.Load(ctx, key, 0); found {
		t.Error("the expired session came back")
	}
}

// syncBuffer is a log destination for several goroutines.
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

// Expired documents go: by a TTL index where the server makes one (MongoDB),
// else (FerretDB) by the backend's sweep, which it says once in the log.
func TestExpiredAreDeleted(t *testing.T) {
	srv := mongotest.Start(t)
	var log syncBuffer
	b := open(t, srv, func(c *mongostore.Config) {
		c.SweepEvery = 50 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	ctx := t.Context()
	if got := b.Describe()["expiry"]; !strings.HasPrefix(got, "not known") {
		t.Errorf("expiry before first contact: %q", got)
	}
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	ttl := indexes(t, b)["expiry"]
	if ttl == nil {
		t.Fatalf("no expiry index: %v", indexes(t, b))
	}
	if _, ok := ttl.Lookup("expireAfterSeconds").AsInt64OK(); ok {
		// The server deletes expired documents itself (about once a minute).
		if !srv.Shared() {
			t.Error("FerretDB made a TTL index")
		}
		if got := b.Describe()["expiry"]; got != "TTL index" || log.String() != "" {
			t.Errorf("with a TTL index: Describe says %q, log %q", got, log.String())
		}
		return
	}

	if got, want := b.Describe()["expiry"], "swept by the service every 50ms"; got != want {
		t.Errorf("Describe expiry = %q, want %q", got, want)
	}
	live := session.NewID()
	if err := b.Write(ctx, session.Record{Key: live, Data: []byte(`{"a":"b"}`), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		key := session.NewID()
		if err := b.Write(ctx, session.Record{Key: key, Data: []byte(`{"a":"b"}`), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		expire(t, b, key)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(t, b) != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := count(t, b); n != 1 {
		t.Errorf("%d documents left after sweeps, want the live one", n)
	}
	if _, found, _ := b.Load(ctx, live, 0); !found {
		t.Error("the live session was swept")
	}
	key := session.NewID()
	b.Write(ctx, session.Record{Key: key, Data: []byte(`{"a":"b"}`), TTL: time.Hour})
	expire(t, b, key)
	if n, err := b.Sweep(time.Now()); n != 1 || err != nil {
		t.Errorf("Sweep = %d, %v; want 1 deleted", n, err)
	}
	b.Ping(ctx)
	if n := strings.Count(log.String(), "refuses TTL indexes"); n != 1 {
		t.Errorf("the sweep was announced %d times, want once:\n%s", n, log.String())
	}
}

// indexes returns the collection's indexes by name.
func indexes(t *testing.T, b *mongostore.Backend) map[string]bson.Raw {
	t.Helper()
	cur, err := b.Collection().Indexes().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.Raw
	if err := cur.All(t.Context(), &all); err != nil {
		t.Fatal(err)
	}
	out := map[string]bson.Raw{}
	for _, ix := range all {
		out[ix.Lookup("name").StringValue()] = ix
	}
	return out
}

// ttlRefused tells FerretDB's refusal of a TTL index from failures.
func TestTTLRefused(t *testing.T) {
	srv := mongotest.Start(t)
	ctx := t.Context()
	coll := srv.Client(t).Database(srv.Database).Collection("ttl")
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "expiry", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(0)})
	switch {
	case srv.Shared() && err == nil: // MongoDB makes it
	case srv.Shared():
		t.Fatalf("MongoDB refused a TTL index: %v", err)
	case !mongostore.TTLRefused(err):
		t.Errorf("ttlRefused(%v) = false, want true for FerretDB's refusal", err)
	}
	// A different index on the same keys, under the same name: refused, but
	// not as not implemented.
	_, err = coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "x", Value: 1}}, Options: options.Index().SetName("x_1").SetUnique(true)})
	if err == nil {
		_, err = coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "y", Value: 1}}, Options: options.Index().SetName("x_1")})
	}
	if err == nil || mongostore.TTLRefused(err) {
		t.Errorf("conflicting index: err %v, ttlRefused true; want an error that is no refusal of TTL", err)
	}
	// Nobody listening.
	down, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1/").SetServerSelectionTimeout(200 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Disconnect(context.Background())
	_, err = down.Database("x").Collection("y").Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "expiry", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(0)})
	if err == nil || mongostore.TTLRefused(err) {
		t.Errorf("server down: err %v, ttlRefused true; want false", err)
	}
	for _, err := range []error{nil, errors.New("NotImplemented"), context.DeadlineExceeded} {
		if mongostore.TTLRefused(err) {
			t.Errorf("ttlRefused(%v) = true", err)
		}
	}
}
