// Package config reads the service's settings from environment variables,
// named as in Flask and Flask-Session where those have a name. Every field's
// variable and default are in its struct tags; Load parses each once, checks
// what the variables accept and names the variable in every error.
package config

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
)

// Config is the service's configuration. The env tag names each field's
// variable and envDefault gives its value when the variable is unset or
// empty (github.com/caarlos0/env reads them); what a variable accepts
// beyond its type is checked by Load, and said in its error.
type Config struct {
	Host string `env:"HOST" envDefault:"127.0.0.1"`
	// Port is 1 to 65535.
	Port int `env:"PORT" envDefault:"5000"`
	// Mode is debug or release; release demands a strong SECRET_KEY, makes
	// cookies Secure by default and logs JSON.
	Mode string `env:"GIN_MODE" envDefault:"debug"`

	// SecretKey signs cookies. Unset in debug mode: a random key for this
	// run (GeneratedSecret tells).
	SecretKey          string   `env:"SECRET_KEY"`
	SecretKeyFallbacks []string `env:"SECRET_KEY_FALLBACKS"`
	GeneratedSecret    bool

	// SessionType is redis, memcached, sqlalchemy, mongodb, filesystem or
	// cookie ("sql" is read as sqlalchemy, "mongo" as mongodb, "null" as
	// cookie).
	SessionType string `env:"SESSION_TYPE" envDefault:"filesystem"`
	Permanent   bool   `env:"SESSION_PERMANENT" envDefault:"true"`
	UseSigner   bool   `env:"SESSION_USE_SIGNER" envDefault:"false"`
	// Redis is SESSION_REDIS, parsed; its String hides the password.
	Redis              RedisURL      `env:"SESSION_REDIS" envDefault:"redis://127.0.0.1:6379/0"`
	KeyPrefix          string        `env:"SESSION_KEY_PREFIX" envDefault:"session:"`
	Lifetime           time.Duration `env:"PERMANENT_SESSION_LIFETIME" envDefault:"2678400"`
	RefreshEachRequest bool          `env:"SESSION_REFRESH_EACH_REQUEST" envDefault:"true"`
	// FileDir is the filesystem store's directory. Unset: sessionsvc/sessions
	// in the user cache dir ($XDG_CACHE_HOME, or ~/.cache), or in the shared
	// temporary directory when neither XDG_CACHE_HOME nor HOME is set, which
	// release mode refuses for SESSION_TYPE=filesystem.
	FileDir string `env:"SESSION_FILE_DIR"`
	// AbsoluteLifetime ends a session that long after its creation, however
	// active; 0 turns it off.
	AbsoluteLifetime time.Duration `env:"SESSION_ABSOLUTE_LIFETIME" envDefault:"0"`
	// RenewGrace is how long a renewed session's old ID stays retired
	// (a visitor without a session who creates nothing) before it is
	// simply unknown; at most maxRenewGrace.
	RenewGrace time.Duration `env:"SESSION_RENEW_GRACE" envDefault:"5s"`
	// HashIDs stores sessions under a hash of their ID; it defaults to true
	// in release mode (IDs at rest are useless to whoever copies the store,
	// and the shorter key saves 16 bytes per session) and false in debug (the
	// key is the cookie's ID, as in the tutorial).
	HashIDs bool `env:"SESSION_HASH_IDS"`
	// MaxSize is the largest encoded session, in bytes.
	MaxSize int `env:"SESSION_MAX_SIZE" envDefault:"4096"`
	// RedisCAFile is a PEM file of the CAs that sign the Redis server's
	// certificate (rediss://); empty means the system's roots.
	RedisCAFile string         `env:"SESSION_REDIS_CA_FILE"`
	RedisCAs    *x509.CertPool // RedisCAFile, parsed

	// SQL is the database of SESSION_TYPE=sqlalchemy, parsed (its String
	// hides the password): SESSION_SQLALCHEMY_DATABASE_URI when that is
	// set, else SQLALCHEMY_DATABASE_URI, Flask-SQLAlchemy's setting, which
	// the service may share with a Flask application. Dialect is "" when
	// neither is set.
	SQL SQLURL `env:"SQLALCHEMY_DATABASE_URI"`
	// SessionSQL is SESSION_SQLALCHEMY_DATABASE_URI, parsed: a database for
	// the sessions other than the application's. When it is set, Load
	// copies it to SQL and does not read SQLALCHEMY_DATABASE_URI, which
	// may then be in a form this service does not take.
	SessionSQL SQLURL `env:"SESSION_SQLALCHEMY_DATABASE_URI"`
	// SQLTable and SQLSchema name the sessions' table, and its PostgreSQL
	// schema (empty: the search path's); plain SQL identifiers.
	SQLTable  string `env:"SESSION_SQLALCHEMY_TABLE" envDefault:"sessions"`
	SQLSchema string `env:"SESSION_SQLALCHEMY_SCHEMA"`
	// SQLTimeout bounds every query; SQLPoolSize is the most connections to
	// the database at once.
	SQLTimeout  time.Duration `env:"SESSION_SQLALCHEMY_TIMEOUT" envDefault:"500ms"`
	SQLPoolSize int           `env:"SESSION_SQLALCHEMY_POOL_SIZE" envDefault:"10"`

	// Memcached are the servers of SESSION_TYPE=memcached, host:port or a
	// Unix socket's absolute path, comma-separated; sessions are spread
	// over them by consistent hashing. MemcachedTimeout bounds every
	// operation; MemcachedMaxIdle is how many idle connections are kept per
	// server.
	Memcached        []string      `env:"SESSION_MEMCACHED" envDefault:"127.0.0.1:11211"`
	MemcachedTimeout time.Duration `env:"SESSION_MEMCACHED_TIMEOUT" envDefault:"500ms"`
	MemcachedMaxIdle int           `env:"SESSION_MEMCACHED_MAX_IDLE" envDefault:"32"`

	// MongoDB is the server of SESSION_TYPE=mongodb, a mongodb:// or
	// mongodb+srv:// URI (pool options in it, as the MongoDB drivers take
	// them); its String hides the password. The sessions are documents of
	// the collection MongoDBCollection in the database MongoDBDatabase.
	// MongoDBTimeout bounds every operation.
	MongoDB           MongoURI      `env:"SESSION_MONGODB" envDefault:"mongodb://127.0.0.1:27017"`
	MongoDBDatabase   string        `env:"SESSION_MONGODB_DB" envDefault:"flask_session"`
	MongoDBCollection string        `env:"SESSION_MONGODB_COLLECT" envDefault:"sessions"`
	MongoDBTimeout    time.Duration `env:"SESSION_MONGODB_TIMEOUT" envDefault:"500ms"`

	CookieName     string `env:"SESSION_COOKIE_NAME" envDefault:"session"`
	CookieDomain   string `env:"SESSION_COOKIE_DOMAIN"`
	CookiePath     string `env:"SESSION_COOKIE_PATH" envDefault:"/"`
	CookieHTTPOnly bool   `env:"SESSION_COOKIE_HTTPONLY" envDefault:"true"`
	// CookieSecure defaults to true in release mode, false in debug.
	CookieSecure bool `env:"SESSION_COOKIE_SECURE"`
	// SameSite is Strict, Lax or None (written in any case); None needs
	// CookieSecure.
	SameSite http.SameSite `env:"SESSION_COOKIE_SAMESITE" envDefault:"Lax"`
	// ClearSiteData sends Clear-Site-Data: "cookies" when a visitor ends
	// the session, on top of expiring its cookie. Browsers then drop every
	// cookie of the site (the registrable domain and all its subdomains),
	// other applications' too, so it is off unless the service owns the
	// whole site.
	ClearSiteData bool `env:"SESSION_CLEAR_SITE_DATA" envDefault:"false"`

	// CrossOrigin refuses state-changing requests that browsers send from
	// other origins, but for those in CSRF_TRUSTED_ORIGINS (comma-separated
	// scheme://host[:port]). Load always sets it.
	CrossOrigin CrossOrigin `env:"CSRF_TRUSTED_ORIGINS"`
	// TrustedProxies are the addresses whose X-Forwarded-For and
	// X-Forwarded-Proto are believed: TRUSTED_PROXIES, comma-separated IPs
	// or CIDRs, where an IP stands for itself alone (a /32 or /128).
	TrustedProxies []netip.Prefix `env:"TRUSTED_PROXIES"`
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header
	// sent on every response to a request that came over HTTPS (directly,
	// or through a proxy in TrustedProxies), never over plain HTTP; whole
	// seconds, 0 sends none. It never includes subdomains: a service on
	// one host must not force HTTPS onto its siblings.
	HSTSMaxAge time.Duration `env:"HSTS_MAX_AGE" envDefault:"31536000"`

	RedisTimeout  time.Duration `env:"SESSION_REDIS_TIMEOUT" envDefault:"500ms"`
	RedisPoolSize int           `env:"SESSION_REDIS_POOL_SIZE" envDefault:"32"`
	// RedisMinReplicas is how many replicas must acknowledge each session
	// write (Redis WAIT) before it counts as done; 0 waits for none.
	RedisMinReplicas int           `env:"SESSION_REDIS_MIN_REPLICAS" envDefault:"0"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`

	// MetricsAddr is host:port of a separate listener for Prometheus metrics
	// (GET /metrics), so the public port never exposes them. Empty: off.
	MetricsAddr string `env:"METRICS_ADDR"`
}

