// Package ginmode protects start-up from gin's own reading of GIN_MODE:
// gin panics in its package initializer on any value but debug, release or
// test, before main could report a bad setting. Imported by main, this
// package is initialized first (it needs only os, which gin's dependencies
// need too, so Go's initialization order puts it ahead of gin), records the
// value and gives gin "release", which also keeps gin's own debug printing
// out of the service's logs. config still validates the recorded value.
package ginmode

import "os"

// Raw is GIN_MODE as the process received it; Set tells whether it was set.
var Raw, Set = os.LookupEnv("GIN_MODE")

func init() {
	os.Setenv("GIN_MODE", "release")
}

// Environ is os.Environ with GIN_MODE as the process received it.
func Environ() []string {
	env := os.Environ()
	if Set {
		return append(env, "GIN_MODE="+Raw)
	}
	return append(env, "GIN_MODE=")
}
