package sessiontest

import (
	"fmt"
	"sync"
	"testing"
)

// Pairs is how many pairs of concurrent requests each concurrency case
// sends.
const Pairs = 1000

// testConcurrent: two requests of one session at the same moment (two
// tabs) never erase each other's changes. Different values both survive;
// the same value ends as one of the two; a removal and an end stay done;
// a renewal keeps the other's change or refuses it visibly (409).
func testConcurrent(t *testing.T, k kind) {
	t.Run("different values both survive", func(t *testing.T) {
		c := &Client{T: t, Base: NewApp(t, k.store(t, nil)).URL}
		c.Do("POST", "/set?v=start")
		lost := 0
		for i := range Pairs {
			email, other := fmt.Sprintf("e%d@example.com", i), fmt.Sprintf("o%d", i)
			a, b := Together(c, "POST", "/set?v="+email, "POST", "/other?v="+other)
			if a.Status != 200 || b.Status != 200 {
				t.Fatalf("pair %d: answers %d %q, %d %q", i, a.Status, a.Body, b.Status, b.Body)
			}
			if c.Do("GET", "/get").Body != email || c.Do("GET", "/other").Body != other {
				lost++
			}
		}
		if lost > 0 {
			t.Errorf("%d of %d pairs lost a change", lost, Pairs)
		}
	})
	t.Run("the same value ends as one of the two", func(t *testing.T) {
		c := &Client{T: t, Base: NewApp(t, k.store(t, nil)).URL}
		c.Do("POST", "/set?v=start")
		for i := range Pairs / 4 {
			x, y := fmt.Sprintf("x%d", i), fmt.Sprintf("y%d", i)
			Together(c, "POST", "/other?v="+x, "POST", "/other?v="+y)
			if got := c.Do("GET", "/other").Body; got != x && got != y {
				t.Fatalf("pair %d: other = %q, want %q or %q", i, got, x, y)
			}
			c.Want("GET", "/get", 200, "start")
		}
	})
	t.Run("a removal survives a change of another value", func(t *testing.T) {
		c := &Client{T: t, Base: NewApp(t, k.store(t, nil)).URL}
		c.Do("POST", "/other?v=start")
		lost := 0
		for i := range Pairs / 4 {
			c.Do("POST", "/set?v=a@example.com")
			other := fmt.Sprintf("o%d", i)
			Together(c, "POST", "/delete", "POST", "/other?v="+other)
			if c.Do("GET", "/get").Body != "" || c.Do("GET", "/other").Body != other {
				lost++
			}
		}
		if lost > 0 {
			t.Errorf("%d of %d pairs lost a change", lost, Pairs/4)
		}
	})
	t.Run("an ended session stays ended", func(t *testing.T) {
		app := NewApp(t, k.store(t, nil))
		back := 0
		for i := range Pairs / 4 {
			c := &Client{T: t, Base: app.URL}
			c.Do("POST", "/set?v=a@example.com")
			Together(c, "POST", "/destroy", "POST", fmt.Sprintf("/other?v=o%d", i))
			if c.Do("GET", "/get").Body != "" || c.Do("GET", "/other").Body != "" {
				back++
			}
		}
		if back > 0 {
			t.Errorf("%d of %d ended sessions came back", back, Pairs/4)
		}
	})
	t.Run("a renewal keeps a concurrent change or refuses it", func(t *testing.T) {
		app := NewApp(t, k.store(t, nil))
		lost, stale := 0, 0
		for i := range Pairs / 4 {
			old := &Client{T: t, Base: app.URL}
			old.Do("POST", "/other?v=start")
			other := fmt.Sprintf("o%d", i)
			login, change := Together(old, "POST", "/login?v=a@example.com", "POST", "/other?v="+other)
			if login.Status != 200 || login.SetCookie == nil {
				t.Fatalf("pair %d: login = %d %q, cookie %v", i, login.Status, login.Body, login.SetCookie)
			}
			renewed := &Client{T: t, Base: app.URL, Cookie: login.SetCookie.Value}
			renewed.Want("GET", "/get", 200, "a@example.com")
			got := renewed.Do("GET", "/other").Body
			switch {
			case change.Status == 409: // refused, visibly: the renewed session has what it had
				if got != "start" {
					t.Fatalf("pair %d: change refused (409), yet the renewed session holds other = %q", i, got)
				}
			case change.Status != 200:
				t.Fatalf("pair %d: change = %d %q", i, change.Status, change.Body)
			case got != other:
				lost++
			}
			// No stale copy under the old ID: it is retired, not a session.
			if old.Do("GET", "/get").Body != "" || old.Do("GET", "/other").Body != "" {
				stale++
			}
		}
		if lost > 0 || stale > 0 {
			t.Errorf("of %d renewals, %d lost a concurrent change answered 200 and %d left a stale copy under the old ID", Pairs/4, lost, stale)
		}
	})
}

// Together sends two requests with c's cookie at the same moment and
// returns their answers; c's cookie is left as it was.
func Together(c *Client, method1, path1, method2, path2 string) (Response, Response) {
	var r1, r2 Response
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, rq := range []struct {
		method, path string
		r            *Response
	}{{method1, path1, &r1}, {method2, path2, &r2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := *c
			<-start
			*rq.r = own.Do(rq.method, rq.path)
		}()
	}
	close(start)
	wg.Wait()
	return r1, r2
}