// CrossOrigin carries the [http.CrossOriginProtection] that Load makes
// from CSRF_TRUSTED_ORIGINS. It wraps the pointer because the env library
// stores what a parser returns as a value of the field's type, and a
// CrossOriginProtection must not be copied.
type CrossOrigin struct {
	*http.CrossOriginProtection
}

// maxRenewGrace bounds SESSION_RENEW_GRACE.
const maxRenewGrace = 30 * time.Second

// Error is a bad setting: the variable, its value (hidden for secrets) and
// what is accepted.
type Error struct {
	Var, Value, Want string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s=%s: %s", e.Var, e.Value, e.Want)
}

// placeholderWords mark secret keys copied from tutorials and templates
// ("BAD_SECRET_KEY", "change-me-to-a-long-random-string"); random keys
// practically never contain them.
var placeholderWords = []string{"secret", "change", "replace", "example", "placeholder", "password", "insecure", "default", "your"}

// Load reads the configuration from environ (KEY=value strings, later
// entries win). An unset or empty variable takes its default.
func Load(environ []string) (Config, error) {
	vars := map[string]string{}
	for _, kv := range environ {
		// An entry with no name ("=C:" on Windows) would be read for every
		// field that has no variable.
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	// SESSION_SQLALCHEMY_DATABASE_URI replaces SQLALCHEMY_DATABASE_URI,
	// which is then the application's business only.
	if vars["SESSION_SQLALCHEMY_DATABASE_URI"] != "" {
		delete(vars, "SQLALCHEMY_DATABASE_URI")
	}
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars, FuncMap: parsers()}); err != nil {
		return Config{}, badValue(err, vars)
	}
	return c, c.check(vars)
}

