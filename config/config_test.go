package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// strongKey is the output of "openssl rand -hex 32".
const strongKey = "3d5c8d2ebd24f8d4c07634d8152f51176fb1e892c4f7ddadcc3bb58477709748"

func TestDefaults(t *testing.T) {
	c, err := Load([]string{"HOME=/home/u"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Host": "127.0.0.1", "Port": 5000, "Mode": "debug", "SessionType": "filesystem",
		"Permanent": true, "UseSigner": false, "Redis": RedisURL{Network: "tcp", Address: "127.0.0.1:6379"},
		"KeyPrefix": "session:", "Lifetime": 31 * 24 * time.Hour, "RefreshEachRequest": true,
		"CookieName": "session", "CookieDomain": "", "CookiePath": "/", "CookieHTTPOnly": true,
		"CookieSecure": false, "SameSite": http.SameSiteLaxMode, "GeneratedSecret": true,
		"FileDir":      "/home/u/.cache/sessionsvc/sessions",
		"RedisTimeout": 500 * time.Millisecond, "RedisPoolSize": 32, "RedisMinReplicas": 0, "ShutdownTimeout": 10 * time.Second,
		"AbsoluteLifetime": time.Duration(0), "RenewGrace": 5 * time.Second, "HashIDs": false,
		"MaxSize": 4096, "RedisCAFile": "", "TrustedProxies": []netip.Prefix(nil), "ClearSiteData": false,
		"HSTSMaxAge": 365 * 24 * time.Hour,
		"SQL":        SQLURL{}, "SessionSQL": SQLURL{}, "SQLTable": "sessions", "SQLSchema": "",
		"SQLTimeout": 500 * time.Millisecond, "SQLPoolSize": 10,
		"Memcached": []string{"127.0.0.1:11211"}, "MemcachedTimeout": 500 * time.Millisecond, "MemcachedMaxIdle": 32,
		"MongoDB":         MongoURI{URI: "mongodb://127.0.0.1:27017", Hosts: "127.0.0.1:27017"},
		"MongoDBDatabase": "flask_session", "MongoDBCollection": "sessions", "MongoDBTimeout": 500 * time.Millisecond,
	}
	v := reflect.ValueOf(c)
	for field, w := range want {
		if got := v.FieldByName(field).Interface(); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %v, want %v", field, got, w)
		}
	}
	if len(c.SecretKey) < 32 {
		t.Errorf("generated secret %q is short", c.SecretKey)
	}
}

