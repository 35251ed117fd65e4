package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// handleHealthz answers 200 while the process runs; it touches no store.
func handleHealthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// handleReadyz answers 200 when the session store answers, 503 otherwise.
// The body names the store, its round-trip time, what the store tells
// about itself (Redis: the server's address; with Sentinel, the current
// master's) and, on failure, the error. None of it holds a password: URLs
// are not part of store errors, and addresses carry no credentials.
func (s *server) handleReadyz(c *gin.Context) {
	start := time.Now()
	err := s.Store.Ping(c.Request.Context())
	body := gin.H{"store": s.StoreName, "latency_ms": float64(time.Since(start).Microseconds()) / 1000}
	for k, v := range s.Store.Describe() {
		body[k] = v
	}
	if err != nil {
		body["status"], body["error"] = "unavailable", err.Error()
		c.JSON(http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ready"
	c.JSON(http.StatusOK, body)
}
