package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// SQLURL is a parsed SQLALCHEMY_DATABASE_URI.
type SQLURL struct {
	Dialect string // "postgres", "mysql" or "sqlite"
	// DSN is what database/sql opens with the driver for Dialect: for
	// postgres a postgres:// URL that github.com/jackc/pgx/v5/stdlib
	// ("pgx") accepts, with the URL's query options kept; for mysql a
	// github.com/go-sql-driver/mysql DSN, user:pass@tcp(host:port)/db?params;
	// for sqlite the database file's path (relative or absolute).
	DSN string
	// Database is the database's name (the file's path for sqlite), for
	// logs and readiness details.
	Database string
	// Address is host:port, or the directory (postgres) or path (mysql) of
	// the server's Unix socket; empty for sqlite. For logs and readiness
	// details.
	Address string
}

// sqlURLForms are the shapes SQLALCHEMY_DATABASE_URI accepts, as its
// errors say.
const sqlURLForms = "postgresql://user:password@host[:port]/db[?sslmode=require&...], mysql://user:password@host[:port]/db[?charset=utf8mb4&...] (or mariadb://), sqlite:///relative/path.db or sqlite:////absolute/path.db; a +driver after the scheme (postgresql+psycopg2) is ignored"

// alnum are the ASCII letters and digits.
const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// mysqlOptions are the query options a mysql URL takes, as SQLAlchemy's
// MySQL drivers (PyMySQL, mysqlclient) name them.
var mysqlOptions = []string{"charset", "connect_timeout", "ssl_mode", "unix_socket"}

// mysqlSSLModes are ssl_mode's values, as the MySQL client names them, and
// the go-sql-driver tls setting for each. VERIFY_CA verifies the host name
// too: the driver does not verify one without the other.
var mysqlSSLModes = []struct{ mode, tls string }{
	{"DISABLED", "false"},
	{"PREFERRED", "preferred"},
	{"REQUIRED", "skip-verify"},
	{"VERIFY_CA", "true"},
	{"VERIFY_IDENTITY", "true"},
}

// sqlAlchemyURL is the grammar of SQLAlchemy's make_url, anchored at the
// end: scheme, user, password, IPv6 host, host, port, database, options.
// The password runs to the first "@", so it may hold ":", "/", "?" and "#"
// unencoded, as in SQLAlchemy.
var sqlAlchemyURL = regexp.MustCompile(`^([\w+]+)://(?:([^:/]*)(?::([^@]*))?@)?(?:(?:\[([^/?]+)\]|([^/:?]+))?(?::([^/?]*))?)?(?:/([^?]*))?(?:\?(.*))?$`)

// ParseSQLURL parses a database URL as SQLAlchemy reads it:
// postgresql://[user[:password]@]host[:port]/db[?options] (or postgres://;
// ?host=/socket/dir instead of a host), mysql://[user[:password]@]host[:port]/db[?options]
// (or mariadb://), sqlite:///relative/path.db and sqlite:////absolute/path.db.
// A +driver after the scheme (postgresql+psycopg2, mysql+pymysql) is
// ignored. Ports default to 5432 (postgres) and 3306 (mysql). User and
// password are percent-decoded, the database name is taken as written (as
// SQLAlchemy does). Postgres options go to pgx as they are; mysql takes
// charset, connect_timeout (seconds), ssl_mode and unix_socket, and refuses
// others, which go-sql-driver would send to the server as variables to SET.
// Errors never contain the password.
func ParseSQLURL(raw string) (SQLURL, error) {
	if strings.ContainsFunc(raw, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return SQLURL{}, errors.New("a control character in the URL")
	}
	if strings.Contains(raw, "%00") {
		return SQLURL{}, errors.New("a NUL byte (%00) in the URL")
	}
	idx := sqlAlchemyURL.FindStringSubmatchIndex(raw)
	if idx == nil {
		return SQLURL{}, errors.New("not a URL")
	}
	m := make([]string, len(idx)/2) // the groups, "" for those absent
	for i := range m {
		if idx[2*i] >= 0 {
			m[i] = raw[idx[2*i]:idx[2*i+1]]
		}
	}
	withUser := idx[4] >= 0 // user:password@, either part maybe empty
	p := sqlParts{user: unquote(m[2]), password: unquote(m[3]), host: m[5], port: m[6], database: m[7], query: m[8]}
	if m[4] != "" {
		p.host = "[" + m[4] + "]"
	}
	scheme, _, _ := strings.Cut(strings.ToLower(m[1]), "+")
	switch scheme {
	case "postgresql", "postgres", "mysql", "mariadb":
		// The password ends at the first "@": another means an "@" in the
		// password, whose end would pass for host, port or database.
		if strings.Contains(p.host+p.port+p.database, "@") {
			return SQLURL{}, errors.New(`an "@" after user:password@: percent-encode an "@" in a user name or password as %40`)
		}
		if scheme == "postgresql" || scheme == "postgres" {
			return p.postgres()
		}
		return p.mysql()
	case "sqlite":
		return p.sqlite(withUser)
	}
	return SQLURL{}, errors.New("scheme must be postgresql, postgres, mysql, mariadb or sqlite")
}

