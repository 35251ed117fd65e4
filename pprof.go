//go:build pprof

package main

// Built with -tags pprof (scripts/bench.sh --profile does), the binary also
// serves net/http/pprof on PPROF_ADDR (e.g. 127.0.0.1:6060) when that is
// set. Release builds contain none of this.

import (
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
		go func() { log.Println(http.ListenAndServe(addr, nil)) }()
	}
}
