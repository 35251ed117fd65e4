package sessionstore_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/sessionstore"
)

// newInspectApp serves POST /set?v= (stores email) and GET /inspect (the
// session's Snapshot as JSON) over store.
func newInspectApp(t *testing.T, store *sessionstore.Store) *httptest.Server {
	t.Helper()
	r := gin.New()
	r.Use(sessions.Sessions(cookieName, store))
	r.POST("/set", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("email", c.Query("v"))
		if err := sessionstore.Save(s); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/inspect", func(c *gin.Context) {
		snap, err := store.Inspect(c.Request.Context(), sessions.Default(c))
		if err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.JSON(http.StatusOK, snap)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func inspect(t *testing.T, c *client) sessionstore.Snapshot {
	t.Helper()
	r := c.do("GET", "/inspect")
	if r.status != http.StatusOK {
		t.Fatalf("GET /inspect = %d %s", r.status, r.body)
	}
	var snap sessionstore.Snapshot
	if err := json.Unmarshal([]byte(r.body), &snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestInspect(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			srv := newInspectApp(t, k.store(t, nil))
			c := &client{t: t, base: srv.URL}
			if got := inspect(t, c); got != (sessionstore.Snapshot{}) {
				t.Errorf("no session: %+v, want the zero Snapshot", got)
			}

			c.want("POST", "/set?v=a@example.com", 200, "ok")
			got := inspect(t, c)
			if got.Values != `{"email":"a@example.com"}` {
				t.Errorf("Values = %q", got.Values)
			}
			if k.backend == nil {
				if got.ID != "" || got.Key != "" || got.TTLKnown {
					t.Errorf("cookie session: %+v, want only Values", got)
				}
				return
			}
			if got.ID == "" || !strings.HasPrefix(c.cookie, got.ID) {
				t.Errorf("ID = %q, cookie %q", got.ID, c.cookie)
			}
			if !strings.HasSuffix(got.Key, got.ID) || got.Key == got.ID {
				t.Errorf("Key = %q, want a prefix or directory and the ID", got.Key)
			}
			if !got.TTLKnown || got.TTL <= time.Hour-time.Minute || got.TTL > time.Hour {
				t.Errorf("TTL = %v (known %v), want just under the hour's lifetime", got.TTL, got.TTLKnown)
			}
		})
	}
}

func TestInspectRedis(t *testing.T) {
	srv := redistest.Start(t)
	app := newInspectApp(t, redisStore(t, srv, nil))
	c := &client{t: t, base: app.URL}
	c.want("POST", "/set?v=a@example.com", 200, "ok")
	if got := inspect(t, c); got.Key != "session:"+c.cookie {
		t.Errorf("Key = %q, want session:<cookie>", got.Key)
	}

	srv.Do("PERSIST", "session:"+c.cookie)
	if got := inspect(t, c); !got.TTLKnown || got.TTL >= 0 {
		t.Errorf("after PERSIST: TTL = %v (known %v), want negative", got.TTL, got.TTLKnown)
	}

	srv.Stop()
	if r := c.do("GET", "/inspect"); r.status != http.StatusServiceUnavailable {
		t.Errorf("Redis down: GET /inspect = %d %s, want 503", r.status, r.body)
	}
}
