package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
)

// serveMetrics serves h at GET /metrics on a listener of its own at addr
// (METRICS_ADDR), until the returned server is shut down. A failure to
// serve is sent to failed.
func serveMetrics(addr string, h http.Handler, logger *slog.Logger, failed chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := newHTTPServer(mux, logger)
	logger.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return srv, nil
}
