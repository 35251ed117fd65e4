package mongostore_test

import (
	"crypto/rand"
	"encoding/hex"
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
		URI: srv.URI(), Database: srv.Database, Collection: "sessions_" + randomHex(6), Prefix: "session:",
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestConformance(t *testing.T) {
	srv := mongotest.Start(t)
	sessiontest.Run(t, func(t testing.TB) session.Backend { return open(t, srv, nil) })
}