// parsers read the field types whose syntax the library lacks or reads
// otherwise: its int is 32 bits, its durations take no bare seconds, its
// lists keep spaces and empty items. Their errors are *Error without Var,
// which badValue fills in, or, for numbers, errNotNumber.
func parsers() map[reflect.Type]env.ParserFunc {
	return map[reflect.Type]env.ParserFunc{
		reflect.TypeFor[bool](): func(s string) (any, error) {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, &Error{Value: strconv.Quote(s), Want: "accepted values are true or false"}
			}
			return b, nil
		},
		reflect.TypeFor[int](): func(s string) (any, error) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, errNotNumber
			}
			return n, nil
		},
		reflect.TypeFor[time.Duration](): func(s string) (any, error) {
			d, err := parseDuration(s)
			if err != nil {
				return nil, errNotNumber
			}
			return d, nil
		},
		// A comma-separated list, spaces around items and empty items
		// dropped.
		reflect.TypeFor[[]string](): func(s string) (any, error) {
			var list []string
			for item := range strings.SplitSeq(s, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			return list, nil
		},
		reflect.TypeFor[http.SameSite](): func(s string) (any, error) {
			for name, mode := range map[string]http.SameSite{"Strict": http.SameSiteStrictMode, "Lax": http.SameSiteLaxMode, "None": http.SameSiteNoneMode} {
				if strings.EqualFold(s, name) {
					return mode, nil
				}
			}
			return nil, &Error{Value: strconv.Quote(s), Want: "accepted values are Strict, Lax, None"}
		},
		reflect.TypeFor[[]netip.Prefix](): func(s string) (any, error) {
			var prefixes []netip.Prefix
			for item := range strings.SplitSeq(s, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					continue
				}
				p, err := netip.ParsePrefix(item)
				if err != nil {
					addr, aerr := netip.ParseAddr(item)
					if aerr != nil {
						return nil, &Error{Value: strconv.Quote(item), Want: "want comma-separated IP addresses or CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1"}
					}
					p = netip.PrefixFrom(addr, addr.BitLen())
				}
				prefixes = append(prefixes, p)
			}
			return prefixes, nil
		},
		reflect.TypeFor[CrossOrigin](): func(s string) (any, error) {
			p := http.NewCrossOriginProtection()
			for item := range strings.SplitSeq(s, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					continue
				}
				if err := p.AddTrustedOrigin(item); err != nil {
					return nil, &Error{Value: strconv.Quote(item), Want: "want comma-separated origins of the form scheme://host[:port], e.g. https://app.example.com"}
				}
			}
			return CrossOrigin{p}, nil
		},
		reflect.TypeFor[RedisURL](): func(s string) (any, error) {
			u, err := ParseRedisURL(s)
			if err != nil {
				return nil, &Error{Value: strconv.Quote(redact(s)), Want: err.Error() + "; want " + redisURLForms}
			}
			return u, nil
		},
		reflect.TypeFor[MongoURI](): func(s string) (any, error) {
			u, err := ParseMongoURI(s)
			if err != nil {
				return nil, &Error{Value: strconv.Quote(redact(s)), Want: err.Error() + "; want " + mongoURIForms}
			}
			return u, nil
		},
		reflect.TypeFor[SQLURL](): func(s string) (any, error) {
			u, err := ParseSQLURL(s)
			if err != nil {
				return nil, &Error{Value: strconv.Quote(redactSQL(s)), Want: err.Error() + "; want " + sqlURLForms}
			}
			return u, nil
		},
	}
}

