package config

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// MongoURI is a parsed SESSION_MONGODB.
type MongoURI struct {
	// URI is the setting as given, for the driver, which reads its options.
	URI string
	// Hosts are the servers, host[:port] comma-separated (the SRV name for
	// mongodb+srv://), for logs and readiness details.
	Hosts string
}

// String is the URI with its password hidden.
func (u MongoURI) String() string { return redact(u.URI) }

// mongoURIForms is the shape SESSION_MONGODB takes, as its errors say.
const mongoURIForms = "mongodb://[user:password@]host[:port][,host2[:port]...][/authdb][?options] or mongodb+srv://[user:password@]cluster.example.com[/authdb][?options]"

// ParseMongoURI checks the parts of a MongoDB connection string that the
// service relies on: the scheme and the hosts. The driver reads the rest
// (the options) when the store opens, and the store's errors name
// SESSION_MONGODB too.
func ParseMongoURI(raw string) (MongoURI, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme != "mongodb" && scheme != "mongodb+srv" {
		return MongoURI{}, errors.New("scheme must be mongodb or mongodb+srv")
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = rest[at+1:]
	}
	hosts, _, _ := strings.Cut(rest, "/")
	hosts, _, _ = strings.Cut(hosts, "?")
	if hosts == "" {
		return MongoURI{}, errors.New("no host")
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil { // no port
			host, port = h, ""
		}
		if host == "" || strings.ContainsAny(host, " /\\?#@") {
			return MongoURI{}, errors.New("host " + strconv.Quote(h) + " is not host[:port]")
		}
		if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535) {
			return MongoURI{}, errors.New("port " + strconv.Quote(port) + " is not a port number")
		}
		if scheme == "mongodb+srv" && (port != "" || strings.Contains(hosts, ",")) {
			return MongoURI{}, errors.New("a mongodb+srv URI names one host and no port")
		}
	}
	return MongoURI{URI: raw, Hosts: hosts}, nil
}

// checkMongoDB checks the database's and the collection's names as
// MongoDB restricts them.
func (c *Config) checkMongoDB() error {
	if c.MongoDBDatabase == "" || len(c.MongoDBDatabase) > 63 || strings.ContainsAny(c.MongoDBDatabase, "/\\. \"$*<>:|?\x00") {
		return &Error{"SESSION_MONGODB_DB", strconv.Quote(c.MongoDBDatabase), `want a MongoDB database name: at most 63 bytes, none of /\. "$*<>:|?`}
	}
	if c.MongoDBCollection == "" || strings.HasPrefix(c.MongoDBCollection, "system.") || strings.ContainsAny(c.MongoDBCollection, "$\x00") {
		return &Error{"SESSION_MONGODB_COLLECT", strconv.Quote(c.MongoDBCollection), `want a MongoDB collection name: not empty, no "$", not starting with "system."`}
	}
	return nil
}