// sqlParts are a URL's parts: user and password decoded, host with an IPv6
// address in brackets, the rest as written.
type sqlParts struct {
	user, password, host, port, database, query string
}

// unquote decodes %XX escapes as Python's urllib.parse.unquote does,
// keeping a "%" that no two hex digits follow.
func unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// hostPort is host:port, the port defaulting to port, or "" when there is
// no host.
func (p sqlParts) hostPort(port string) (string, error) {
	if p.host == "" {
		if p.port != "" {
			return "", errors.New("no host before the port")
		}
		return "", nil
	}
	host, ok := p.host, false
	if v6, found := strings.CutPrefix(host, "["); found {
		host = strings.TrimSuffix(v6, "]")
		ip, err := netip.ParseAddr(host)
		ok = err == nil && ip.Is6()
	} else {
		ok = strings.Trim(host, alnum+".-_") == ""
	}
	if !ok {
		return "", fmt.Errorf("host %q is not a host name or IP address", p.host)
	}
	if p.port != "" {
		if n, err := strconv.Atoi(p.port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q is not a port number", p.port)
		}
		port = p.port
	}
	return net.JoinHostPort(host, port), nil
}

// postgres makes the postgres:// URL that pgx reads, the port explicit and
// the options as they are.
func (p sqlParts) postgres() (SQLURL, error) {
	q, err := url.ParseQuery(p.query)
	if err != nil {
		return SQLURL{}, errors.New("the options after ? are not name=value pairs joined by &")
	}
	r := SQLURL{Dialect: "postgres", Database: p.database}
	hostport, err := p.hostPort("5432")
	switch {
	case err != nil:
		return SQLURL{}, err
	case q.Get("host") != "": // as in libpq, ?host= wins
		r.Address = q.Get("host")
	case hostport == "":
		return SQLURL{}, errors.New("no host: want @host[:port], or ?host=/path/to/socket/dir")
	default:
		r.Address = hostport
	}
	if r.Database == "" {
		return SQLURL{}, errors.New("no database name: end the URL with /dbname")
	}
	// A "#" would end the URL: in pgx's parser as in net/url.
	dsn := url.URL{Scheme: "postgres", Host: hostport, Path: "/" + r.Database, RawQuery: strings.ReplaceAll(p.query, "#", "%23")}
	switch {
	case p.password != "":
		dsn.User = url.UserPassword(p.user, p.password)
	case p.user != "":
		dsn.User = url.User(p.user)
	}
	r.DSN = dsn.String()
	return r, nil
}