func TestValues(t *testing.T) {
	for _, tc := range []struct {
		env   string
		field string
		want  any
	}{
		{"PERMANENT_SESSION_LIFETIME=720h", "Lifetime", 720 * time.Hour},
		{"PERMANENT_SESSION_LIFETIME=60", "Lifetime", time.Minute},
		{"SESSION_TYPE=null", "SessionType", "cookie"},
		{"SESSION_TYPE=REDIS", "SessionType", "redis"},
		{"SESSION_TYPE=Memcached", "SessionType", "memcached"},
		{"SESSION_TYPE=mongo", "SessionType", "mongodb"},
		{"SESSION_MEMCACHED= cache1:11211 , /run/memcached/memcached.sock,[::1]:11212,", "Memcached", []string{"cache1:11211", "/run/memcached/memcached.sock", "[::1]:11212"}},
		{"SESSION_MONGODB=mongodb://app:p%40ss@db1,db2:27018/admin?replicaSet=rs0&maxPoolSize=50", "MongoDB", MongoURI{URI: "mongodb://app:p%40ss@db1,db2:27018/admin?replicaSet=rs0&maxPoolSize=50", Hosts: "db1,db2:27018"}},
		{"SESSION_MONGODB=mongodb+srv://cluster0.example.net/?retryWrites=true", "MongoDB", MongoURI{URI: "mongodb+srv://cluster0.example.net/?retryWrites=true", Hosts: "cluster0.example.net"}},
		{"SESSION_MONGODB_DB=app\x00SESSION_MONGODB_COLLECT=web.sessions", "MongoDBCollection", "web.sessions"},
		{"SESSION_TYPE=sql\x00SQLALCHEMY_DATABASE_URI=sqlite:///s.db", "SessionType", "sqlalchemy"},
		{"SESSION_TYPE=SQLAlchemy\x00SQLALCHEMY_DATABASE_URI=sqlite:///s.db", "SessionType", "sqlalchemy"},
		{"SESSION_TYPE=sqlalchemy\x00SQLALCHEMY_DATABASE_URI=postgresql://u:pw@db/app", "SQL.DSN", "postgres://u:pw@db:5432/app"},
		{"SQLALCHEMY_DATABASE_URI=mysql://u:pw@db/app", "SQL.DSN", "u:pw@tcp(db:3306)/app"},
		{"SESSION_SQLALCHEMY_DATABASE_URI=sqlite:////var/lib/s.db", "SQL.DSN", "/var/lib/s.db"},
		{"SQLALCHEMY_DATABASE_URI=postgresql://u:pw@db/app\x00SESSION_SQLALCHEMY_DATABASE_URI=sqlite:///s.db", "SQL.DSN", "s.db"},
		{"SQLALCHEMY_DATABASE_URI=postgresql://u:pw@db/app\x00SESSION_SQLALCHEMY_DATABASE_URI=sqlite:///s.db", "SessionSQL.DSN", "s.db"},
		{"SESSION_TYPE=sqlalchemy\x00SQLALCHEMY_DATABASE_URI=mssql+pyodbc://u:pw@db/app\x00SESSION_SQLALCHEMY_DATABASE_URI=sqlite:///s.db", "SQL.DSN", "s.db"},
		{"SESSION_TYPE=redis\x00SESSION_SQLALCHEMY_TABLE=flask_sessions", "SQLTable", "flask_sessions"},
		{"SQLALCHEMY_DATABASE_URI=postgresql://db/app\x00SESSION_SQLALCHEMY_SCHEMA=_Sessions1", "SQLSchema", "_Sessions1"},
		{"SESSION_SQLALCHEMY_SCHEMA=web", "SQLSchema", "web"},
		{"SESSION_SQLALCHEMY_TABLE=" + strings.Repeat("t", 63), "SQLTable", strings.Repeat("t", 63)},
		{"SESSION_SQLALCHEMY_POOL_SIZE=4", "SQLPoolSize", 4},
		{"SESSION_SQLALCHEMY_TIMEOUT=2", "SQLTimeout", 2 * time.Second},
		{"SESSION_SQLALCHEMY_TIMEOUT=250ms", "SQLTimeout", 250 * time.Millisecond},
		{"SESSION_PERMANENT=false", "Permanent", false},
		{"SESSION_USE_SIGNER=1", "UseSigner", true},
		{"SESSION_COOKIE_SAMESITE=strict", "SameSite", http.SameSiteStrictMode},
		{"SECRET_KEY_FALLBACKS= a, ,b ", "SecretKeyFallbacks", []string{"a", "b"}},
		{"XDG_CACHE_HOME=/cache", "FileDir", "/cache/sessionsvc/sessions"},
		{"SESSION_FILE_DIR=/srv/s", "FileDir", "/srv/s"},
		{"GIN_MODE=release\x00SECRET_KEY=" + strongKey, "CookieSecure", true},
		{"GIN_MODE=release\x00SECRET_KEY=" + strongKey + "\x00SESSION_COOKIE_SECURE=false", "CookieSecure", false},
		{"SESSION_REDIS=redis://:pw@h:7/2", "Redis.DB", 2},
		{"SESSION_ABSOLUTE_LIFETIME=12h", "AbsoluteLifetime", 12 * time.Hour},
		{"SESSION_ABSOLUTE_LIFETIME=0", "AbsoluteLifetime", time.Duration(0)},
		{"SESSION_RENEW_GRACE=2", "RenewGrace", 2 * time.Second},
		{"SESSION_RENEW_GRACE=30s", "RenewGrace", 30 * time.Second},
		{"SESSION_HASH_IDS=true", "HashIDs", true},
		{"GIN_MODE=release\x00SECRET_KEY=" + strongKey, "HashIDs", true},
		{"GIN_MODE=release\x00SECRET_KEY=" + strongKey + "\x00SESSION_HASH_IDS=false", "HashIDs", false},
		{"SESSION_MAX_SIZE=8192", "MaxSize", 8192},
		{"TRUSTED_PROXIES=10.0.0.0/8, 127.0.0.1", "TrustedProxies", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}},
		{"TRUSTED_PROXIES=::1,,fd00::/8", "TrustedProxies", []netip.Prefix{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fd00::/8")}},
		{"SESSION_COOKIE_NAME=__Host-session\x00SESSION_COOKIE_SECURE=true", "CookieName", "__Host-session"},
		{"SESSION_COOKIE_NAME=__HOST-session\x00SESSION_COOKIE_SECURE=true", "CookieName", "__HOST-session"},
		{"SESSION_COOKIE_NAME=__secure-session\x00SESSION_COOKIE_SECURE=true", "CookieName", "__secure-session"},
		{"SESSION_COOKIE_DOMAIN=example.com", "CookieDomain", "example.com"},
		{"SESSION_COOKIE_DOMAIN=.app.example.com", "CookieDomain", ".app.example.com"},
		{"SESSION_COOKIE_DOMAIN=xn--exmple-cua.com", "CookieDomain", "xn--exmple-cua.com"},
		{"SESSION_COOKIE_DOMAIN=localhost", "CookieDomain", "localhost"},
		{"SESSION_COOKIE_DOMAIN=192.0.2.1", "CookieDomain", "192.0.2.1"},
		{"SESSION_COOKIE_PATH=/app/v1", "CookiePath", "/app/v1"},
		{"SESSION_COOKIE_PATH=/~user/a b", "CookiePath", "/~user/a b"},
		{"SESSION_REDIS=redis-sentinel://:pw@s1,s2:5000/3#sessions", "Redis.Address", "s1:26379,s2:5000"},
		{"SESSION_REDIS=redis-sentinel://:pw@s1,s2:5000/3#sessions", "Redis.MasterName", "sessions"},
		{"SESSION_REDIS_MIN_REPLICAS=2", "RedisMinReplicas", 2},
		{"SESSION_CLEAR_SITE_DATA=true", "ClearSiteData", true},
		{"HSTS_MAX_AGE=0", "HSTSMaxAge", time.Duration(0)},
		{"HSTS_MAX_AGE=3600", "HSTSMaxAge", time.Hour},
		{"HSTS_MAX_AGE=8760h", "HSTSMaxAge", 365 * 24 * time.Hour},
	} {
		c, err := Load(append([]string{"HOME=/home/u"}, strings.Split(tc.env, "\x00")...))
		if err != nil {
			t.Errorf("%q: %v", tc.env, err)
			continue
		}
		v := reflect.ValueOf(c)
		for _, name := range strings.Split(tc.field, ".") {
			v = v.FieldByName(name)
		}
		if got := v.Interface(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %s = %#v, want %#v", tc.env, tc.field, got, tc.want)
		}
	}
}

const (
	wantDomain = "want a domain name of letters, digits, hyphens and dots (example.com, .example.com) or an IPv4 address, or empty for the host that set the cookie"
	wantPath   = `want a path of printable ASCII characters but ";", starting with "/"`
)

const (
	sqlForms    = "postgresql://user:password@host[:port]/db[?sslmode=require&...], mysql://user:password@host[:port]/db[?charset=utf8mb4&...] (or mariadb://), sqlite:///relative/path.db or sqlite:////absolute/path.db; a +driver after the scheme (postgresql+psycopg2) is ignored"
	wantSQLURL  = "required when SESSION_TYPE=sqlalchemy: want a database URL such as postgresql://user:password@host:5432/db, mysql://user:password@host:3306/db or sqlite:///path.db"
	wantSQLName = "want a plain SQL name: ASCII letters, digits and _, not starting with a digit, at most 63 bytes"

	wantMemcached = "want comma-separated servers, host:port (memcached-1:11211,memcached-2:11211) or the absolute path of a Unix socket"
)

const redisForms = "redis://[user:password@]host[:port][/db], rediss://... for TLS, unix:///path/to/socket[?db=N], or redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername"

func TestErrors(t *testing.T) {
	release := "GIN_MODE=release\x00SECRET_KEY=" + strongKey + "\x00"
	for _, tc := range []struct {
		env  string
		want string // the whole error line
	}{
		{"PORT=http", `PORT="http": want a whole number of at least 1`},
		{"PORT=70000", `PORT="70000": want a port number from 1 to 65535`},
		{"GIN_MODE=prod", `GIN_MODE="prod": accepted values are debug, release`},
		{"SESSION_TYPE=dynamodb", `SESSION_TYPE="dynamodb": accepted values are redis, memcached, sqlalchemy, sql, mongodb, mongo, filesystem, cookie, null`},
		{"SESSION_MEMCACHED=,", `SESSION_MEMCACHED=",": no server; ` + wantMemcached},
		{"SESSION_MEMCACHED=cache1", `SESSION_MEMCACHED="cache1": "cache1" is not host:port; ` + wantMemcached},
		{"SESSION_MEMCACHED=cache1:11211,cache2:0", `SESSION_MEMCACHED="cache1:11211,cache2:0": "cache2:0" is not host:port; ` + wantMemcached},
		{"SESSION_MEMCACHED=cache1:11211, cache1:11211", `SESSION_MEMCACHED="cache1:11211, cache1:11211": "cache1:11211" is listed twice; ` + wantMemcached},
		{"SESSION_MEMCACHED=/run/../memcached.sock", `SESSION_MEMCACHED="/run/../memcached.sock": "/run/../memcached.sock" is not a clean path; ` + wantMemcached},
		{"SESSION_MEMCACHED_MAX_IDLE=0", `SESSION_MEMCACHED_MAX_IDLE="0": want a whole number of at least 1`},
		{"SESSION_MONGODB=mysql://u:hunter2@db/app", `SESSION_MONGODB="mysql://u:xxxxx@db/app": scheme must be mongodb or mongodb+srv; want ` + mongoURIForms},
		{"SESSION_MONGODB=mongodb://u:hunter2@/app", `SESSION_MONGODB="mongodb://u:xxxxx@/app": no host; want ` + mongoURIForms},
		{"SESSION_MONGODB=mongodb://db:99999", `SESSION_MONGODB="mongodb://db:99999": port "99999" is not a port number; want ` + mongoURIForms},
		{"SESSION_MONGODB=mongodb+srv://a.example.com,b.example.com", `SESSION_MONGODB="mongodb+srv://a.example.com,b.example.com": a mongodb+srv URI names one host and no port; want ` + mongoURIForms},
		{"SESSION_MONGODB_DB=my.db", `SESSION_MONGODB_DB="my.db": want a MongoDB database name: at most 63 bytes, none of /\. "$*<>:|?`},
		{"SESSION_MONGODB_COLLECT=system.users", `SESSION_MONGODB_COLLECT="system.users": want a MongoDB collection name: not empty, no "$", not starting with "system."`},
		{"SESSION_TYPE=sqlalchemy", `SQLALCHEMY_DATABASE_URI="": ` + wantSQLURL},
		{"SESSION_TYPE=sql\x00SESSION_SQLALCHEMY_DATABASE_URI=", `SQLALCHEMY_DATABASE_URI="": ` + wantSQLURL},
		{"SQLALCHEMY_DATABASE_URI=oracle://u:hunter2@db/app", `SQLALCHEMY_DATABASE_URI="oracle://u:xxxxx@db/app": scheme must be postgresql, postgres, mysql, mariadb or sqlite; want ` + sqlForms},
		{"SESSION_TYPE=redis\x00SQLALCHEMY_DATABASE_URI=postgresql://u:hunter2@db", `SQLALCHEMY_DATABASE_URI="postgresql://u:xxxxx@db": no database name: end the URL with /dbname; want ` + sqlForms},
		{"SQLALCHEMY_DATABASE_URI=postgresql://u:hunter2@/app", `SQLALCHEMY_DATABASE_URI="postgresql://u:xxxxx@/app": no host: want @host[:port], or ?host=/path/to/socket/dir; want ` + sqlForms},
		{"SQLALCHEMY_DATABASE_URI=mysql+pymysql://u:hunter2@db", `SQLALCHEMY_DATABASE_URI="mysql+pymysql://u:xxxxx@db": no database name: end the URL with /dbname; want ` + sqlForms},
		{"SQLALCHEMY_DATABASE_URI=mysql://u:hunter2@db/app?autocommit=1", `SQLALCHEMY_DATABASE_URI="mysql://u:xxxxx@db/app?autocommit=1": unknown option "autocommit": mysql URLs take charset, connect_timeout, ssl_mode, unix_socket; want ` + sqlForms},
		{"SQLALCHEMY_DATABASE_URI=sqlite://", `SQLALCHEMY_DATABASE_URI="sqlite://": no file: an in-memory database would be one per connection; want sqlite:///relative/path.db or sqlite:////absolute/path.db; want ` + sqlForms},
		{"SQLALCHEMY_DATABASE_URI=postgresql://db:0/app?password=hunter2", `SQLALCHEMY_DATABASE_URI="postgresql://db:0/app?password=xxxxx": port "0" is not a port number; want ` + sqlForms},
		{"SQLALCHEMY_DATABASE_URI=postgresql://u:pw@db/app\x00SESSION_SQLALCHEMY_DATABASE_URI=mysql://u:hunter2@db/app?ssl=1", `SESSION_SQLALCHEMY_DATABASE_URI="mysql://u:xxxxx@db/app?ssl=1": unknown option "ssl": mysql URLs take charset, connect_timeout, ssl_mode, unix_socket; want ` + sqlForms},
		{"SESSION_TYPE=sqlalchemy\x00SESSION_SQLALCHEMY_DATABASE_URI=sqlite:///x.db?mode=ro", `SESSION_SQLALCHEMY_DATABASE_URI="sqlite:///x.db?mode=ro": a sqlite URL takes no options; want ` + sqlForms},
		{"SESSION_SQLALCHEMY_TABLE=1sessions", `SESSION_SQLALCHEMY_TABLE="1sessions": ` + wantSQLName},
		{"SESSION_SQLALCHEMY_TABLE=app.sessions", `SESSION_SQLALCHEMY_TABLE="app.sessions": ` + wantSQLName},
		{"SESSION_SQLALCHEMY_TABLE=sessions;drop", `SESSION_SQLALCHEMY_TABLE="sessions;drop": ` + wantSQLName},
		{"SESSION_SQLALCHEMY_TABLE=séances", `SESSION_SQLALCHEMY_TABLE="séances": ` + wantSQLName},
		{"SESSION_SQLALCHEMY_TABLE=" + strings.Repeat("t", 64), `SESSION_SQLALCHEMY_TABLE="` + strings.Repeat("t", 64) + `": ` + wantSQLName},
		{"SESSION_SQLALCHEMY_SCHEMA=my-schema", `SESSION_SQLALCHEMY_SCHEMA="my-schema": ` + wantSQLName},
		{"SQLALCHEMY_DATABASE_URI=mysql://u:hunter2@db/app\x00SESSION_SQLALCHEMY_SCHEMA=web", `SESSION_SQLALCHEMY_SCHEMA="web": PostgreSQL only, and SQLALCHEMY_DATABASE_URI is a mysql database: leave it empty`},
		{"SQLALCHEMY_DATABASE_URI=postgresql://db/app\x00SESSION_SQLALCHEMY_DATABASE_URI=sqlite:///s.db\x00SESSION_SQLALCHEMY_SCHEMA=web", `SESSION_SQLALCHEMY_SCHEMA="web": PostgreSQL only, and SESSION_SQLALCHEMY_DATABASE_URI is a sqlite database: leave it empty`},
		{"SESSION_SQLALCHEMY_POOL_SIZE=0", `SESSION_SQLALCHEMY_POOL_SIZE="0": want a whole number of at least 1`},
		{"SESSION_SQLALCHEMY_POOL_SIZE=ten", `SESSION_SQLALCHEMY_POOL_SIZE="ten": want a whole number of at least 1`},
		{"SESSION_SQLALCHEMY_TIMEOUT=0", `SESSION_SQLALCHEMY_TIMEOUT="0": want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)`},
		{"SESSION_SQLALCHEMY_TIMEOUT=-1s", `SESSION_SQLALCHEMY_TIMEOUT="-1s": want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)`},
		{"SESSION_PERMANENT=yes", `SESSION_PERMANENT="yes": accepted values are true or false`},
		{"SESSION_USE_SIGNER=on", `SESSION_USE_SIGNER="on": accepted values are true or false`},
		{"SESSION_REFRESH_EACH_REQUEST=2", `SESSION_REFRESH_EACH_REQUEST="2": accepted values are true or false`},
		{"SESSION_COOKIE_HTTPONLY=nope", `SESSION_COOKIE_HTTPONLY="nope": accepted values are true or false`},
		{"SESSION_COOKIE_SECURE=maybe", `SESSION_COOKIE_SECURE="maybe": accepted values are true or false`},
		{"PERMANENT_SESSION_LIFETIME=31d", `PERMANENT_SESSION_LIFETIME="31d": want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)`},
		{"PERMANENT_SESSION_LIFETIME=-5", `PERMANENT_SESSION_LIFETIME="-5": want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)`},
		{"SESSION_REDIS_TIMEOUT=0", `SESSION_REDIS_TIMEOUT="0": want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)`},
		{"SESSION_REDIS_POOL_SIZE=0", `SESSION_REDIS_POOL_SIZE="0": want a whole number of at least 1`},
		{"SESSION_REDIS_MIN_REPLICAS=-1", `SESSION_REDIS_MIN_REPLICAS="-1": want a whole number of at least 0`},
		{"SESSION_REDIS_MIN_REPLICAS=one", `SESSION_REDIS_MIN_REPLICAS="one": want a whole number of at least 0`},
		{"SHUTDOWN_TIMEOUT=soon", `SHUTDOWN_TIMEOUT="soon": want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)`},
		{"SESSION_COOKIE_SAMESITE=Loose", `SESSION_COOKIE_SAMESITE="Loose": accepted values are Strict, Lax, None`},
		{"SESSION_COOKIE_SAMESITE=None", `SESSION_COOKIE_SAMESITE="None": browsers drop SameSite=None cookies that are not Secure: set SESSION_COOKIE_SECURE=true, or use Lax or Strict`},
		{"SESSION_COOKIE_NAME=my session", `SESSION_COOKIE_NAME="my session": want letters, digits and !#$%&'*+-.^_` + "`" + `|~ only`},
		{"SESSION_COOKIE_PATH=app", `SESSION_COOKIE_PATH="app": want a path starting with "/"`},
		{"SESSION_REDIS=http://u:hunter2@h", `SESSION_REDIS="http://u:xxxxx@h": scheme must be redis, rediss, unix or redis-sentinel; want ` + redisForms},
		{"SESSION_REDIS=redis://:hunter2@h/zero", `SESSION_REDIS="redis://:xxxxx@h/zero": database "zero" is not a number; want ` + redisForms},
		{"SESSION_REDIS=redis-sentinel://u:hunter2@s1,s2", `SESSION_REDIS="redis-sentinel://u:xxxxx@s1,s2": no master name: end the URL with #mastername; want ` + redisForms},
		{"SESSION_REDIS=redis-sentinel://hunter2@s1:0#m", `SESSION_REDIS="redis-sentinel://xxxxx@s1:0#m": sentinel "s1:0": port "0" is not a port number; want ` + redisForms},
		{"GIN_MODE=release", `SECRET_KEY="": required when GIN_MODE=release: set at least 32 random bytes, e.g. from "openssl rand -hex 32"`},
		{"GIN_MODE=release\x00SECRET_KEY=BAD_SECRET_KEY", `SECRET_KEY=(hidden, 14 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{"GIN_MODE=release\x00SECRET_KEY=change-me-to-a-long-random-string-please", `SECRET_KEY=(hidden, 40 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{"GIN_MODE=release\x00SECRET_KEY=" + strings.Repeat("ab", 20), `SECRET_KEY=(hidden, 40 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{release + "SECRET_KEY_FALLBACKS=" + strongKey + ",short", `SECRET_KEY_FALLBACKS=(hidden, 2 keys): every key must be at least 32 random bytes, not a placeholder, when GIN_MODE=release`},
		{"GIN_MODE=release\x00SECRET_KEY=0123456789abcdef0123456789abcdef", `SECRET_KEY=(hidden, 32 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{"GIN_MODE=release\x00SECRET_KEY=" + strings.Repeat("0123456789abcdef", 4), `SECRET_KEY=(hidden, 64 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{"GIN_MODE=release\x00SECRET_KEY=fedcba9876543210fedcba9876543210", `SECRET_KEY=(hidden, 32 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{"GIN_MODE=release\x00SECRET_KEY=0123456789abcdefghijklmnopqrstuvwxyz", `SECRET_KEY=(hidden, 36 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{"GIN_MODE=release\x00SECRET_KEY=a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6", `SECRET_KEY=(hidden, 32 bytes): too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`},
		{release + "SECRET_KEY_FALLBACKS=0123456789abcdef0123456789abcdef", `SECRET_KEY_FALLBACKS=(hidden, 1 keys): every key must be at least 32 random bytes, not a placeholder, when GIN_MODE=release`},
		{"SESSION_ABSOLUTE_LIFETIME=-1h", `SESSION_ABSOLUTE_LIFETIME="-1h": want 0 (off) or a duration: whole seconds (3600) or a Go duration (12h, 90m)`},
		{"SESSION_RENEW_GRACE=0", `SESSION_RENEW_GRACE="0": want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)`},
		{"SESSION_RENEW_GRACE=31", `SESSION_RENEW_GRACE="31": want at most 30s: a renewed session's old ID must stop working soon`},
		{"SESSION_HASH_IDS=sure", `SESSION_HASH_IDS="sure": accepted values are true or false`},
		{"SESSION_CLEAR_SITE_DATA=yes", `SESSION_CLEAR_SITE_DATA="yes": accepted values are true or false`},
		{"HSTS_MAX_AGE=-1", `HSTS_MAX_AGE="-1": want 0 (off) or a duration: whole seconds (3600) or a Go duration (12h, 90m)`},
		{"HSTS_MAX_AGE=a year", `HSTS_MAX_AGE="a year": want 0 (off) or a duration: whole seconds (3600) or a Go duration (12h, 90m)`},
		{"HSTS_MAX_AGE=1.5s", `HSTS_MAX_AGE="1.5s": want 0 (off) or whole seconds: a number of seconds (31536000) or a Go duration (8760h)`},
		{"HSTS_MAX_AGE=500ms", `HSTS_MAX_AGE="500ms": want 0 (off) or whole seconds: a number of seconds (31536000) or a Go duration (8760h)`},
		{"SESSION_MAX_SIZE=4k", `SESSION_MAX_SIZE="4k": want a whole number of at least 1`},
		{"SESSION_REDIS_CA_FILE=/nonexistent.pem", `SESSION_REDIS_CA_FILE="/nonexistent.pem": want a readable PEM file of CA certificates`},
		{"TRUSTED_PROXIES=10.0.0.0/8,proxy.internal", `TRUSTED_PROXIES="proxy.internal": want comma-separated IP addresses or CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1`},
		{"CSRF_TRUSTED_ORIGINS=partner.example", `CSRF_TRUSTED_ORIGINS="partner.example": want comma-separated origins of the form scheme://host[:port], e.g. https://app.example.com`},
		{"SESSION_COOKIE_HTTPONLY=false", `SESSION_COOKIE_HTTPONLY="false": session cookies are always HttpOnly (no script needs them); accepted value: true`},
		{"SESSION_COOKIE_NAME=__Host-s", `SESSION_COOKIE_NAME="__Host-s": a __Host- cookie needs SESSION_COOKIE_SECURE=true, SESSION_COOKIE_PATH=/ and no SESSION_COOKIE_DOMAIN`},
		{"SESSION_COOKIE_NAME=__Host-s\x00SESSION_COOKIE_SECURE=true\x00SESSION_COOKIE_DOMAIN=example.com", `SESSION_COOKIE_NAME="__Host-s": a __Host- cookie needs SESSION_COOKIE_SECURE=true, SESSION_COOKIE_PATH=/ and no SESSION_COOKIE_DOMAIN`},
		{"SESSION_COOKIE_NAME=__Secure-s", `SESSION_COOKIE_NAME="__Secure-s": a __Secure- cookie needs SESSION_COOKIE_SECURE=true`},
		{"SESSION_COOKIE_NAME=__HOST-s", `SESSION_COOKIE_NAME="__HOST-s": a __Host- cookie needs SESSION_COOKIE_SECURE=true, SESSION_COOKIE_PATH=/ and no SESSION_COOKIE_DOMAIN`},
		{"SESSION_COOKIE_NAME=__host-s\x00SESSION_COOKIE_SECURE=true\x00SESSION_COOKIE_PATH=/app", `SESSION_COOKIE_NAME="__host-s": a __Host- cookie needs SESSION_COOKIE_SECURE=true, SESSION_COOKIE_PATH=/ and no SESSION_COOKIE_DOMAIN`},
		{"SESSION_COOKIE_NAME=__SECURE-s", `SESSION_COOKIE_NAME="__SECURE-s": a __Secure- cookie needs SESSION_COOKIE_SECURE=true`},
		{"SESSION_COOKIE_NAME=__secure-s", `SESSION_COOKIE_NAME="__secure-s": a __Secure- cookie needs SESSION_COOKIE_SECURE=true`},
		{"SESSION_COOKIE_DOMAIN=exa mple.com", `SESSION_COOKIE_DOMAIN="exa mple.com": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=example.com/app", `SESSION_COOKIE_DOMAIN="example.com/app": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=https://example.com", `SESSION_COOKIE_DOMAIN="https://example.com": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=example.com:8080", `SESSION_COOKIE_DOMAIN="example.com:8080": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=..example.com", `SESSION_COOKIE_DOMAIN="..example.com": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=-example.com", `SESSION_COOKIE_DOMAIN="-example.com": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=example-.com", `SESSION_COOKIE_DOMAIN="example-.com": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=my_app.example.com", `SESSION_COOKIE_DOMAIN="my_app.example.com": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=exämple.com", `SESSION_COOKIE_DOMAIN="exämple.com": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=::1", `SESSION_COOKIE_DOMAIN="::1": ` + wantDomain},
		{"SESSION_COOKIE_DOMAIN=" + strings.Repeat("a", 64) + ".com", `SESSION_COOKIE_DOMAIN="` + strings.Repeat("a", 64) + `.com": ` + wantDomain},
		{"SESSION_COOKIE_PATH=/a;b", `SESSION_COOKIE_PATH="/a;b": ` + wantPath},
		{"SESSION_COOKIE_PATH=/a\tb", `SESSION_COOKIE_PATH="/a\tb": ` + wantPath},
		{"SESSION_COOKIE_PATH=/a\x01b", `SESSION_COOKIE_PATH="/a\x01b": ` + wantPath},
		{"SESSION_COOKIE_PATH=/a\x7f", `SESSION_COOKIE_PATH="/a\x7f": ` + wantPath},
		{"SESSION_COOKIE_PATH=/café", `SESSION_COOKIE_PATH="/café": ` + wantPath},
	} {
		_, err := Load(strings.Split(tc.env, "\x00"))
		var cerr *Error
		if !errors.As(err, &cerr) || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error shows the password", tc.env)
		}
	}
}

// TestRandomKeysAreNotWeak: the weak-key check refuses no key that
// "openssl rand -hex" makes, down to the shortest that passes its length
// check.
func TestRandomKeysAreNotWeak(t *testing.T) {
	for _, key := range []string{ // from openssl rand -hex 32
		strongKey,
		"b6ed7d7450be0b7e2d2f096c95193503b6045f8ecff02fddde6914ce5732d009",
		"a386c9ec37aa8c7b1cc2bae065a786afe61f2b741aa07d5883abb9df02a165b9",
		"b6eca60cd3c0b1b0940ce26b14ddd329f5187d786ebbb47ee966262a198fa49e",
		"ff35af4c2e09f8660ca9d93c087a52cee5daecf0a51b2c11e04a0ccd6e9980d1",
	} {
		if _, err := Load([]string{"HOME=/h", "GIN_MODE=release", "SECRET_KEY=" + key, "SECRET_KEY_FALLBACKS=" + key}); err != nil {
			t.Errorf("SECRET_KEY=%s: %v", key, err)
		}
	}
	for _, n := range []int{32, 16} {
		b := make([]byte, n)
		for range 10000 {
			rand.Read(b)
			if key := hex.EncodeToString(b); weak(key) {
				t.Errorf("the random key %s is called weak", key)
			}
		}
	}
}

// TestFileDirFallback: with neither HOME nor XDG_CACHE_HOME the session
// directory would lie in the temporary directory that every local user can
// write into; debug mode still uses it, release mode wants SESSION_FILE_DIR.
func TestFileDirFallback(t *testing.T) {
	release := []string{"GIN_MODE=release", "SECRET_KEY=" + strongKey}
	const refused = `SESSION_FILE_DIR="": required when GIN_MODE=release and neither HOME nor XDG_CACHE_HOME is set (the default would lie in the shared temporary directory): set it to a directory only this service's user can write`
	for _, tc := range []struct {
		name string
		env  []string
		want string // FileDir, or the error line
	}{
		{"debug", nil, filepath.Join(os.TempDir(), "sessionsvc", "sessions")},
		{"release", release, refused},
		{"release, SESSION_FILE_DIR empty", append(release, "SESSION_FILE_DIR="), refused},
		{"release, HOME", append(release, "HOME=/home/u"), "/home/u/.cache/sessionsvc/sessions"},
		{"release, XDG_CACHE_HOME", append(release, "XDG_CACHE_HOME=/cache"), "/cache/sessionsvc/sessions"},
		{"release, relative XDG_CACHE_HOME", append(release, "XDG_CACHE_HOME=cache"), refused},
		{"release, SESSION_FILE_DIR", append(release, "SESSION_FILE_DIR=/srv/sessions"), "/srv/sessions"},
		{"release, another store", append(release, "SESSION_TYPE=redis"), filepath.Join(os.TempDir(), "sessionsvc", "sessions")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.env)
			got := c.FileDir
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Load(%q): got %s, want %s", tc.env, got, tc.want)
			}
		})
	}
}

func TestReadDotEnv(t *testing.T) {
	dir := t.TempDir()
	if kv, err := ReadDotEnv(filepath.Join(dir, ".env")); kv != nil || err != nil {
		t.Errorf("missing .env = %v, %v; want nothing", kv, err)
	}
	path := filepath.Join(dir, ".env")
	os.WriteFile(path, []byte("# comment\nPORT=6000\nSESSION_TYPE=\"redis\"\nexport HOST=0.0.0.0\n"), 0o600)
	kv, err := ReadDotEnv(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(append(kv, "PORT=7000")) // the real environment comes last and wins
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7000 || c.SessionType != "redis" || c.Host != "0.0.0.0" {
		t.Errorf("got port %d, type %q, host %q; want 7000, redis, 0.0.0.0", c.Port, c.SessionType, c.Host)
	}
}

// TestDocumented checks that every variable is in .env.example and in the
// README's configuration table.
func TestDocumented(t *testing.T) {
	example, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(Config{})
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Tag.Get("env")
		if name == "" {
			continue
		}
		if !strings.Contains("\n"+string(example), "\n"+name+"=") {
			t.Errorf(".env.example lacks %s=", name)
		}
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md lacks `%s`", name)
		}
	}
}

// TestNumbersHaveRanges checks that every whole-number and duration
// variable refuses a negative value, naming itself.
func TestNumbersHaveRanges(t *testing.T) {
	typ := reflect.TypeOf(Config{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name := f.Tag.Get("env")
		if name == "" || (f.Type != reflect.TypeOf(0) && f.Type != reflect.TypeOf(time.Duration(0))) {
			continue
		}
		_, err := Load([]string{name + "=-1"})
		if cerr, ok := errors.AsType[*Error](err); !ok || cerr.Var != name || cerr.Value != `"-1"` {
			t.Errorf("%s=-1: got %v, want an error naming %s", name, err, name)
		}
	}
}

// TestNamelessEntry checks that an environment entry without a name (as
// Windows has, "=C:=C:\\") is ignored.
func TestNamelessEntry(t *testing.T) {
	c, err := Load([]string{"=x", "HOME=/h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "127.0.0.1" || c.SessionType != "filesystem" {
		t.Errorf("got host %q, type %q; want the defaults", c.Host, c.SessionType)
	}
}

// TestGeneratedSecretIsRandom checks that debug mode's key for a run is 32
// random bytes, a new one each time.
func TestGeneratedSecretIsRandom(t *testing.T) {
	a, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a.SecretKey)
	if err != nil || len(raw) != 32 {
		t.Errorf("generated key %q: %d bytes, %v; want 32 bytes, base64url", a.SecretKey, len(raw), err)
	}
	if a.SecretKey == b.SecretKey {
		t.Errorf("two runs got the same key %q", a.SecretKey)
	}
}

// TestImportsNothingOfTheProject keeps config a leaf: the other packages
// take its values, it takes none of theirs.
func TestImportsNothingOfTheProject(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.HasPrefix(imp.Path.Value, `"github.com/sessionsvc/`) {
				t.Errorf("%s imports %s", name, imp.Path.Value)
			}
		}
	}
}

// TestCrossOrigin checks that the check Load makes refuses a browser's
// cross-origin POST, but for the origins in CSRF_TRUSTED_ORIGINS.
func TestCrossOrigin(t *testing.T) {
	for _, tc := range []struct {
		env    string
		origin string
		ok     bool
	}{
		{"", "https://a.example", false},
		{"CSRF_TRUSTED_ORIGINS=https://a.example", "https://a.example", true},
		{"CSRF_TRUSTED_ORIGINS= https://b.example,,https://a.example:8443 ", "https://a.example:8443", true},
		{"CSRF_TRUSTED_ORIGINS=https://a.example", "https://b.example", false},
		{"CSRF_TRUSTED_ORIGINS=https://a.example", "http://a.example", false},
	} {
		c, err := Load([]string{tc.env})
		if err != nil {
			t.Errorf("%q: %v", tc.env, err)
			continue
		}
		r := httptest.NewRequest("POST", "http://app.example/set_email", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", tc.origin)
		if err := c.CrossOrigin.Check(r); (err == nil) != tc.ok {
			t.Errorf("%q: POST from %s: Check = %v, want allowed %v", tc.env, tc.origin, err, tc.ok)
		}
	}
}
