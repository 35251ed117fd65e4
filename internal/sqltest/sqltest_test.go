package sqltest

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // "sqlite"

	"github.com/sessionsvc/sessionsvc/internal/proxytest"
)

// TestPostgres: the database exists, and can be used at the URL returned,
// during the test, and is gone after its cleanup.
func TestPostgres(t *testing.T) {
	base, err := postgresURL()
	if err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		t.Helper()
		var n int
		err := postgresAdmin(base, func(ctx context.Context, db *sql.DB) error {
			return db.QueryRowContext(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	var name string
	t.Run("test", func(t *testing.T) {
		raw := Postgres(t)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		if u.Scheme != "postgres" || !strings.HasPrefix(name, NamePrefix) || u.Host != base.Host || u.RawQuery != base.RawQuery {
			t.Fatalf("Postgres returned %s, base %s", u.Redacted(), base.Redacted())
		}
		if !exists(name) {
			t.Fatalf("database %s does not exist during the test", name)
		}
		// Left open on purpose: the cleanup drops the database all the same.
		db, err := sql.Open("pgx", raw)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec("CREATE TABLE t (v int)"); err != nil {
			t.Fatal(err)
		}
		var current string
		if err := db.QueryRow("SELECT current_database()").Scan(&current); err != nil || current != name {
			t.Errorf("connected to %q (%v), want %s", current, err, name)
		}
	})
	if name == "" {
		t.FailNow()
	}
	if exists(name) {
		t.Errorf("database %s still exists after the cleanup", name)
	}
}

// TestMySQL: the same for MySQL, seen in information_schema.
func TestMySQL(t *testing.T) {
	_, cfg, err := mysqlConfig()
	if err != nil {
		t.Fatal(err)
	}
	exists := func(name string) bool {
		t.Helper()
		var n int
		err := mysqlAdmin(cfg, func(ctx context.Context, db *sql.DB) error {
			return db.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	var name string
	t.Run("test", func(t *testing.T) {
		raw := MySQL(t)
		u, testCfg, err := parseMySQLURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		name = testCfg.DBName
		if !strings.HasPrefix(name, NamePrefix) || testCfg.Addr != cfg.Addr || testCfg.User != cfg.User || testCfg.Passwd != cfg.Passwd || u.Path != "/"+name {
			t.Fatalf("MySQL returned %s", u.Redacted())
		}
		if !exists(name) {
			t.Fatalf("database %s does not exist during the test", name)
		}
		connector, err := mysql.NewConnector(testCfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(connector)
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec("CREATE TABLE t (v int)"); err != nil {
			t.Fatal(err)
		}
		var current string
		if err := db.QueryRow("SELECT database()").Scan(&current); err != nil || current != name {
			t.Errorf("connected to %q (%v), want %s", current, err, name)
		}
	})
	if name == "" {
		t.FailNow()
	}
	if exists(name) {
		t.Errorf("database %s still exists after the cleanup", name)
	}
}

func TestParseMySQLURL(t *testing.T) {
	for _, c := range []struct {
		raw, user, pass, addr, db string
		tls                       string
	}{
		{raw: "mysql://root@127.0.0.1:3306/", user: "root", addr: "127.0.0.1:3306"},
		{raw: "mysql://u:p%40%2Fss@db.example/sessions", user: "u", pass: "p@/ss", addr: "db.example:3306", db: "sessions"},
		{raw: "mysql://u:p@[::1]:3307/?tls=skip-verify", user: "u", pass: "p", addr: "[::1]:3307", tls: "skip-verify"},
		{raw: "mysql:///", addr: "127.0.0.1:3306"},
	} {
		_, cfg, err := parseMySQLURL(c.raw)
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if cfg.User != c.user || cfg.Passwd != c.pass || cfg.Addr != c.addr || cfg.DBName != c.db || cfg.TLSConfig != c.tls || cfg.Net != "tcp" {
			t.Errorf("%s: user %q pass %q addr %q db %q tls %q", c.raw, cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName, cfg.TLSConfig)
		}
	}
	for _, raw := range []string{"postgres://u@h/", "mysql://h/?tls=nosuchconfig"} {
		if _, _, err := parseMySQLURL(raw); err == nil {
			t.Errorf("%s: no error", raw)
		}
	}
}

// TestSQLite: an absolute path in the test's directory, where a database
// can be made.
func TestSQLite(t *testing.T) {
	raw := SQLite(t)
	path, ok := strings.CutPrefix(raw, "sqlite:///")
	if !ok || !strings.HasPrefix(raw, "sqlite:////") || !filepath.IsAbs(path) || filepath.Base(path) != "sessions.db" {
		t.Fatalf("SQLite returned %s", raw)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (v int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestProxyPostgres: a database/sql pool through the proxy fails while the
// proxy is cut and recovers after Restore.
func TestProxyPostgres(t *testing.T) {
	u, err := url.Parse(Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := proxytest.NewProxy(t, target)
	u.Host = p.Addr()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var one int
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	}
	if err := ping(); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := ping(); err == nil {
		t.Fatal("a query succeeded while the proxy was cut")
	}
	p.Restore()
	if err := ping(); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}