// mysql makes a go-sql-driver DSN, with the options mapped to its
// settings.
func (p sqlParts) mysql() (SQLURL, error) {
	q, err := url.ParseQuery(p.query)
	if err != nil {
		return SQLURL{}, errors.New("the options after ? are not name=value pairs joined by &")
	}
	for name, values := range q {
		if !slices.Contains(mysqlOptions, name) {
			return SQLURL{}, fmt.Errorf("unknown option %q: mysql URLs take %s", name, strings.Join(mysqlOptions, ", "))
		}
		if len(values) > 1 {
			return SQLURL{}, fmt.Errorf("option %q is given twice", name)
		}
	}
	switch {
	case strings.Contains(p.user, ":"):
		return SQLURL{}, errors.New(`the mysql driver takes no ":" in a user name`)
	case p.user == "" && p.password != "":
		return SQLURL{}, errors.New("a password without a user name")
	}
	// NewConfig, not a bare Config: FormatDSN writes every setting that
	// differs from NewConfig's, allowNativePasswords=false among them.
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = p.user, p.password, p.database
	if cfg.DBName == "" {
		return SQLURL{}, errors.New("no database name: end the URL with /dbname")
	}
	if socket := q.Get("unix_socket"); q.Has("unix_socket") {
		if socket == "" || strings.ContainsAny(socket, "@()") {
			return SQLURL{}, fmt.Errorf("unix_socket %q is not a socket's path", socket)
		}
		cfg.Net, cfg.Addr = "unix", socket
	} else {
		cfg.Net = "tcp"
		if cfg.Addr, err = p.hostPort("3306"); err != nil {
			return SQLURL{}, err
		}
		if cfg.Addr == "" {
			return SQLURL{}, errors.New("no host: want @host[:port], or ?unix_socket=/path/to/socket")
		}
	}
	if cs := q.Get("charset"); q.Has("charset") {
		if cs == "" || strings.Trim(cs, alnum+"_") != "" {
			return SQLURL{}, fmt.Errorf("charset %q is not a character set's name", cs)
		}
		cfg.Apply(mysql.Charset(cs, "")) // never fails
	}
	if s := q.Get("connect_timeout"); q.Has("connect_timeout") {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || !(secs >= 0.001 && secs <= 1e6) {
			return SQLURL{}, fmt.Errorf("connect_timeout %q is not a number of seconds from 0.001 to 1000000", s)
		}
		cfg.Timeout = time.Duration(secs * float64(time.Second))
	}
	if mode := q.Get("ssl_mode"); q.Has("ssl_mode") {
		for _, m := range mysqlSSLModes {
			if strings.EqualFold(m.mode, mode) {
				cfg.TLSConfig = m.tls
			}
		}
		if cfg.TLSConfig == "" {
			return SQLURL{}, fmt.Errorf("ssl_mode %q: want DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY", mode)
		}
	}
	return SQLURL{Dialect: "mysql", DSN: cfg.FormatDSN(), Database: cfg.DBName, Address: cfg.Addr}, nil
}

// sqlite takes the file's path: sqlite:///relative/path.db or
// sqlite:////absolute/path.db. withUser tells that the URL has a user or
// password.
func (p sqlParts) sqlite(withUser bool) (SQLURL, error) {
	if p.host != "" || p.port != "" || withUser {
		return SQLURL{}, errors.New("a sqlite URL has no host or user: want sqlite:///relative/path.db (three slashes) or sqlite:////absolute/path.db (four)")
	}
	if p.query != "" {
		return SQLURL{}, errors.New("a sqlite URL takes no options")
	}
	if p.database == "" || p.database == ":memory:" {
		return SQLURL{}, errors.New("no file: an in-memory database would be one per connection; want sqlite:///relative/path.db or sqlite:////absolute/path.db")
	}
	if strings.HasSuffix(p.database, "/") {
		return SQLURL{}, fmt.Errorf("%q is a directory, not a file", p.database)
	}
	return SQLURL{Dialect: "sqlite", DSN: p.database, Database: p.database}, nil
}

// String is u as a URL with the password, if any, replaced by "xxxxx", fit
// for logs. ParseSQLURL reads it back.
func (u SQLURL) String() string {
	switch u.Dialect {
	case "":
		return ""
	case "sqlite":
		return "sqlite:///" + u.DSN
	case "postgres":
		if d, err := url.Parse(u.DSN); err == nil && (d.Scheme == "postgres" || d.Scheme == "postgresql") {
			q, _ := url.ParseQuery(d.RawQuery)
			for name := range q {
				if strings.Contains(strings.ToLower(name), "pass") {
					q.Set(name, "xxxxx")
					d.RawQuery = q.Encode()
				}
			}
			pw, _ := d.User.Password()
			// An "@" in the options would end a password that the port's ":" began.
			query := strings.ReplaceAll(d.RawQuery, "@", "%40")
			return sqlURLString("postgres", d.User.Username(), pw, d.Host, strings.TrimPrefix(d.Path, "/"), query)
		}
	case "mysql":
		if cfg, err := mysql.ParseDSN(u.DSN); err == nil {
			q := url.Values{}
			hostport := cfg.Addr
			if cfg.Net == "unix" {
				hostport = ""
				q.Set("unix_socket", cfg.Addr)
			}
			// The driver keeps the charset unexported: it is read from the DSN.
			if _, query, ok := strings.Cut(u.DSN[strings.LastIndex(u.DSN, "/"):], "?"); ok {
				if params, err := url.ParseQuery(query); err == nil && params.Get("charset") != "" {
					q.Set("charset", params.Get("charset"))
				}
			}
			if cfg.Timeout > 0 {
				q.Set("connect_timeout", strconv.FormatFloat(cfg.Timeout.Seconds(), 'f', -1, 64))
			}
			for _, m := range mysqlSSLModes {
				if cfg.TLSConfig == m.tls {
					q.Set("ssl_mode", m.mode) // "true" is read back as the last, VERIFY_IDENTITY
				}
			}
			return sqlURLString("mysql", cfg.User, cfg.Passwd, hostport, cfg.DBName, q.Encode())
		}
	}
	// A DSN of another form, made elsewhere: no credentials shown.
	return u.Dialect + "://" + u.Address + "/" + u.Database
}

