// Command sessionsvc serves the tutorial "Server-side sessions in Flask with
// Redis" as a Gin service: sessions live in Redis (or a directory, or a
// signed cookie), configured only by environment variables.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
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
	"github.com/sessionsvc/sessionsvc/session/stores"

	"github.com/sessionsvc/sessionsvc/admin"
	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/handlers"
	"github.com/sessionsvc/sessionsvc/internal/logbuf"
	"github.com/sessionsvc/sessionsvc/metrics"
	"github.com/sessionsvc/sessionsvc/session"
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
		_, badUsage := errors.AsType[*admin.UsageError](err)
		if badConfig || badUsage {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usage is what "sessionsvc --help" prints on stdout, and a mistyped
// command on stderr.
const usage = `usage: sessionsvc [COMMAND]

With no command, serves the site on HOST:PORT until SIGINT or SIGTERM, with
sessions in the store the environment configures (SESSION_TYPE, ...; a .env
file in the working directory adds to the environment).

commands:
  healthcheck         ask the running service's /healthz; exit 0 if it is healthy
  sessions COMMAND    count, list, show or revoke stored sessions
                      ("sessionsvc sessions --help" tells more)
  help, -h, --help    print this text`

// run starts the service and serves until ctx ends, then shuts down
// gracefully; or, if args[1] names a command (see usage), runs that.
// environ is the process environment (a .env file in the working directory
// adds to it; the environment wins). Logs go to stdout.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	// Help and a mistyped command need nothing from the environment.
	switch cmd {
	case "", "healthcheck", "sessions":
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	default:
		return &admin.UsageError{Msg: fmt.Sprintf("unknown command %q\n\n%s", cmd, usage)}
	}
	dotenv, err := config.ReadDotEnv(".env")
	if err != nil {
		return err
	}
	cfg, err := config.Load(append(dotenv, environ...))
	if err != nil {
		return err
	}
	switch cmd {
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "sessions":
		open := func() (*session.Store, error) {
			// Warnings only: what a store tells once at start is for the service's log.
			logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			store, _, err := stores.Open(cfg, stores.Hooks{Logger: logger})
			return store, err
		}
		return admin.Run(ctx, cfg, open, args[2:], stdout)
	}
	logger, logs := logbuf.NewLogger(stdout, cfg.Mode == "release")
	defer logs.Close()
	if cfg.GeneratedSecret {
		logger.Warn("SECRET_KEY is not set: using a random key for this run only; signed cookies will not survive a restart and replicas will not share sessions. Set SECRET_KEY (at least 32 random bytes) before going to production.")
	}

	logKey := derive(cfg.SecretKey, "session ids in logs")
	notify := handlers.SessionEventLogger(logger, logKey)
	var observe func(session.Op, time.Duration, error)
	var m *metrics.Metrics
	if cfg.MetricsAddr != "" {
		m = metrics.New()
		logNotify := notify
		notify = func(ctx context.Context, e session.Event, id, oldID string) {
			logNotify(ctx, e, id, oldID)
			m.CountEvent(ctx, e, id, oldID)
		}
		observe = m.ObserveStore
	}
	store, closeStore, err := stores.Open(cfg, stores.Hooks{Notify: notify, Observe: observe, Logger: logger})
	if err != nil {
		return err
	}
	closeStore = sync.OnceValue(closeStore)
	defer closeStore() // on early returns
	if err := store.Ping(ctx); err != nil {
		logger.Error("session store not reachable at start; serving anyway, session pages answer 503 until it is", "store", cfg.SessionType, "error", err)
	}

	ready := handlers.NewReadiness(store, cfg.SessionType, logger)
	deps := handlers.Deps{
		Logger:         logger,
		Store:          store,
		StoreName:      cfg.SessionType,
		Readiness:      ready,
		CookieName:     cfg.CookieName,
		LogKey:         logKey,
		TrustedProxies: cfg.TrustedProxies,
		HSTSMaxAge:     cfg.HSTSMaxAge,
		CrossOrigin:    cfg.CrossOrigin.CrossOriginProtection,
		ClearSiteData:  cfg.ClearSiteData,
		Debug:          cfg.Mode == "debug",
	}
	if m != nil {
		deps.ObserveRequest = m.ObserveRequest
		if p, ok := store.Backend().(session.PoolReporter); ok {
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
		if metricsSrv, err = serveMetrics(cfg.MetricsAddr, m.Handler(), ready, logger, served); err != nil {
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

// serveMetrics serves metrics at GET /metrics and the readiness details
// (ready) at GET /readyz on a listener of its own at addr (METRICS_ADDR),
// until the returned server is shut down. A failure to serve is sent to
// failed.
func serveMetrics(addr string, metrics, ready http.Handler, logger *slog.Logger, failed chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.Handle("GET /readyz", ready)
	srv := newHTTPServer(mux, logger)
	logger.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return srv, nil
}