// errNotNumber is a whole number or duration that does not parse; its
// error says what the variable accepts, as for one out of range.
var errNotNumber = errors.New("not a number")

// badValue turns the library's error into an *Error naming the variable of
// the first field that failed.
func badValue(err error, vars map[string]string) error {
	agg, ok := errors.AsType[env.AggregateError](err)
	if !ok || len(agg.Errors) == 0 {
		return err
	}
	pe, ok := agg.Errors[0].(env.ParseError)
	if !ok {
		return err
	}
	f, _ := reflect.TypeFor[Config]().FieldByName(pe.Name)
	name := f.Tag.Get("env")
	if e, ok := pe.Err.(*Error); ok {
		e.Var = name
		return e
	}
	return &Error{name, strconv.Quote(vars[name]), wantNumber(name, pe.Type == reflect.TypeFor[time.Duration]())}
}

// zeroIsOff reports whether the numeric setting name takes 0, to turn
// something off; the others take whole numbers from 1 and positive
// durations.
func zeroIsOff(name string) bool {
	return name == "SESSION_ABSOLUTE_LIFETIME" || name == "SESSION_REDIS_MIN_REPLICAS" || name == "HSTS_MAX_AGE"
}

// wantNumber is what the numeric setting name accepts.
func wantNumber(name string, duration bool) string {
	switch {
	case duration && zeroIsOff(name):
		return "want 0 (off) or a duration: whole seconds (3600) or a Go duration (12h, 90m)"
	case duration:
		return "want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)"
	case zeroIsOff(name):
		return "want a whole number of at least 0"
	}
	return "want a whole number of at least 1"
}

