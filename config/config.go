// Package config reads the service's settings from environment variables,
// named as in Flask and Flask-Session where those have a name. Every field's
// variable, default and accepted values are in its struct tags; Load checks
// them all and names the variable in every error.
package config

import (
	"crypto/x509"
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

	"github.com/joho/godotenv"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
)

// Config is the service's configuration. Tags: env is the variable,
// default its value when unset or empty, oneof the accepted values
// (compared without regard to case), min the least whole number accepted
// (1 when absent), secret hides the value in errors, zero:"off" lets a
// duration be 0.
type Config struct {
	Host string `env:"HOST" default:"127.0.0.1"`
	Port int    `env:"PORT" default:"5000"`
	// Mode is debug or release; release demands a strong SECRET_KEY, makes
	// cookies Secure by default and logs JSON.
	Mode string `env:"GIN_MODE" default:"debug" oneof:"debug,release"`

	// SecretKey signs cookies. Unset in debug mode: a random key for this
	// run (GeneratedSecret tells).
	SecretKey          string   `env:"SECRET_KEY" secret:"true"`
	SecretKeyFallbacks []string `env:"SECRET_KEY_FALLBACKS" secret:"true"`
	GeneratedSecret    bool

	// SessionType is redis, filesystem or cookie ("null" is read as cookie).
	SessionType        string `env:"SESSION_TYPE" default:"filesystem" oneof:"redis,filesystem,cookie,null"`
	Permanent          bool   `env:"SESSION_PERMANENT" default:"true"`
	UseSigner          bool   `env:"SESSION_USE_SIGNER" default:"false"`
	Redis              string `env:"SESSION_REDIS" default:"redis://127.0.0.1:6379/0" secret:"url"`
	RedisURL           redisstore.URL
	KeyPrefix          string        `env:"SESSION_KEY_PREFIX" default:"session:"`
	Lifetime           time.Duration `env:"PERMANENT_SESSION_LIFETIME" default:"2678400"`
	RefreshEachRequest bool          `env:"SESSION_REFRESH_EACH_REQUEST" default:"true"`
	FileDir            string        `env:"SESSION_FILE_DIR"`
	// AbsoluteLifetime ends a session that long after its creation, however
	// active; 0 turns it off.
	AbsoluteLifetime time.Duration `env:"SESSION_ABSOLUTE_LIFETIME" default:"0" zero:"off"`
	// RenewGrace is how long a renewed session's old ID still works.
	RenewGrace time.Duration `env:"SESSION_RENEW_GRACE" default:"5s"`
	// HashIDs stores sessions under a hash of their ID; it defaults to true
	// in release mode (IDs at rest are useless to whoever copies the store,
	// and the shorter key saves 16 bytes per session) and false in debug (the
	// key is the cookie's ID, as in the tutorial).
	HashIDs bool `env:"SESSION_HASH_IDS"`
	// MaxSize is the largest encoded session, in bytes.
	MaxSize int `env:"SESSION_MAX_SIZE" default:"4096"`
	// RedisCAFile is a PEM file of the CAs that sign the Redis server's
	// certificate (rediss://); empty means the system's roots.
	RedisCAFile string         `env:"SESSION_REDIS_CA_FILE"`
	RedisCAs    *x509.CertPool // RedisCAFile, parsed

	CookieName     string `env:"SESSION_COOKIE_NAME" default:"session"`
	CookieDomain   string `env:"SESSION_COOKIE_DOMAIN"`
	CookiePath     string `env:"SESSION_COOKIE_PATH" default:"/"`
	CookieHTTPOnly bool   `env:"SESSION_COOKIE_HTTPONLY" default:"true"`
	// CookieSecure defaults to true in release mode, false in debug.
	CookieSecure   bool          `env:"SESSION_COOKIE_SECURE"`
	CookieSameSite string        `env:"SESSION_COOKIE_SAMESITE" default:"Lax" oneof:"Strict,Lax,None"`
	SameSite       http.SameSite // CookieSameSite, parsed

	// CSRFTrustedOrigins are other origins (scheme://host[:port]) allowed to
	// post forms here.
	CSRFTrustedOrigins []string `env:"CSRF_TRUSTED_ORIGINS"`
	// TrustedProxies are the IPs or CIDRs whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []string `env:"TRUSTED_PROXIES"`

	RedisTimeout  time.Duration `env:"SESSION_REDIS_TIMEOUT" default:"500ms"`
	RedisPoolSize int           `env:"SESSION_REDIS_POOL_SIZE" default:"32"`
	// RedisMinReplicas is how many replicas must acknowledge each session
	// write (Redis WAIT) before it counts as done; 0 waits for none.
	RedisMinReplicas int           `env:"SESSION_REDIS_MIN_REPLICAS" default:"0" min:"0"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" default:"10s"`

	// MetricsAddr is host:port of a separate listener for Prometheus metrics
	// (GET /metrics), so the public port never exposes them. Empty: off.
	MetricsAddr string `env:"METRICS_ADDR"`
}

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
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		raw := env[name]
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if err := set(v.Field(i), f, raw); err != nil {
			return Config{}, err
		}
	}
	return c, c.check(env)
}

