package dirstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sessionsvc/sessionsvc/session/dirstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// Two processes sharing one session directory (here two Backends, each
// with its own mutex and its own open lock file) take turns through the
// lock file: concurrent changes of different values, one through each,
// both survive.
func TestProcessesShareTheLock(t *testing.T) {
	dir := t.TempDir()
	var apps [2]string
	for i := range apps {
		b, err := dirstore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		apps[i] = sessiontest.NewApp(t, sessiontest.NewStore(t, b, nil)).URL
	}
	c := &sessiontest.Client{T: t, Base: apps[0]}
	c.Do("POST", "/set?v=start")
	const pairs = 300
	lost := 0
	for i := range pairs {
		email, other := fmt.Sprintf("e%d@example.com", i), fmt.Sprintf("o%d", i)
		var wg sync.WaitGroup
		for j, path := range []string{"/set?v=" + email, "/other?v=" + other} {
			one := &sessiontest.Client{T: t, Base: apps[j], Cookie: c.Cookie}
			wg.Go(func() { one.Do("POST", path) })
		}
		wg.Wait()
		if c.Do("GET", "/get").Body != email || c.Do("GET", "/other").Body != other {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d pairs lost a change", lost, pairs)
	}
}
