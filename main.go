// Command sessionsvc serves the tutorial "Server-side sessions in Flask with
// Redis" as a Gin service: sessions live in Redis (or a directory, or a
// signed cookie), configured only by environment variables.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sessionsvc/sessionsvc/internal/ginmode" // first: see its doc

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/handlers"
	"github.com/sessionsvc/sessionsvc/internal/logbuf"
	"github.com/sessionsvc/sessionsvc/metrics"
	"github.com/sessionsvc/sessionsvc/sessionstore"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The live heap is a few MiB, so at the default GOGC=100 the
		// collector ran about a hundred times a second under load. Twice
		// the headroom costs a few MiB and about a tenth of the CPU less.
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, ginmode.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_, badConfig := errors.AsType[*config.Error](err)
		_, badUsage := errors.AsType[*usageError](err)
		if badConfig || badUsage {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run starts the service and serves until ctx ends, then shuts down
// gracefully. environ is the process environment (a .env file in the working
// directory adds to it; the environment wins). Logs go to stdout.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	dotenv, err := config.ReadDotEnv(".env")
	if err != nil {
		return err
	}
	cfg, err := config.Load(append(dotenv, environ...))
	if err != nil {
		return err
	}
	if len(args) > 1 {
		switch args[1] {
		case "healthcheck":
			return healthcheck(ctx, cfg)
		case "sessions":
			return adminSessions(ctx, cfg, args[2:], stdout)
		default:
			return &usageError{fmt.Sprintf("unknown command %q; usage: %s [healthcheck | sessions ...]", args[1], args[0])}
		}
	}
	logger, logs := logbuf.NewLogger(stdout, cfg.Mode == "release")
	defer logs.Close()
	if cfg.GeneratedSecret {
		logger.Warn("SECRET_KEY is not set: using a random key for this run only; signed cookies will not survive a restart and replicas will not share sessions. Set SECRET_KEY (at least 32 random bytes) before going to production.")
	}

	logKey := derive(cfg.SecretKey, "session ids in logs")
	notify := handlers.SessionEventLogger(logger, logKey)
	var observe func(sessionstore.Op, time.Duration, error)
	var m *metrics.Metrics
	if cfg.MetricsAddr != "" {
		m = metrics.New()
		logNotify := notify
		notify = func(ctx context.Context, e sessionstore.Event, id, oldID string) {
			logNotify(ctx, e, id, oldID)
			m.CountEvent(ctx, e, id, oldID)
		}
		observe = m.ObserveStore
	}
	store, err := openStore(cfg, notify, observe)
	if err != nil {
		return err
	}
	closeStore := sync.OnceValue(store.Close)
	defer closeStore() // on early returns
	if err := store.Ping(ctx); err != nil {
		logger.Error("session store not reachable at start; serving anyway, session pages answer 503 until it is", "store", cfg.SessionType, "error", err)
	}

	deps := handlers.Deps{
		Logger:         logger,
		Store:          store,
		StoreName:      cfg.SessionType,
		CookieName:     cfg.CookieName,
		LogKey:         logKey,
		TrustedProxies: cfg.TrustedProxies,
		TrustedOrigins: cfg.CSRFTrustedOrigins,
		Debug:          cfg.Mode == "debug",
	}
	if m != nil {
		deps.ObserveRequest = m.ObserveRequest
		if p, ok := store.Backend().(interface{ PoolStats() sessionstore.PoolStats }); ok {
			m.WatchPool(p.PoolStats)
		}
	}
	handler, err := handlers.NewServer(deps)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := newHTTPServer(handler, logger)
	srv.MaxHeaderBytes = 64 << 10
	logger.Info("listening", "addr", "http://"+ln.Addr().String(), "store", cfg.SessionType, "mode", cfg.Mode)

	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	var metricsSrv *http.Server
	if m != nil {
		if metricsSrv, err = serveMetrics(cfg.MetricsAddr, m.Handler(), logger, served); err != nil {
			srv.Close()
			return err
		}
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if metricsSrv != nil {
		if err := metricsSrv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown metrics: %w", err)
		}
	}
	// Every accepted request has been answered: the pool can go.
	if err := closeStore(); err != nil {
		return fmt.Errorf("close session store: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// healthcheck asks the running service's /healthz, for container health
// checks in images that have no curl.
func healthcheck(ctx context.Context, cfg config.Config) error {
	host := cfg.Host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, strconv.Itoa(cfg.Port))+"/healthz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", res.Status)
	}
	return nil
}

// openStore builds the session store that cfg describes; notify hears of
// every session's creation, renewal and end, observe of every store
// operation (either may be nil). Sessions are indexed by their email.
func openStore(cfg config.Config, notify func(context.Context, sessionstore.Event, string, string), observe func(sessionstore.Op, time.Duration, error)) (*sessionstore.Store, error) {
	secrets := append([]string{cfg.SecretKey}, cfg.SecretKeyFallbacks...)
	sc := sessionstore.Config{
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
		Notify:           notify,
		Observe:          observe,
		OwnerKey:         "email",
	}
	if cfg.UseSigner {
		sc.Signer = sessionstore.NewSigner("session id", secrets...)
	}
	switch cfg.SessionType {
	case "redis":
		sc.Backend = sessionstore.NewRedis(sessionstore.RedisConfig{
			URL: cfg.RedisURL, Prefix: cfg.KeyPrefix, IndexPrefix: "by-email:" + cfg.KeyPrefix, Timeout: cfg.RedisTimeout, PoolSize: cfg.RedisPoolSize,
			MinReplicas: cfg.RedisMinReplicas,
			TLS:         &tls.Config{RootCAs: cfg.RedisCAs, MinVersion: tls.VersionTLS12},
		})
	case "filesystem":
		dir, err := sessionstore.NewDir(cfg.FileDir)
		if err != nil {
			return nil, &config.Error{Var: "SESSION_FILE_DIR", Value: strconv.Quote(cfg.FileDir), Want: "want a directory this process can create and write: " + err.Error()}
		}
		sc.Backend = dir
	case "cookie":
		sc.Signer = sessionstore.NewSigner("cookie session", secrets...)
	}
	return sessionstore.New(sc)
}

// derive makes a key for one purpose from the secret key.
func derive(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// newHTTPServer is an http.Server for h with bounded reads, writes and idle
// connections, logging its errors as warnings.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
