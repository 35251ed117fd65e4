package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/dirstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

// Cookie sessions are the core's own: they have no backend.
func TestConformance(t *testing.T) { sessiontest.Run(t, nil) }

// FuzzCookie: any cookie value gives a usable session, never a panic or an
// error (but ErrRetired, for a retired ID, with no cookie), for every kind
// of store; one that is not a live session gives an empty new one.
func FuzzCookie(f *testing.F) {
	dir, err := dirstore.New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dir.Close() })
	signer := session.NewSigner("session", "secret")
	live := session.NewID()
	dir.Write(f.Context(), session.Record{Key: live, Data: []byte(`{"email":"a@example.com"}`), TTL: time.Hour})
	renewed := session.NewID()
	dir.Write(f.Context(), session.Record{Key: renewed, Data: session.ForwardData(renewed, live, time.Now().Add(time.Hour)), TTL: time.Hour})
	stores := map[string]*session.Store{}
	for name, cfg := range map[string]session.Config{
		"dir":        {Backend: dir},
		"dir-signed": {Backend: dir, Signer: signer, HashIDs: true},
		"cookie":     {Signer: signer, AbsoluteLifetime: time.Hour},
	} {
		cfg.Lifetime = time.Hour
		s, err := session.New(cfg)
		if err != nil {
			f.Fatal(err)
		}
		stores[name] = s
	}
	f.Add(live)
	f.Add(renewed)
	f.Add(signer.Sign("session", live))
	f.Add(signer.Sign("session", "eyJlbWFpbCI6ImFAYi5jIn0.99999999999"))
	f.Add(signer.Sign("session", "bnVsbA.99999999999")) // JSON null
	f.Add("%00\xff;,=")
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", "session="+value)
		for name, s := range stores {
			gs, err := s.Get(r, "session")
			if err != nil || gs == nil || gs.Values == nil {
				t.Fatalf("%s: Get = %v, %v", name, gs, err)
			}
			if gs.IsNew && len(gs.Values) != 0 {
				t.Fatalf("%s: a refused cookie left values %v", name, gs.Values)
			}
			w := httptest.NewRecorder()
			gs.Values["k"] = "v"
			err = s.Save(r, w, gs)
			if errors.Is(err, session.ErrRetired) && len(w.Result().Cookies()) != 0 {
				t.Fatalf("%s: a retired ID's save sent a cookie", name)
			}
			if err != nil && !errors.Is(err, session.ErrRetired) {
				t.Fatalf("%s: Save: %v", name, err)
			}
			if len(w.Result().Cookies()) > 1 {
				t.Fatalf("%s: %d cookies", name, len(w.Result().Cookies()))
			}
		}
	})
}

func BenchmarkStore(b *testing.B) { sessiontest.Bench(b, nil) }

// busy is a real store into which another request always writes first:
// before each conditional write it stores a new value under that key.
type busy struct {
	*dirstore.Backend
	n int
}

func (b *busy) Write(ctx context.Context, recs ...session.Record) error {
	for _, r := range recs {
		if r.Loaded != nil {
			b.n++
			b.Backend.Write(ctx, session.Record{Key: r.Key, Data: fmt.Appendf(nil, `{"other":"%d"}`, b.n), TTL: time.Hour})
		}
	}
	return b.Backend.Write(ctx, recs...)
}

// TestSaveGivesUpOnEndlessConflicts: a save that finds the session changed
// by others at every try gives up after a bounded number of tries, as the
// store being unavailable (503), having written nothing of its own. Each
// try is observed as a conflict, not as a failure of the store.
func TestSaveGivesUpOnEndlessConflicts(t *testing.T) {
	dir, err := dirstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	b := &busy{Backend: dir}
	var mu sync.Mutex
	observed := map[session.Op]int{}
	store := sessiontest.NewStore(t, b, func(c *session.Config) {
		c.Observe = func(op session.Op, _ time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			observed[op]++
			if err != nil {
				t.Errorf("%s observed with error %v", op, err)
			}
		}
	})
	c := &sessiontest.Client{T: t, Base: sessiontest.NewApp(t, store).URL}
	c.Do("POST", "/set?v=a@example.com")
	c.Want("POST", "/set?v=b@example.com", 503, "unavailable")
	if b.n != 11 {
		t.Errorf("%d tries, want 11", b.n)
	}
	mu.Lock()
	if observed[session.OpConflict] != 11 || observed[session.OpSave] != 1 {
		t.Errorf("observed %v, want 11 conflicts and the first save", observed)
	}
	mu.Unlock()
	c.Want("GET", "/get", 200, "") // the other request's last value only
	c.Want("GET", "/other", 200, "11")
}
