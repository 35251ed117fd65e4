package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

// scrape reads the metrics endpoint into series -> value, a series being
// the name with its labels as exposed (`name{a="x",b="y"}`).
func scrape(t *testing.T, u string) map[string]float64 {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s = %s", u, res.Status)
	}
	got := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		got[line[:i]] = v
	}
	return got
}

func TestMetricsMoveWithRequests(t *testing.T) {
	srv := redistest.Start(t) // stopped below
	metricsAddr := "127.0.0.1:" + freePort(t)
	base, logs, stop := startRun(t, "SESSION_TYPE=redis", "SESSION_REDIS="+srv.URL, "METRICS_ADDR="+metricsAddr)
	metricsURL := "http://" + metricsAddr + "/metrics"
	waitForLog(t, logs, "serving metrics")

	before := scrape(t, metricsURL)
	cookie := setEmail(t, base, "alice@example.com")
	for range 3 {
		get(t, base+"/get_email", cookie)
	}
	get(t, base+"/nowhere", "")
	after := scrape(t, metricsURL)

	moved := func(series string, want float64) {
		t.Helper()
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
	moved(`sessionsvc_http_request_duration_seconds_count{method="GET",route="/get_email",status="200"}`, 3)
	moved(`sessionsvc_http_request_duration_seconds_count{method="POST",route="/set_email",status="303"}`, 1)
	moved(`sessionsvc_http_request_duration_seconds_count{method="GET",route="(none)",status="404"}`, 1)
	moved(`sessionsvc_store_operation_duration_seconds_count{op="save"}`, 1)
	moved(`sessionsvc_store_operation_duration_seconds_count{op="load"}`, 3)
	moved(`sessionsvc_store_errors_total{op="load"}`, 0)
	moved(`sessionsvc_sessions_total{event="created"}`, 1)
	if after[`sessionsvc_http_request_duration_seconds_bucket{method="GET",route="/get_email",status="200",le="+Inf"}`] < 3 {
		t.Error("no latency histogram for GET /get_email")
	}
	if after["sessionsvc_redis_pool_active_connections"] < 1 {
		t.Errorf("pool gauge: active %v; want a connection kept", after["sessionsvc_redis_pool_active_connections"])
	}
	for _, s := range []string{"sessionsvc_redis_pool_waiting", "sessionsvc_redis_pool_waits_total", "sessionsvc_redis_pool_wait_seconds_total", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after[s]; !ok {
			t.Errorf("no %s", s)
		}
	}

	// A bad cookie is refused; a store outage is counted as errors.
	get(t, base+"/get_email", "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	srv.Stop()
	if code, _ := get(t, base+"/get_email", cookie); code != 503 {
		t.Errorf("with Redis down: %d, want 503", code)
	}
	before, after = after, scrape(t, metricsURL)
	moved(`sessionsvc_sessions_total{event="refused"}`, 1)
	moved(`sessionsvc_store_errors_total{op="load"}`, 1)
	moved(`sessionsvc_http_request_duration_seconds_count{method="GET",route="/get_email",status="503"}`, 1)

	// The public port does not expose them.
	if code, _ := get(t, base+"/metrics", ""); code != 404 {
		t.Errorf("public GET /metrics = %d, want 404", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(metricsURL); err == nil {
		t.Error("metrics still served after shutdown")
	}
}
