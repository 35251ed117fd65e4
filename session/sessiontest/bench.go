package sessiontest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	gsessions "github.com/gorilla/sessions"

	"github.com/sessionsvc/sessionsvc/session"
)

// Bench measures the store's two halves over the backends newBackend makes
// (nil: cookie sessions), with bare and with signed IDs: Load, a parallel
// Load, Save of a change, and Save of an unchanged session. A store's
// tests run it in a line; compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 10 ./session/... > old.txt
func Bench(b *testing.B, newBackend func(t testing.TB) session.Backend) {
	kinds := []kind{{"cookie", nil, true}}
	if newBackend != nil {
		kinds = []kind{{"bare IDs", newBackend, false}, {"signed", newBackend, true}}
	}
	for _, k := range kinds {
		for name, f := range map[string]func(*testing.B, kind){
			"Load": benchLoad, "LoadParallel": benchLoadParallel, "Save": benchSave, "SaveUnchanged": benchSaveUnchanged,
		} {
			b.Run(k.name+"/"+name, func(b *testing.B) { f(b, k) })
		}
	}
}

// savedSession stores one session holding an email in store and returns a
// request that carries its cookie.
func savedSession(b *testing.B, store *session.Store) *http.Request {
	b.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	gs, _ := store.New(req, CookieName)
	gs.Values["email"] = "alice@example.com"
	w := httptest.NewRecorder()
	if err := store.Save(req, w, gs); err != nil {
		b.Fatal(err)
	}
	req = httptest.NewRequest("GET", "/", nil)
	for _, c := range w.Result().Cookies() {
		req.AddCookie(c)
	}
	return req
}

func load(b *testing.B, store *session.Store, req *http.Request) *gsessions.Session {
	gs, _ := store.New(req, CookieName)
	if gs.Values["email"] != "alice@example.com" { // also what a failed load looks like
		b.Fatalf("loaded %v, want the saved session", gs.Values)
	}
	return gs
}

// benchLoad reads a stored session: cookie check, one backend read,
// decoding. Reads within the refresh interval, as almost all are.
func benchLoad(b *testing.B, k kind) {
	store := k.store(b, nil)
	req := savedSession(b, store)
	b.ReportAllocs()
	for b.Loop() {
		load(b, store, req)
	}
}

// benchLoadParallel is benchLoad from many goroutines at once, as
// a loaded server reads: it shows what the connection pool costs.
func benchLoadParallel(b *testing.B, k kind) {
	store := k.store(b, nil)
	req := savedSession(b, store)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			load(b, store, req)
		}
	})
}

// benchSave writes a loaded session whose email changed: encoding, one
// backend write and, for permanent or cookie sessions, the cookie.
func benchSave(b *testing.B, k kind) {
	store := k.store(b, nil)
	req := savedSession(b, store)
	gs := load(b, store, req)
	emails := [2]string{"bob@example.com", "alice@example.com"}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		gs.Values["email"] = emails[i&1]
		i++
		if err := store.Save(req, w, gs); err != nil {
			b.Fatal(err)
		}
		clear(w.Header())
	}
}

// benchSaveUnchanged saves a loaded session nobody changed, which must
// cost no backend call.
func benchSaveUnchanged(b *testing.B, k kind) {
	store := k.store(b, nil)
	req := savedSession(b, store)
	gs := load(b, store, req)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if err := store.Save(req, w, gs); err != nil {
			b.Fatal(err)
		}
	}
}
