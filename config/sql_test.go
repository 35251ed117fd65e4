package config

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// sqlURLCases are SQLALCHEMY_DATABASE_URI values and what ParseSQLURL makes
// of them: the URL, or an error containing err (and never the password
// "secret").
var sqlURLCases = []struct {
	in   string
	want SQLURL
	err  string
}{
	{"postgresql://user:secret@host:5432/db", SQLURL{"postgres", "postgres://user:secret@host:5432/db", "db", "host:5432"}, ""},
	{"postgres://h/db", SQLURL{"postgres", "postgres://h:5432/db", "db", "h:5432"}, ""},
	{"PostgreSQL://h/db", SQLURL{"postgres", "postgres://h:5432/db", "db", "h:5432"}, ""},
	{"postgresql+psycopg2://u:s%40cret@db.internal/sessions?sslmode=require&connect_timeout=5&application_name=sessionsvc",
		SQLURL{"postgres", "postgres://u:s%40cret@db.internal:5432/sessions?sslmode=require&connect_timeout=5&application_name=sessionsvc", "sessions", "db.internal:5432"}, ""},
	{"postgresql+asyncpg://app@[::1]:6543/db", SQLURL{"postgres", "postgres://app@[::1]:6543/db", "db", "[::1]:6543"}, ""},
	{"postgresql+pg8000://u:secret@10.0.0.7/db", SQLURL{"postgres", "postgres://u:secret@10.0.0.7:5432/db", "db", "10.0.0.7:5432"}, ""},
	{"postgresql://u:secret@/db?host=/var/run/postgresql", SQLURL{"postgres", "postgres://u:secret@/db?host=/var/run/postgresql", "db", "/var/run/postgresql"}, ""},
	{"postgresql://:secret@h/db", SQLURL{"postgres", "postgres://:secret@h:5432/db", "db", "h:5432"}, ""},
	// Unencoded, as SQLAlchemy takes them: the password runs to the first "@".
	{"postgresql://u:se/cr?et#:x@h/db", SQLURL{"postgres", "postgres://u:se%2Fcr%3Fet%23%3Ax@h:5432/db", "db", "h:5432"}, ""},
	{"postgresql://u:50%off@h/db", SQLURL{"postgres", "postgres://u:50%25off@h:5432/db", "db", "h:5432"}, ""},
	// The database name as written: SQLAlchemy does not decode it.
	{"postgresql://h/my%20db", SQLURL{"postgres", "postgres://h:5432/my%2520db", "my%20db", "h:5432"}, ""},

	{"mysql://u:secret@h/db", SQLURL{"mysql", "u:secret@tcp(h:3306)/db", "db", "h:3306"}, ""},
	{"mysql+pymysql://u:s%40cret@db.internal:3307/sessions?charset=utf8mb4&connect_timeout=2.5",
		SQLURL{"mysql", "u:s@cret@tcp(db.internal:3307)/sessions?charset=utf8mb4&timeout=2.5s", "sessions", "db.internal:3307"}, ""},
	{"mariadb://u:secret@h/db?ssl_mode=verify_identity", SQLURL{"mysql", "u:secret@tcp(h:3306)/db?tls=true", "db", "h:3306"}, ""},
	{"mariadb+mariadbconnector://u:secret@h/db?ssl_mode=REQUIRED", SQLURL{"mysql", "u:secret@tcp(h:3306)/db?tls=skip-verify", "db", "h:3306"}, ""},
	{"mysql+mysqldb://u:secret@h/db?ssl_mode=PREFERRED", SQLURL{"mysql", "u:secret@tcp(h:3306)/db?tls=preferred", "db", "h:3306"}, ""},
	{"mysql://u:secret@h/db?ssl_mode=disabled", SQLURL{"mysql", "u:secret@tcp(h:3306)/db?tls=false", "db", "h:3306"}, ""},
	{"mysql+mysqlconnector://u:secret@localhost/db?unix_socket=/run/mysqld/mysqld.sock", SQLURL{"mysql", "u:secret@unix(/run/mysqld/mysqld.sock)/db", "db", "/run/mysqld/mysqld.sock"}, ""},
	{"mysql://root@[::1]/db", SQLURL{"mysql", "root@tcp([::1]:3306)/db", "db", "[::1]:3306"}, ""},
	{"mysql://u:se/cr?et#:x@h/my%2Fdb", SQLURL{"mysql", "u:se/cr?et#:x@tcp(h:3306)/my%252Fdb", "my%2Fdb", "h:3306"}, ""},

	{"sqlite:///relative/path.db", SQLURL{"sqlite", "relative/path.db", "relative/path.db", ""}, ""},
	{"sqlite:////absolute/path.db", SQLURL{"sqlite", "/absolute/path.db", "/absolute/path.db", ""}, ""},
	{"sqlite+pysqlite:///sessions.db", SQLURL{"sqlite", "sessions.db", "sessions.db", ""}, ""},

	{"", SQLURL{}, "not a URL"},
	{"u:secret@h/db", SQLURL{}, "not a URL"},
	{"oracle://u:secret@h/db", SQLURL{}, "scheme must be postgresql, postgres, mysql, mariadb or sqlite"},
	{"mssql+pyodbc://u:secret@h/db", SQLURL{}, "scheme must be"},
	{"postgresql://u:secret@/db", SQLURL{}, "no host"},
	{"postgresql://u:secret@:5432/db", SQLURL{}, "no host before the port"},
	{"postgresql://u:secret@h", SQLURL{}, "no database name"},
	{"postgresql://u:secret@h:5432/", SQLURL{}, "no database name"},
	{"postgresql://u:secret@h:99999/db", SQLURL{}, `port "99999" is not a port number`},
	{"postgresql://u:secret@h:x/db", SQLURL{}, `port "x" is not a port number`},
	{"postgresql://u:secret@h$t/db", SQLURL{}, `host "h$t" is not a host name or IP address`},
	{"postgresql://u:secret@[h]/db", SQLURL{}, `host "[h]" is not a host name or IP address`},
	{"postgresql://u:secret@h/db?%zz", SQLURL{}, "options after ?"},
	{"postgresql://u:sec@ret@h/db", SQLURL{}, `an "@" after user:password@`},
	{"postgresql://u:secret@h/db\n", SQLURL{}, "a control character"},
	{"postgresql://u:secret%00@h/db", SQLURL{}, "NUL"},
	{"mysql://u:secret@h", SQLURL{}, "no database name"},
	{"mysql://u:secret@/db", SQLURL{}, "no host"},
	{"mysql://:secret@h/db", SQLURL{}, "a password without a user name"},
	{"mysql://a%3Ab:secret@h/db", SQLURL{}, `no ":" in a user name`},
	{"mysql://u:secret@h/db?autocommit=true", SQLURL{}, `unknown option "autocommit": mysql URLs take charset, connect_timeout, ssl_mode, unix_socket`},
	{"mysql://u:secret@h/db?ssl_ca=/etc/ca.pem", SQLURL{}, `unknown option "ssl_ca"`},
	{"mysql://u:secret@h/db?charset=utf8&charset=latin1", SQLURL{}, `option "charset" is given twice`},
	{"mysql://u:secret@h/db?charset=utf8mb4%26x", SQLURL{}, `charset "utf8mb4&x" is not`},
	{"mysql://u:secret@h/db?connect_timeout=0", SQLURL{}, `connect_timeout "0" is not`},
	{"mysql://u:secret@h/db?connect_timeout=soon", SQLURL{}, `connect_timeout "soon" is not`},
	{"mysql://u:secret@h/db?ssl_mode=ON", SQLURL{}, `ssl_mode "ON": want DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY`},
	{"mysql://u:secret@h/db?unix_socket=", SQLURL{}, `unix_socket "" is not`},
	{"sqlite://", SQLURL{}, "no file: an in-memory database would be one per connection"},
	{"sqlite:///", SQLURL{}, "no file"},
	{"sqlite:///:memory:", SQLURL{}, "no file"},
	{"sqlite://host/sessions.db", SQLURL{}, "a sqlite URL has no host or user"},
	{"sqlite://u:secret@/sessions.db", SQLURL{}, "a sqlite URL has no host or user"},
	{"sqlite:///sessions.db?timeout=20", SQLURL{}, "a sqlite URL takes no options"},
	{"sqlite:///var/lib/", SQLURL{}, "is a directory"},
}