// set parses raw into field according to its type and tags.
func set(field reflect.Value, f reflect.StructField, raw string) error {
	name := f.Tag.Get("env")
	bad := func(want string) error {
		return &Error{Var: name, Value: shown(f, raw), Want: want}
	}
	if oneof := f.Tag.Get("oneof"); oneof != "" && raw != "" {
		ok := false
		for _, o := range strings.Split(oneof, ",") {
			if strings.EqualFold(raw, o) {
				raw, ok = o, true
			}
		}
		if !ok {
			return bad("accepted values are " + strings.ReplaceAll(oneof, ",", ", "))
		}
	}
	switch field.Interface().(type) {
	case string:
		field.SetString(raw)
	case []string:
		var list []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		field.Set(reflect.ValueOf(list))
	case bool:
		if raw == "" {
			return nil
		}
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return bad("accepted values are true or false")
		}
		field.SetBool(b)
	case int:
		least := 1
		if m := f.Tag.Get("min"); m != "" {
			least, _ = strconv.Atoi(m)
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < least {
			return bad(fmt.Sprintf("want a whole number of at least %d", least))
		}
		field.SetInt(int64(n))
	case time.Duration:
		d, err := parseDuration(raw)
		switch {
		case f.Tag.Get("zero") != "" && (err != nil || d < 0):
			return bad("want 0 (off) or a duration: whole seconds (3600) or a Go duration (12h, 90m)")
		case f.Tag.Get("zero") == "" && (err != nil || d <= 0):
			return bad("want a positive duration: whole seconds (3600) or a Go duration (1h30m, 500ms)")
		}
		field.SetInt(int64(d))
	default:
		panic("config: unsupported field type " + f.Type.String())
	}
	return nil
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

// shown is how a value appears in an error: secrets are hidden, and URLs
// lose their password.
func shown(f reflect.StructField, raw string) string {
	switch f.Tag.Get("secret") {
	case "true":
		return fmt.Sprintf("(hidden, %d bytes)", len(raw))
	case "url":
		return strconv.Quote(redact(raw))
	}
	return strconv.Quote(raw)
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

// check validates what single fields cannot, and fills derived fields.
func (c *Config) check(env map[string]string) error {
	if c.Port > 65535 {
		return &Error{"PORT", strconv.Quote(env["PORT"]), "want a port number from 1 to 65535"}
	}
	if c.SessionType == "null" {
		c.SessionType = "cookie"
	}
	var err error
	if c.RedisURL, err = redisstore.ParseURL(c.Redis); err != nil {
		return &Error{"SESSION_REDIS", strconv.Quote(redact(c.Redis)), err.Error() + "; want redis://[user:password@]host[:port][/db], rediss://... for TLS, unix:///path/to/socket[?db=N], or redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername"}
	}

	release := c.Mode == "release"
	switch {
	case c.SecretKey == "" && release:
		return &Error{"SECRET_KEY", `""`, `required when GIN_MODE=release: set at least 32 random bytes, e.g. from "openssl rand -hex 32"`}
	case c.SecretKey == "":
		c.SecretKey, c.GeneratedSecret = session.NewID(), true
	case release && weak(c.SecretKey):
		return &Error{"SECRET_KEY", fmt.Sprintf("(hidden, %d bytes)", len(c.SecretKey)), `too weak for GIN_MODE=release: want at least 32 random bytes, not a placeholder, e.g. from "openssl rand -hex 32"`}
	}
	if release {
		for _, k := range c.SecretKeyFallbacks {
			if weak(k) {
				return &Error{"SECRET_KEY_FALLBACKS", fmt.Sprintf("(hidden, %d keys)", len(c.SecretKeyFallbacks)), "every key must be at least 32 bytes and not a placeholder when GIN_MODE=release"}
			}
		}
	}

	if env["SESSION_COOKIE_SECURE"] == "" {
		c.CookieSecure = release
	}
	if env["SESSION_HASH_IDS"] == "" {
		c.HashIDs = release
	}
	c.SameSite = map[string]http.SameSite{"Strict": http.SameSiteStrictMode, "Lax": http.SameSiteLaxMode, "None": http.SameSiteNoneMode}[c.CookieSameSite]
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
	// the browser would silently drop the cookie for.
	if strings.HasPrefix(c.CookieName, "__Host-") && (!c.CookieSecure || c.CookiePath != "/" || c.CookieDomain != "") {
		return &Error{"SESSION_COOKIE_NAME", strconv.Quote(c.CookieName), "a __Host- cookie needs SESSION_COOKIE_SECURE=true, SESSION_COOKIE_PATH=/ and no SESSION_COOKIE_DOMAIN"}
	}
	if strings.HasPrefix(c.CookieName, "__Secure-") && !c.CookieSecure {
		return &Error{"SESSION_COOKIE_NAME", strconv.Quote(c.CookieName), "a __Secure- cookie needs SESSION_COOKIE_SECURE=true"}
	}
	if !strings.HasPrefix(c.CookiePath, "/") {
		return &Error{"SESSION_COOKIE_PATH", strconv.Quote(c.CookiePath), `want a path starting with "/"`}
	}
	for _, o := range c.CSRFTrustedOrigins {
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(o); err != nil {
			return &Error{"CSRF_TRUSTED_ORIGINS", strconv.Quote(o), "want comma-separated origins of the form scheme://host[:port], e.g. https://app.example.com"}
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return &Error{"TRUSTED_PROXIES", strconv.Quote(p), "want comma-separated IP addresses or CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1"}
			}
		}
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
	if c.RedisCAFile != "" {
		pem, err := os.ReadFile(c.RedisCAFile)
		c.RedisCAs = x509.NewCertPool()
		if err != nil || !c.RedisCAs.AppendCertsFromPEM(pem) {
			return &Error{"SESSION_REDIS_CA_FILE", strconv.Quote(c.RedisCAFile), "want a readable PEM file of CA certificates"}
		}
	}
	if c.FileDir == "" {
		c.FileDir = filepath.Join(userCacheDir(env), "sessionsvc", "sessions")
	}
	return nil
}

// isUnspecified reports whether host is 0.0.0.0 or ::, which listen on
// every address.
func isUnspecified(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// weak reports whether key is too short, too repetitive or a placeholder to
// sign cookies in production.
func weak(key string) bool {
	if len(key) < 32 {
		return true
	}
	distinct := map[rune]bool{}
	for _, r := range key {
		distinct[r] = true
	}
	if len(distinct) < 8 {
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

// userCacheDir is os.UserCacheDir computed from env rather than the process
// environment.
func userCacheDir(env map[string]string) string {
	if d := env["XDG_CACHE_HOME"]; filepath.IsAbs(d) {
		return d
	}
	if h := env["HOME"]; h != "" {
		return filepath.Join(h, ".cache")
	}
	return os.TempDir()
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
