package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
	"github.com/sessionsvc/sessionsvc/session/sqlstore"
)

func openSQLite(t testing.TB) session.Backend {
	t.Helper()
	b, err := sqlstore.New(sqlstore.Config{Dialect: "sqlite", DSN: filepath.Join(t.TempDir(), "sessions.db"), Prefix: "session:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformanceSQLite(t *testing.T) { sessiontest.Run(t, openSQLite) }