func TestParseSQLURL(t *testing.T) {
	for _, tc := range sqlURLCases {
		got, err := ParseSQLURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "ret@") {
				t.Errorf("ParseSQLURL(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSQLURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestSQLDriversReadDSN checks that each DSN means to its driver what the
// URL says: user, password, address and database, whatever characters
// they hold.
func TestSQLDriversReadDSN(t *testing.T) {
	odd := "p@ss:w/o#r?d%&=+ ;'\"\\()é"
	for _, tc := range []struct {
		in                 string
		user, password, db string
	}{
		{"postgresql://" + url.UserPassword("app", odd).String() + "@h:5433/db", "app", odd, "db"},
		{"postgresql://" + url.QueryEscape("a:b@c") + ":" + escapeAll(odd) + "@h:5433/db", "a:b@c", odd, "db"},
		{"postgresql://app:se/cr?et#:x@h:5433/my%20db", "app", "se/cr?et#:x", "my%20db"},
		{"mysql://" + url.UserPassword("app", odd).String() + "@h:5433/db", "app", odd, "db"},
		{"mysql://a%40b:" + escapeAll(odd) + "@h:5433/db", "a@b", odd, "db"},
		{"mysql://app:se/cr?et#:x)@h:5433/my%2Fdb", "app", "se/cr?et#:x)", "my%2Fdb"},
	} {
		u, err := ParseSQLURL(tc.in)
		if err != nil {
			t.Errorf("ParseSQLURL(%q): %v", tc.in, err)
			continue
		}
		var user, password, addr, db string
		switch u.Dialect {
		case "postgres":
			cfg, err := pgconn.ParseConfig(u.DSN)
			if err != nil {
				t.Errorf("%q: pgx: %v", tc.in, err)
				continue
			}
			user, password, addr, db = cfg.User, cfg.Password, cfg.Host+":"+strconv.Itoa(int(cfg.Port)), cfg.Database
		case "mysql":
			cfg, err := mysql.ParseDSN(u.DSN)
			if err != nil {
				t.Errorf("%q: go-sql-driver: %v", tc.in, err)
				continue
			}
			user, password, addr, db = cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName
		}
		if user != tc.user || password != tc.password || addr != "h:5433" || db != tc.db || u.Database != tc.db {
			t.Errorf("%q: the driver reads user %q, password %q, address %q, database %q; want %q, %q, h:5433, %q",
				tc.in, user, password, addr, db, tc.user, tc.password, tc.db)
		}
		if s := u.String(); strings.Contains(s, tc.password) || strings.Contains(s, url.PathEscape(tc.password)) {
			t.Errorf("%q: String() = %q shows the password", tc.in, s)
		}
	}
	// Every accepted case opens with its driver.
	for _, tc := range sqlURLCases {
		if tc.err != "" {
			continue
		}
		var err error
		switch tc.want.Dialect {
		case "postgres":
			_, err = pgconn.ParseConfig(tc.want.DSN)
		case "mysql":
			_, err = mysql.ParseDSN(tc.want.DSN)
		}
		if err != nil {
			t.Errorf("%q: the driver refuses %q: %v", tc.in, tc.want.DSN, err)
		}
	}
}

// escapeAll percent-encodes every byte of s.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:]))
	}
	return b.String()
}

// TestSQLURLString checks that String hides the password and reads back as
// the same URL, but for the password.
func TestSQLURLString(t *testing.T) {
	for _, tc := range sqlURLCases {
		if tc.err != "" {
			continue
		}
		s := tc.want.String()
		if strings.Contains(s, "secret") || strings.Contains(s, "cret") {
			t.Errorf("%q: String() = %q shows the password", tc.in, s)
		}
		got, err := ParseSQLURL(s)
		if err != nil || got.Dialect != tc.want.Dialect || got.Database != tc.want.Database || got.Address != tc.want.Address || got.String() != s {
			t.Errorf("%q: String() = %q, read back as %+v, %v", tc.in, s, got, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"postgresql+psycopg2://u:secret@h/db?sslmode=require", "postgres://u:xxxxx@h:5432/db?sslmode=require"},
		{"postgresql://u@h/db?password=secret&sslmode=require", "postgres://u@h:5432/db?password=xxxxx&sslmode=require"},
		{"postgresql://u:secret@/db?host=/var/run/postgresql", "postgres://u:xxxxx@/db?host=/var/run/postgresql"},
		{"mysql+pymysql://u:secret@h/db?charset=utf8mb4&connect_timeout=2.5&ssl_mode=required", "mysql://u:xxxxx@h:3306/db?charset=utf8mb4&connect_timeout=2.5&ssl_mode=REQUIRED"},
		{"mysql://u:secret@h/db?ssl_mode=VERIFY_CA", "mysql://u:xxxxx@h:3306/db?ssl_mode=VERIFY_IDENTITY"},
		{"mysql://u:secret@localhost/db?unix_socket=/run/mysqld/mysqld.sock", "mysql://u:xxxxx@/db?unix_socket=%2Frun%2Fmysqld%2Fmysqld.sock"},
		{"sqlite:////var/lib/sessions.db", "sqlite:////var/lib/sessions.db"},
	} {
		u, err := ParseSQLURL(tc.in)
		if got := u.String(); err != nil || got != tc.want {
			t.Errorf("ParseSQLURL(%q).String() = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got := (SQLURL{}).String(); got != "" {
		t.Errorf("SQLURL{}.String() = %q, want empty", got)
	}
	// A DSN in another form shows no credentials.
	if got, want := (SQLURL{Dialect: "postgres", DSN: "host=h password=secret", Database: "db", Address: "h:5432"}).String(), "postgres://h:5432/db"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestRedactSQL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"mysql://u:secret@h/db?x=1", "mysql://u:xxxxx@h/db?x=1"},
		{"postgresql://u:sec@ret@h/db", "postgresql://u:xxxxx@h/db"},
		{"u:secret@h/db", "u:xxxxx@h/db"},
		{"oracle://secret@h/db", "oracle://xxxxx@h/db"},
		{"postgresql://h/db?sslpassword=secret&PassWord=secret&sslmode=require", "postgresql://h/db?sslpassword=xxxxx&PassWord=xxxxx&sslmode=require"},
		{"sqlite:///x.db", "sqlite:///x.db"},
	} {
		if got := redactSQL(tc.in); got != tc.want {
			t.Errorf("redactSQL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParseSQLURL: ParseSQLURL never panics, and what it accepts its
// String shows without the password and reads back the same.
func FuzzParseSQLURL(f *testing.F) {
	for _, tc := range sqlURLCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseSQLURL(raw)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("%q: error %q is not one line", raw, err)
			}
			return
		}
		s := u.String()
		back, err := ParseSQLURL(s)
		if err != nil || back.Dialect != u.Dialect || back.Database != u.Database || back.Address != u.Address || back.String() != s {
			t.Fatalf("%q: String() = %q, read back as %+v, %v; want %+v", raw, s, back, err, u)
		}
	})
}
