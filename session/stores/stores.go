// Package stores turns a config.Config into the configured session store:
// the one function any Gin application needs to keep its sessions the way
// this service does (SESSION_TYPE redis, memcached, sqlalchemy, mongodb,
// filesystem or cookie, and every SESSION_* setting).
package stores

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/dirstore"
	"github.com/sessionsvc/sessionsvc/session/memcachedstore"
	"github.com/sessionsvc/sessionsvc/session/mongostore"
	"github.com/sessionsvc/sessionsvc/session/redisstore"
	"github.com/sessionsvc/sessionsvc/session/sqlstore"
)

// Hooks are told what the store does; either may be nil.
type Hooks struct {
	// Notify hears of every session's creation, renewal and end.
	Notify func(ctx context.Context, e session.Event, id, oldID string)
	// Observe hears of every backend operation.
	Observe func(op session.Op, d time.Duration, err error)
	// Logger gets what a store tells once, such as how expired sessions
	// go (slog.Default() when nil).
	Logger *slog.Logger
}

// Open returns the session store that cfg describes, a gin-contrib
// sessions.Store for sessions.Sessions, and the function that closes it
// (the store's Close). It does not connect: a store that is down at start
// fails the first request, and Ping tells. Sessions are indexed by their
// email. Errors are *config.Error, for settings that cannot work.
func Open(cfg config.Config, h Hooks) (*session.Store, func() error, error) {
	secrets := append([]string{cfg.SecretKey}, cfg.SecretKeyFallbacks...)
	sc := session.Config{
		Lifetime:         cfg.Lifetime,
		AbsoluteLifetime: cfg.AbsoluteLifetime,
		Permanent:        cfg.Permanent,
		Refresh:          cfg.RefreshEachRequest,
		RenewGrace:       cfg.RenewGrace,
		HashIDs:          cfg.HashIDs,
		Path:             cfg.CookiePath,
		Domain:           cfg.CookieDomain,
		Secure:           cfg.CookieSecure,
		HttpOnly:         cfg.CookieHTTPOnly,
		SameSite:         cfg.SameSite,
		MaxSize:          cfg.MaxSize,
		Timeout:          cfg.RedisTimeout,
		Notify:           h.Notify,
		Observe:          h.Observe,
		OwnerKey:         "email",
	}
	if cfg.UseSigner {
		sc.Signer = session.NewSigner("session id", secrets...)
	}
	switch cfg.SessionType {
	case "redis":
		sc.Backend = redisstore.New(redisstore.Config{
			URL: redisstore.URL(cfg.Redis), Prefix: cfg.KeyPrefix, IndexPrefix: "by-email:" + cfg.KeyPrefix, Timeout: cfg.RedisTimeout, PoolSize: cfg.RedisPoolSize,
			MinReplicas: cfg.RedisMinReplicas,
			TLS:         &tls.Config{RootCAs: cfg.RedisCAs, MinVersion: tls.VersionTLS12},
		})
	case "memcached":
		b, err := memcachedstore.New(memcachedstore.Config{
			Servers: cfg.Memcached, Prefix: cfg.KeyPrefix, Timeout: cfg.MemcachedTimeout, MaxIdle: cfg.MemcachedMaxIdle,
		})
		switch {
		case errors.Is(err, memcachedstore.ErrKeyPrefix):
			return nil, nil, &config.Error{Var: "SESSION_KEY_PREFIX", Value: strconv.Quote(cfg.KeyPrefix), Want: err.Error()}
		case err != nil:
			return nil, nil, &config.Error{Var: "SESSION_MEMCACHED", Value: strconv.Quote(strings.Join(cfg.Memcached, ",")), Want: err.Error()}
		}
		sc.Backend, sc.Timeout = b, cfg.MemcachedTimeout
	case "sqlalchemy":
		b, err := sqlstore.New(sqlstore.Config{
			Dialect: cfg.SQL.Dialect, DSN: cfg.SQL.DSN, Table: cfg.SQLTable, Schema: cfg.SQLSchema,
			Prefix: cfg.KeyPrefix, PoolSize: cfg.SQLPoolSize, Address: sqlAddress(cfg.SQL),
		})
		if err != nil {
			return nil, nil, &config.Error{Var: "SQLALCHEMY_DATABASE_URI", Value: strconv.Quote(cfg.SQL.String()), Want: "want a database this service can open: " + err.Error()}
		}
		sc.Backend, sc.Timeout = b, cfg.SQLTimeout
	case "mongodb":
		b, err := mongostore.New(mongostore.Config{
			URI: cfg.MongoDB.URI, Database: cfg.MongoDBDatabase, Collection: cfg.MongoDBCollection,
			Prefix: cfg.KeyPrefix, Timeout: cfg.MongoDBTimeout, Logger: h.Logger,
		})
		if err != nil {
			return nil, nil, &config.Error{Var: "SESSION_MONGODB", Value: strconv.Quote(cfg.MongoDB.String()), Want: "want a URI the MongoDB driver accepts: " + err.Error()}
		}
		sc.Backend, sc.Timeout = b, cfg.MongoDBTimeout
	case "filesystem":
		dir, err := dirstore.New(cfg.FileDir)
		if err != nil {
			return nil, nil, &config.Error{Var: "SESSION_FILE_DIR", Value: strconv.Quote(cfg.FileDir), Want: "want a directory this process can create and write, owned by its user and writable by no one else: " + err.Error()}
		}
		sc.Backend = dir
	case "cookie":
		sc.Signer = session.NewSigner("cookie session", secrets...)
	}
	store, err := session.New(sc)
	if err != nil {
		return nil, nil, err
	}
	return store, store.Close, nil
}

// sqlAddress is where the database is, for readiness details: the
// server's address and the database, or the SQLite file.
func sqlAddress(u config.SQLURL) string {
	if u.Address == "" {
		return u.Database
	}
	return u.Address + "/" + u.Database
}
