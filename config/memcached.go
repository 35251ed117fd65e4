package config

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// checkMemcached checks SESSION_MEMCACHED: at least one server, each
// host:port with a port from 1 to 65535, or a Unix socket's absolute path.
func (c *Config) checkMemcached(vars map[string]string) error {
	bad := func(want string) error {
		return &Error{"SESSION_MEMCACHED", strconv.Quote(vars["SESSION_MEMCACHED"]), want + "; want comma-separated servers, host:port (memcached-1:11211,memcached-2:11211) or the absolute path of a Unix socket"}
	}
	if len(c.Memcached) == 0 {
		return bad("no server")
	}
	seen := map[string]bool{}
	for _, s := range c.Memcached {
		if seen[s] {
			return bad(strconv.Quote(s) + " is listed twice")
		}
		seen[s] = true
		if strings.HasPrefix(s, "/") {
			if filepath.Clean(s) != s {
				return bad(strconv.Quote(s) + " is not a clean path")
			}
			continue
		}
		host, port, err := net.SplitHostPort(s)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
			return bad(strconv.Quote(s) + " is not host:port")
		}
	}
	return nil
}
