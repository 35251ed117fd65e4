// Package sqltest gives tests SQL databases of their own: a fresh database on
// the PostgreSQL at TEST_POSTGRES_URL or on the MariaDB (or MySQL) at
// TEST_MYSQL_URL, created for one test and dropped at its cleanup, and a
// SQLite file in the test's temporary directory. The databases are named
// sessionsvc_test_<random>, so parallel tests and packages never collide; a
// test killed before its cleanup leaves its database behind under that name.
// For fault tests, Proxy (proxy.go) forwards TCP to a server and can cut it.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
)

// The servers the tests use unless TEST_POSTGRES_URL and TEST_MYSQL_URL say
// otherwise: those of a Debian machine after apt-get install, reached over
// TCP as their administrators.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultMySQLURL    = "mysql://root@127.0.0.1:3306/"
)

// NamePrefix begins the name of every database this package creates.
const NamePrefix = "sessionsvc_test_"

// Bounds on the server's answers. Making a database writes a copy of the
// template and waits for it to reach the disk, which takes seconds on a busy
// machine.
const (
	connectTimeout = 10 * time.Second
	timeout        = 2 * time.Minute
)

// Postgres creates a database of the test's own on the PostgreSQL at
// TEST_POSTGRES_URL (default DefaultPostgresURL; the user needs CREATEDB),
// drops it at cleanup, closing whatever connections are still open to it,
// and returns its URL: that of TEST_POSTGRES_URL, with the database's name as
// its path. It fails the test, saying how to get a server, when the server
// cannot be reached.
func Postgres(t testing.TB) string {
	t.Helper()
	base, err := postgresURL()
	if err != nil {
		t.Fatal(err)
	}
	name := NamePrefix + randomHex(8)
	admin := func(f func(context.Context, *sql.DB) error) error { return postgresAdmin(base, f) }
	createDatabase(t, admin, "PostgreSQL at "+base.Redacted(), missingPostgres, "its user needs CREATEDB",
		"CREATE DATABASE "+name, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	u := *base
	u.Scheme = "postgres"
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// createDatabase runs create through admin, on the server that where names,
// failing the test with missing (how to get a server) when it cannot be
// reached, and with need (the privilege) when the statement fails. drop
// runs at cleanup, registered before the creation, which may succeed on
// the server after failing here (timing out, say).
func createDatabase(t testing.TB, admin func(func(context.Context, *sql.DB) error) error, where, missing, need, create, drop string) {
	t.Helper()
	var reached bool
	t.Cleanup(func() {
		if !reached {
			return
		}
		err := admin(func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, drop)
			return err
		})
		if err != nil {
			t.Errorf("sqltest: %s: %v", drop, err)
		}
	})
	err := admin(func(ctx context.Context, db *sql.DB) error {
		pingCtx, cancel := context.WithTimeout(ctx, connectTimeout)
		defer cancel()
		if err := db.PingContext(pingCtx); err != nil {
			return fmt.Errorf("sqltest: cannot reach %s: %w\n%s", where, err, missing)
		}
		reached = true
		if _, err := db.ExecContext(ctx, create); err != nil {
			return fmt.Errorf("sqltest: %s on %s (%s): %w", create, where, need, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// missingPostgres says how to get a PostgreSQL for the tests.
const missingPostgres = "The tests need a PostgreSQL over TCP where they may create databases: set TEST_POSTGRES_URL " +
	"(default " + DefaultPostgresURL + ") to one, install one (Debian/Ubuntu: apt-get install postgresql), " +
	"or run .ci/run, which installs, starts and sets one up."

// postgresURL is TEST_POSTGRES_URL, or DefaultPostgresURL.
func postgresURL() (*url.URL, error) {
	raw := env("TEST_POSTGRES_URL", DefaultPostgresURL)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("sqltest: TEST_POSTGRES_URL must be a postgres:// URL, not %q", raw)
	}
	return u, nil
}

// postgresAdmin runs f on a connection pool to the database of u, closed
// after it.
func postgresAdmin(u *url.URL, f func(context.Context, *sql.DB) error) error {
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	return runOn(db, f)
}

// runOn runs f on db with the admin timeout, and closes db.
func runOn(db *sql.DB, f func(context.Context, *sql.DB) error) error {
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return f(ctx, db)
}

// MySQL creates a database of the test's own on the MariaDB or MySQL at
// TEST_MYSQL_URL (default DefaultMySQLURL; mysql://user:password@host:port/,
// with the driver's options, e.g. ?tls=true, as its query), drops it at
// cleanup, and returns its URL, mysql://user:password@host:port/name, the
// form SQLALCHEMY_DATABASE_URI takes. It fails the test, saying how to get a
// server, when the server cannot be reached.
func MySQL(t testing.TB) string {
	t.Helper()
	u, cfg, err := mysqlConfig()
	if err != nil {
		t.Fatal(err)
	}
	name := NamePrefix + randomHex(8)
	admin := func(f func(context.Context, *sql.DB) error) error { return mysqlAdmin(cfg, f) }
	createDatabase(t, admin, "MariaDB/MySQL at "+u.Redacted(), missingMySQL, "its user needs CREATE on "+NamePrefix+"%",
		"CREATE DATABASE `"+name+"`", "DROP DATABASE IF EXISTS `"+name+"`")
	out := url.URL{Scheme: "mysql", User: u.User, Host: cfg.Addr, Path: "/" + name, RawQuery: u.RawQuery}
	return out.String()
}

// missingMySQL says how to get a MariaDB for the tests.
const missingMySQL = "The tests need a MariaDB or MySQL over TCP where they may create databases: set TEST_MYSQL_URL " +
	"(default " + DefaultMySQLURL + ") to one, install one (Debian/Ubuntu: apt-get install mariadb-server), " +
	"or run .ci/run, which installs, starts and sets one up."

// mysqlConfig parses TEST_MYSQL_URL, or DefaultMySQLURL, into the driver's
// configuration, with no database selected.
func mysqlConfig() (*url.URL, *mysql.Config, error) {
	raw := env("TEST_MYSQL_URL", DefaultMySQLURL)
	u, cfg, err := parseMySQLURL(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("sqltest: TEST_MYSQL_URL: %w", err)
	}
	return u, cfg, nil
}

// parseMySQLURL turns mysql://user:password@host:port/db?options into the
// driver's configuration; the host defaults to 127.0.0.1, the port to 3306,
// the options are the driver's DSN parameters.
func parseMySQLURL(raw string) (*url.URL, *mysql.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, nil, fmt.Errorf("%q is not a mysql:// URL", raw)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.RawQuery != "" {
		// The driver parses its own options: through a DSN.
		if cfg, err = mysql.ParseDSN(cfg.FormatDSN() + "?" + u.RawQuery); err != nil {
			return nil, nil, err
		}
	}
	cfg.Timeout = connectTimeout
	return u, cfg, nil
}

// mysqlAdmin runs f on a connection pool to the server of cfg, with no
// database selected, closed after it.
func mysqlAdmin(cfg *mysql.Config, f func(context.Context, *sql.DB) error) error {
	cfg = cfg.Clone()
	cfg.DBName = ""
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	return runOn(sql.OpenDB(connector), f)
}

// SQLite returns the URL of a SQLite database in the test's temporary
// directory, sqlite:////<dir>/sessions.db (the path is absolute). The file
// does not exist yet; it goes with the directory.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "sessions.db"))
}

// env is the variable key, or def when it is unset or empty.
func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
