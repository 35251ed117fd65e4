// Package metrics keeps the service's Prometheus metrics, in a registry of
// its own (nothing is registered globally), and serves them for scraping.
//
// Every metric is named sessionsvc_*; the Go runtime's go_* and the
// process's process_* metrics come along.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionsvc/sessionsvc/session"
)

// latencyBuckets suit a service whose requests take well under a
// millisecond when all is well and up to the store timeout when not.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Metrics records what the service does. Its methods are safe for
// concurrent use and cheap enough for every request.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.HistogramVec
	storeOps    map[session.Op]prometheus.Observer
	storeErrors map[session.Op]prometheus.Counter
	sessions    map[session.Event]prometheus.Counter
	statuses    [600]string // "100" to "599", so labelling allocates nothing
}

// New returns Metrics on a new registry that also holds the Go runtime's
// and the process's metrics.
func New() *Metrics {
	m := &Metrics{
		reg:         prometheus.NewRegistry(),
		storeOps:    map[session.Op]prometheus.Observer{},
		storeErrors: map[session.Op]prometheus.Counter{},
		sessions:    map[session.Event]prometheus.Counter{},
	}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sessionsvc_http_request_duration_seconds",
		Help:    "HTTP requests by method, route (the URL pattern, (none) for unknown URLs) and status, with their latency; _count is the number of requests.",
		Buckets: latencyBuckets,
	}, []string{"method", "route", "status"})
	storeOps := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sessionsvc_store_operation_duration_seconds",
		Help:    "Session store operations by kind (load, refresh, save, delete; conflict: a write that found the session changed by another request, and was merged and written again), failed ones included, with their latency.",
		Buckets: latencyBuckets,
	}, []string{"op"})
	storeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionsvc_store_errors_total",
		Help: "Session store operations that failed (store unreachable, timed out or refusing), by kind.",
	}, []string{"op"})
	sessions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionsvc_sessions_total",
		Help: "Session lifecycle events: created, renewed (new ID), destroyed (ended by the user or by an operator), refused (a cookie that was not accepted).",
	}, []string{"event"})
	// Every series exists from the start, at zero, so that rates work from
	// the first scrape.
	for _, op := range []session.Op{session.OpLoad, session.OpRefresh, session.OpSave, session.OpDelete, session.OpConflict} {
		m.storeOps[op] = storeOps.WithLabelValues(string(op))
		m.storeErrors[op] = storeErrors.WithLabelValues(string(op))
	}
	for _, e := range []session.Event{session.Created, session.Renewed, session.Destroyed, session.Refused} {
		m.sessions[e] = sessions.WithLabelValues(string(e))
	}
	for i := 100; i < len(m.statuses); i++ {
		m.statuses[i] = strconv.Itoa(i)
	}
	m.reg.MustRegister(
		m.requests, storeOps, storeErrors, sessions,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format (or OpenMetrics,
// when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// ObserveRequest records one served request. Methods outside the standard
// ones count as OTHER, so clients cannot mint new series.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		method = "OTHER"
	}
	code := "other"
	if status >= 100 && status < len(m.statuses) {
		code = m.statuses[status]
	}
	m.requests.WithLabelValues(method, route, code).Observe(d.Seconds())
}

// ObserveStore records one session store operation; it fits
// session.Config.Observe.
func (m *Metrics) ObserveStore(op session.Op, d time.Duration, err error) {
	if o, ok := m.storeOps[op]; ok {
		o.Observe(d.Seconds())
		if err != nil {
			m.storeErrors[op].Inc()
		}
	}
}

// CountEvent counts one session event; it fits session.Config.Notify.
func (m *Metrics) CountEvent(_ context.Context, e session.Event, _, _ string) {
	if c, ok := m.sessions[e]; ok {
		c.Inc()
	}
}

// WatchPool adds the gauges and counters of a Redis connection pool, read
// from stats at each scrape (nothing is recorded per request).
func (m *Metrics) WatchPool(stats func() session.PoolStats) {
	m.reg.MustRegister(poolCollector{stats})
}

var (
	poolActive = prometheus.NewDesc("sessionsvc_redis_pool_active_connections",
		"Open Redis connections, in use or idle.", nil, nil)
	poolIdle = prometheus.NewDesc("sessionsvc_redis_pool_idle_connections",
		"Idle Redis connections in the pool.", nil, nil)
	poolWaiting = prometheus.NewDesc("sessionsvc_redis_pool_waiting",
		"Callers getting a Redis connection right now; above zero for long, they are waiting for a free one (SESSION_REDIS_POOL_SIZE).", nil, nil)
	poolWaits = prometheus.NewDesc("sessionsvc_redis_pool_waits_total",
		"Redis connections that callers had to wait for, since start.", nil, nil)
	poolWaitSeconds = prometheus.NewDesc("sessionsvc_redis_pool_wait_seconds_total",
		"Total time callers waited for a Redis connection, since start.", nil, nil)
)

// poolCollector reads a pool's figures when scraped.
type poolCollector struct {
	stats func() session.PoolStats
}

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolActive, poolIdle, poolWaiting, poolWaits, poolWaitSeconds} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(poolActive, prometheus.GaugeValue, float64(s.Active))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.Idle))
	ch <- prometheus.MustNewConstMetric(poolWaiting, prometheus.GaugeValue, float64(s.Waiting))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.Waits))
	ch <- prometheus.MustNewConstMetric(poolWaitSeconds, prometheus.CounterValue, s.WaitTime.Seconds())
}