// parseDuration reads whole seconds or a Go duration.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Second) {
			return 0, errors.New("too long")
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// redact replaces the password in a URL with "xxxxx".
func redact(raw string) string {
	i := strings.Index(raw, "://")
	at := strings.LastIndex(raw, "@")
	if i < 0 || at < i {
		return raw
	}
	userinfo := raw[i+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return raw[:i+3] + user + ":xxxxx" + raw[at:]
	}
	return raw[:i+3] + "xxxxx" + raw[at:]
}

// oneOf returns the one of accepted that value is, compared without regard
// to case, or an error for the variable name.
func oneOf(name, value string, accepted ...string) (string, error) {
	for _, a := range accepted {
		if strings.EqualFold(value, a) {
			return a, nil
		}
	}
	return "", &Error{name, strconv.Quote(value), "accepted values are " + strings.Join(accepted, ", ")}
}

// check validates what single fields cannot, and fills derived fields.
func (c *Config) check(vars map[string]string) error {
	var err error
	if c.Mode, err = oneOf("GIN_MODE", c.Mode, "debug", "release"); err != nil {
		return err
	}
	if c.SessionType, err = oneOf("SESSION_TYPE", c.SessionType, "redis", "memcached", "sqlalchemy", "sql", "mongodb", "mongo", "filesystem", "cookie", "null"); err != nil {
		return err
	}
	switch c.SessionType {
	case "sql":
		c.SessionType = "sqlalchemy"
	case "mongo":
		c.SessionType = "mongodb"
	case "null":
		c.SessionType = "cookie"
	}
	for _, n := range []struct {
		name     string
		value    int64
		duration bool
	}{
		{"PORT", int64(c.Port), false},
		{"PERMANENT_SESSION_LIFETIME", int64(c.Lifetime), true},
		{"SESSION_ABSOLUTE_LIFETIME", int64(c.AbsoluteLifetime), true},
		{"SESSION_RENEW_GRACE", int64(c.RenewGrace), true},
		{"SESSION_MAX_SIZE", int64(c.MaxSize), false},
		{"SESSION_REDIS_TIMEOUT", int64(c.RedisTimeout), true},
		{"SESSION_REDIS_POOL_SIZE", int64(c.RedisPoolSize), false},
		{"SESSION_REDIS_MIN_REPLICAS", int64(c.RedisMinReplicas), false},
		{"SESSION_SQLALCHEMY_TIMEOUT", int64(c.SQLTimeout), true},
		{"SESSION_SQLALCHEMY_POOL_SIZE", int64(c.SQLPoolSize), false},
		{"SESSION_MEMCACHED_TIMEOUT", int64(c.MemcachedTimeout), true},
		{"SESSION_MEMCACHED_MAX_IDLE", int64(c.MemcachedMaxIdle), false},
		{"SESSION_MONGODB_TIMEOUT", int64(c.MongoDBTimeout), true},
		{"SHUTDOWN_TIMEOUT", int64(c.ShutdownTimeout), true},
		{"HSTS_MAX_AGE", int64(c.HSTSMaxAge), true},
	} {
		if n.value < 0 || n.value == 0 && !zeroIsOff(n.name) {
			return &Error{n.name, strconv.Quote(vars[n.name]), wantNumber(n.name, n.duration)}
		}
	}
	// The header counts whole seconds.
	if c.HSTSMaxAge%time.Second != 0 {
		return &Error{"HSTS_MAX_AGE", strconv.Quote(vars["HSTS_MAX_AGE"]), "want 0 (off) or whole seconds: a number of seconds (31536000) or a Go duration (8760h)"}
	}
	if c.Port > 65535 {
		return &Error{"PORT", strconv.Quote(vars["PORT"]), "want a port number from 1 to 65535"}
	}
	if c.RenewGrace > maxRenewGrace {
		return &Error{"SESSION_RENEW_GRACE", strconv.Quote(vars["SESSION_RENEW_GRACE"]), "want at most 30s: a renewed session's old ID must stop working soon"}
	}

	release := c.Mode == "release"
	switch {
	case c.SecretKey == "" && release:
		return &Error{"SECRET_KEY", `""`, `required when GIN_MODE=release: set at least 32 random bytes, e.g. from "openssl rand -hex 32"`}
	case c.SecretKey == "":
		c.SecretKey, c.GeneratedSecret = randomKey(), true
	case release && weak(c.SecretKey):
		return &Error{"SECRET_KEY", fmt.Sprintf("(hidden, %d bytes)", len(c.SecretKey)), `too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`}
	}
	if release {
		for _, k := range c.SecretKeyFallbacks {
			if weak(k) {
				return &Error{"SECRET_KEY_FALLBACKS", fmt.Sprintf("(hidden, %d keys)", len(c.SecretKeyFallbacks)), "every key must be at least 32 random bytes, not a placeholder, when GIN_MODE=release"}
			}
		}
	}

	if vars["SESSION_COOKIE_SECURE"] == "" {
		c.CookieSecure = release
	}
	if vars["SESSION_HASH_IDS"] == "" {
		c.HashIDs = release
	}
	if c.SameSite == http.SameSiteNoneMode && !c.CookieSecure {
		return &Error{"SESSION_COOKIE_SAMESITE", `"None"`, "browsers drop SameSite=None cookies that are not Secure: set SESSION_COOKIE_SECURE=true, or use Lax or Strict"}
	}
	if !c.CookieHTTPOnly {
		return &Error{"SESSION_COOKIE_HTTPONLY", `"false"`, "session cookies are always HttpOnly (no script needs them); accepted value: true"}
	}
	if !validCookieName(c.CookieName) {
		return &Error{"SESSION_COOKIE_NAME", strconv.Quote(c.CookieName), "want letters, digits and !#$%&'*+-.^_`|~ only"}
	}
	// The cookie prefixes make browsers enforce their rules; refuse settings
	// the browser would silently drop the cookie for. Browsers match the
	// prefixes without regard to case (__HOST-x is a __Host- cookie).
	name := strings.ToLower(c.CookieName)
	if strings.HasPrefix(name, "__host-") && (!c.CookieSecure || c.CookiePath != "/" || c.CookieDomain != "") {
		return &Error{"SESSION_COOKIE_NAME", strconv.Quote(c.CookieName), "a __Host- cookie needs SESSION_COOKIE_SECURE=true, SESSION_COOKIE_PATH=/ and no SESSION_COOKIE_DOMAIN"}
	}
	if strings.HasPrefix(name, "__secure-") && !c.CookieSecure {
		return &Error{"SESSION_COOKIE_NAME", strconv.Quote(c.CookieName), "a __Secure- cookie needs SESSION_COOKIE_SECURE=true"}
	}
	// net/http drops a Domain it finds invalid, and the bytes of a Path it
	// finds invalid, from every Set-Cookie, logging a line each time; its
	// own check (Cookie.Valid) refuses them here instead.
	if c.CookieDomain != "" && (&http.Cookie{Name: "s", Domain: c.CookieDomain}).Valid() != nil {
		return &Error{"SESSION_COOKIE_DOMAIN", strconv.Quote(c.CookieDomain), "want a domain name of letters, digits, hyphens and dots (example.com, .example.com) or an IPv4 address, or empty for the host that set the cookie"}
	}
	if !strings.HasPrefix(c.CookiePath, "/") {
		return &Error{"SESSION_COOKIE_PATH", strconv.Quote(c.CookiePath), `want a path starting with "/"`}
	}
	if (&http.Cookie{Name: "s", Path: c.CookiePath}).Valid() != nil {
		return &Error{"SESSION_COOKIE_PATH", strconv.Quote(c.CookiePath), `want a path of printable ASCII characters but ";", starting with "/"`}
	}
	if c.CrossOrigin.CrossOriginProtection == nil {
		c.CrossOrigin = CrossOrigin{http.NewCrossOriginProtection()}
	}
	if c.MetricsAddr != "" {
		host, port, err := net.SplitHostPort(c.MetricsAddr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
			return &Error{"METRICS_ADDR", strconv.Quote(c.MetricsAddr), "want host:port (e.g. 127.0.0.1:9090 or :9090), or empty for no metrics"}
		}
		if n, _ := strconv.Atoi(port); n == c.Port && (host == c.Host || host == "" || isUnspecified(host) || isUnspecified(c.Host)) {
			return &Error{"METRICS_ADDR", strconv.Quote(c.MetricsAddr), "must not share the public address HOST:PORT: metrics need a listener of their own"}
		}
	}
	if err := c.checkSQL(vars); err != nil {
		return err
	}
	if err := c.checkMemcached(vars); err != nil {
		return err
	}
	if err := c.checkMongoDB(); err != nil {
		return err
	}
	if c.RedisCAFile != "" {
		pem, err := os.ReadFile(c.RedisCAFile)
		c.RedisCAs = x509.NewCertPool()
		if err != nil || !c.RedisCAs.AppendCertsFromPEM(pem) {
			return &Error{"SESSION_REDIS_CA_FILE", strconv.Quote(c.RedisCAFile), "want a readable PEM file of CA certificates"}
		}
	}
	if c.FileDir == "" {
		cache, own := userCacheDir(vars)
		if !own && release && c.SessionType == "filesystem" {
			return &Error{"SESSION_FILE_DIR", strconv.Quote(vars["SESSION_FILE_DIR"]), "required when GIN_MODE=release and neither HOME nor XDG_CACHE_HOME is set (the default would lie in the shared temporary directory): set it to a directory only this service's user can write"}
		}
		c.FileDir = filepath.Join(cache, "sessionsvc", "sessions")
	}
	return nil
}

