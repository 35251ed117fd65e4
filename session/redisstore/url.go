package redisstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// URL says where Redis is and how to log in. Its fields are those of a
// parsed SESSION_REDIS.
type URL struct {
	Network  string // "tcp", "unix" or "sentinel"
	Address  string // host:port, or the socket's path; for "sentinel", the sentinels' host:port, comma-separated
	Username string
	Password string
	DB       int
	TLS      bool

	// MasterName is the master's name in the sentinels' configuration.
	MasterName string
}

// ParseURL parses redis://[user:password@]host[:port][/db],
// rediss://... (TLS), unix://[user:password@]/path/to/socket[?db=N] and
// redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername.
// The port defaults to 6379 (26379 for sentinels) and the database to 0.
// Errors never contain the password.
func ParseURL(raw string) (URL, error) {
	if strings.HasPrefix(raw, "redis-sentinel://") {
		return parseSentinelURL(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return URL{}, errors.New("not a URL")
	}
	var r URL
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
			return URL{}, errors.New("no host")
		}
		if port == "" {
			port = "6379"
		}
		r.Address = net.JoinHostPort(host, port)
		db = strings.TrimPrefix(u.Path, "/")
	case "unix":
		if u.Path == "" {
			return URL{}, errors.New("no socket path")
		}
		r.Network, r.Address = "unix", u.Path
		db = u.Query().Get("db")
	default:
		return URL{}, errors.New("scheme must be redis, rediss, unix or redis-sentinel")
	}
	if db != "" {
		if r.DB, err = strconv.Atoi(db); err != nil || r.DB < 0 {
			return URL{}, fmt.Errorf("database %q is not a number", db)
		}
	}
	return r, nil
}

// parseSentinelURL parses
// redis-sentinel://[[user:]password@]host[:port][,host2[:port2]...][/db]#mastername,
// the shape Lettuce uses. Ports default to 26379. A lone word before "@" is
// the password.
func parseSentinelURL(raw string) (URL, error) {
	rest, name, ok := strings.Cut(strings.TrimPrefix(raw, "redis-sentinel://"), "#")
	if !ok || name == "" {
		return URL{}, errors.New("no master name: end the URL with #mastername")
	}
	r := URL{Network: "sentinel"}
	var err error
	if r.MasterName, err = url.PathUnescape(name); err != nil || strings.ContainsAny(r.MasterName, " \r\n") {
		return URL{}, fmt.Errorf("master name %q is not valid", name)
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
			return URL{}, errors.New("bad escape in user or password")
		}
		rest = rest[at+1:]
	}
	hosts, db, _ := strings.Cut(rest, "/")
	if hosts == "" {
		return URL{}, errors.New("no sentinel host")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		addr, err := sentinelAddr(h)
		if err != nil {
			return URL{}, err
		}
		addrs = append(addrs, addr)
	}
	r.Address = strings.Join(addrs, ",")
	if db != "" {
		if r.DB, err = strconv.Atoi(db); err != nil || r.DB < 0 {
			return URL{}, fmt.Errorf("database %q is not a number", db)
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
