package config

import (
	"strings"
	"testing"
)

func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want string // the error line; "" for none
	}{
		{"", ""},
		{"METRICS_ADDR=127.0.0.1:9090", ""},
		{"METRICS_ADDR=:9090", ""},
		{"METRICS_ADDR=[::1]:9090", ""},
		{"METRICS_ADDR=127.0.0.1:5000\x00HOST=0.0.0.0", `METRICS_ADDR="127.0.0.1:5000": must not share the public address HOST:PORT: metrics need a listener of their own`},
		{"METRICS_ADDR=:5000", `METRICS_ADDR=":5000": must not share the public address HOST:PORT: metrics need a listener of their own`},
		{"METRICS_ADDR=9090", `METRICS_ADDR="9090": want host:port (e.g. 127.0.0.1:9090 or :9090), or empty for no metrics`},
		{"METRICS_ADDR=localhost:metrics", `METRICS_ADDR="localhost:metrics": want host:port (e.g. 127.0.0.1:9090 or :9090), or empty for no metrics`},
		{"METRICS_ADDR=:70000", `METRICS_ADDR=":70000": want host:port (e.g. 127.0.0.1:9090 or :9090), or empty for no metrics`},
	} {
		_, err := Load(strings.Split(tc.env, "\x00"))
		if got := errString(err); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.env, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