// randomKey is 32 bytes from crypto/rand, base64url-encoded: a signing key
// for one run.
func randomKey() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error (Go 1.24+: it crashes instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// isUnspecified reports whether host is 0.0.0.0 or ::, which listen on
// every address.
func isUnspecified(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// weak reports whether key is too short, too repetitive, too regular or a
// placeholder to sign cookies in production.
//
// Too repetitive: fewer than 8 distinct characters ("abababab...").
// Too regular: fewer than 8 distinct steps between neighbouring characters,
// a step being the difference of their code points. A run through the
// alphabet uses many characters but few steps: 0123456789abcdef repeated
// takes three (+1, '9' to 'a', 'f' to '0'), "a1b2c3..." five, and "abc...z"
// one. Random keys take many: among a million keys of "openssl rand -hex
// 16" (32 hex digits, the shortest that passes the length check) none took
// fewer than 11, and among a million of "openssl rand -hex 32" none fewer
// than 20.
func weak(key string) bool {
	if len(key) < 32 {
		return true
	}
	distinct, steps := map[rune]bool{}, map[rune]bool{}
	prev := rune(-1)
	for _, r := range key {
		distinct[r] = true
		if prev >= 0 {
			steps[r-prev] = true
		}
		prev = r
	}
	if len(distinct) < 8 || len(steps) < 8 {
		return true
	}
	k := strings.ToLower(key)
	for _, w := range placeholderWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

// userCacheDir is os.UserCacheDir computed from vars rather than the process
// environment; own is false when neither XDG_CACHE_HOME nor HOME tells it,
// and dir is then the temporary directory, which other users share.
func userCacheDir(vars map[string]string) (dir string, own bool) {
	if d := vars["XDG_CACHE_HOME"]; filepath.IsAbs(d) {
		return d, true
	}
	if h := vars["HOME"]; h != "" {
		return filepath.Join(h, ".cache"), true
	}
	return os.TempDir(), false
}

// ReadDotEnv returns the KEY=value pairs of the .env file at path, or none
// when it does not exist. Put them before the real environment so that the
// real environment wins.
func ReadDotEnv(path string) ([]string, error) {
	m, err := godotenv.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	return kv, nil
}
