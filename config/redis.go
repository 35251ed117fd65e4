package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// RedisURL is a parsed SESSION_REDIS address.
type RedisURL struct {
	Network  string // "tcp", "unix" or "sentinel"
	Address  string // host:port, or the socket's path; for "sentinel", the sentinels' host:port, comma-separated
	Username string
	Password string
	DB       int
	TLS      bool

	// MasterName is the master's name in the sentinels' configuration.
	MasterName string
}

// redisURLForms are the shapes SESSION_REDIS accepts, as its errors say.
const redisURLForms = "redis://[user:password@]host[:port][/db], rediss://... for TLS, unix:///path/to/socket[?db=N], or redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername"

// ParseRedisURL parses redis://[user:password@]host[:port][/db],
// rediss://... (TLS), unix://[user:password@]/path/to/socket[?db=N] and
// redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername.
// The port defaults to 6379 (26379 for sentinels) and the database to 0.
// Errors never contain the password.
func ParseRedisURL(raw string) (RedisURL, error) {
	if strings.HasPrefix(raw, "redis-sentinel://") {
		return parseSentinelURL(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return RedisURL{}, errors.New("not a URL")
	}
	var r RedisURL
	if u.User != nil {
		r.Username = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	db := ""
	switch u.Scheme {
	case "redis", "rediss":
		r.Network, r.TLS = "tcp", u.Scheme == "rediss"
		host, port := u.Hostname(), u.Port()
		if host == "" {
			return RedisURL{}, errors.New("no host")
		}
		if port == "" {
			port = "6379"
		}
		r.Address = net.JoinHostPort(host, port)
		db = strings.TrimPrefix(u.Path, "/")
	case "unix":
		if u.Path == "" {
			return RedisURL{}, errors.New("no socket path")
		}
		r.Network, r.Address = "unix", u.Path
		db = u.Query().Get("db")
	default:
		return RedisURL{}, errors.New("scheme must be redis, rediss, unix or redis-sentinel")
	}
	if db != "" {
		if r.DB, err = strconv.Atoi(db); err != nil || r.DB < 0 {
			return RedisURL{}, fmt.Errorf("database %q is not a number", db)
		}
	}
	return r, nil
}

// parseSentinelURL parses
// redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername,
// the shape Lettuce uses. Ports default to 26379. A lone word before "@" is
// the password.
func parseSentinelURL(raw string) (RedisURL, error) {
	rest, name, ok := strings.Cut(strings.TrimPrefix(raw, "redis-sentinel://"), "#")
	if !ok || name == "" {
		return RedisURL{}, errors.New("no master name: end the URL with #mastername")
	}
	r := RedisURL{Network: "sentinel"}
	var err error
	if r.MasterName, err = url.PathUnescape(name); err != nil || strings.ContainsAny(r.MasterName, " \r\n") {
		return RedisURL{}, fmt.Errorf("master name %q is not valid", name)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, both := strings.Cut(rest[:at], ":")
		if !both {
			user, pass = "", user
		}
		r.Username, err = url.PathUnescape(user)
		if err == nil {
			r.Password, err = url.PathUnescape(pass)
		}
		if err != nil {
			return RedisURL{}, errors.New("bad escape in user or password")
		}
		rest = rest[at+1:]
	}
	hosts, db, _ := strings.Cut(rest, "/")
	if hosts == "" {
		return RedisURL{}, errors.New("no sentinel host")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		addr, err := sentinelAddr(h)
		if err != nil {
			return RedisURL{}, err
		}
		addrs = append(addrs, addr)
	}
	r.Address = strings.Join(addrs, ",")
	if db != "" {
		if r.DB, err = strconv.Atoi(db); err != nil || r.DB < 0 {
			return RedisURL{}, fmt.Errorf("database %q is not a number", db)
		}
	}
	return r, nil
}

// sentinelAddr reads host[:port] or [ipv6][:port] into host:port.
func sentinelAddr(h string) (string, error) {
	host, port := h, "26379"
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		host, port = h[:i], h[i+1:]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("sentinel %q: port %q is not a port number", h, port)
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") || strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("sentinel %q is not host[:port]", h)
	}
	return net.JoinHostPort(host, port), nil
}

// String is u as a URL with the password, if any, replaced by "xxxxx", fit
// for logs. ParseRedisURL reads it back.
func (u RedisURL) String() string {
	user := ""
	switch {
	case u.Password != "":
		user = url.UserPassword(u.Username, "xxxxx").String() + "@"
	case u.Username != "" && u.Network == "sentinel":
		user = url.User(u.Username).String() + ":@" // a lone word would be the password
	case u.Username != "":
		user = url.User(u.Username).String() + "@"
	}
	switch u.Network {
	case "unix":
		q := ""
		if u.DB != 0 {
			q = "?db=" + strconv.Itoa(u.DB)
		}
		return "unix://" + user + u.Address + q
	case "sentinel":
		return "redis-sentinel://" + user + u.Address + "/" + strconv.Itoa(u.DB) + "#" + url.PathEscape(u.MasterName)
	}
	scheme := "redis"
	if u.TLS {
		scheme = "rediss"
	}
	return scheme + "://" + user + u.Address + "/" + strconv.Itoa(u.DB)
}
