package mongotest_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sessionsvc/sessionsvc/internal/mongotest"
)

// A private server answers, keeps its data across a restart on the same
// port, and is gone while stopped.
func TestRestartKeepsData(t *testing.T) {
	s := mongotest.Start(t)
	if s.Shared() {
		t.Skip("the MongoDB at " + mongotest.EnvURL + " is not this test's to restart")
	}
	ctx := t.Context()
	coll := s.Client(t).Database(s.Database).Collection("things")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "v", Value: "kept"}}); err != nil {
		t.Fatal(err)
	}
	uri := s.URI()
	s.Stop()
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := coll.FindOne(short, bson.D{{Key: "_id", Value: "a"}}).Err(); err == nil {
		t.Error("a stopped server answered")
	}
	s.Restart()
	if s.URI() != uri {
		t.Errorf("URI after restart = %q, want %q", s.URI(), uri)
	}
	var got struct{ V string }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil || got.V != "kept" {
		t.Errorf("after restart: %+v, %v; want the document kept", got, err)
	}
}

// Two tests on one server never share a database.
func TestDatabasesDiffer(t *testing.T) {
	if a, b := mongotest.Start(t), mongotest.Start(t); a.Database == b.Database {
		t.Errorf("two servers share database %q", a.Database)
	}
}