// sqlURLString writes a URL as SQLAlchemy does, the password hidden and the
// database as it is.
func sqlURLString(scheme, user, password, hostport, database, query string) string {
	s := scheme + "://"
	switch {
	case password != "":
		s += url.UserPassword(user, "xxxxx").String() + "@"
	case user != "":
		s += url.User(user).String() + "@"
	}
	s += hostport + "/" + database
	if query != "" {
		s += "?" + query
	}
	return s
}

// redactSQL is raw with anything that may be a password hidden: between
// the first ":" after the scheme (or the start) and the last "@", as
// "xxxxx" (a lone word before the "@" too), and the value of each option
// whose name says pass (password=, sslpassword=, passwd=).
func redactSQL(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	}
	if at := strings.LastIndex(raw[start:], "@"); at >= 0 {
		user, _, ok := strings.Cut(raw[start:start+at], ":")
		if ok {
			user += ":"
		} else {
			user = ""
		}
		raw = raw[:start] + user + "xxxxx" + raw[start+at:]
	}
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw
	}
	params := strings.Split(query, "&")
	for i, p := range params {
		if name, _, ok := strings.Cut(p, "="); ok && strings.Contains(strings.ToLower(name), "pass") {
			params[i] = name + "=xxxxx"
		}
	}
	return base + "?" + strings.Join(params, "&")
}

// checkSQL checks the SQL store's settings and makes SQL the database in
// effect: SessionSQL when SESSION_SQLALCHEMY_DATABASE_URI is set (Load then
// does not read SQLALCHEMY_DATABASE_URI).
func (c *Config) checkSQL(vars map[string]string) error {
	uriVar := "SQLALCHEMY_DATABASE_URI"
	if vars["SESSION_SQLALCHEMY_DATABASE_URI"] != "" {
		uriVar, c.SQL = "SESSION_SQLALCHEMY_DATABASE_URI", c.SessionSQL
	}
	if c.SessionType == "sqlalchemy" && c.SQL.Dialect == "" {
		return &Error{uriVar, `""`, "required when SESSION_TYPE=sqlalchemy: want a database URL such as postgresql://user:password@host:5432/db, mysql://user:password@host:3306/db or sqlite:///path.db"}
	}
	for _, v := range []struct{ name, value string }{
		{"SESSION_SQLALCHEMY_TABLE", c.SQLTable},
		{"SESSION_SQLALCHEMY_SCHEMA", c.SQLSchema},
	} {
		if v.value != "" && !plainIdentifier(v.value) {
			return &Error{v.name, strconv.Quote(v.value), "want a plain SQL name: ASCII letters, digits and _, not starting with a digit, at most 63 bytes"}
		}
	}
	if c.SQLSchema != "" && c.SQL.Dialect != "" && c.SQL.Dialect != "postgres" {
		return &Error{"SESSION_SQLALCHEMY_SCHEMA", strconv.Quote(c.SQLSchema), "PostgreSQL only, and " + uriVar + " is a " + c.SQL.Dialect + " database: leave it empty"}
	}
	return nil
}

// plainIdentifier reports whether s is a plain SQL identifier, the same in
// PostgreSQL, MySQL and SQLite: ASCII letters, digits and underscores, not
// starting with a digit, at most 63 bytes (PostgreSQL's limit).
func plainIdentifier(s string) bool {
	if s == "" || len(s) > 63 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return strings.Trim(s, alnum+"_") == ""
}
