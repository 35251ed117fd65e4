package sessionstore_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	gsessions "github.com/gorilla/sessions"

	"github.com/sessionsvc/sessionsvc/sessionstore"
)

// Benchmarks of the store's two halves, per kind of store, each against a
// real backend (a private redis-server on a unix socket, a temp directory).
// Compare runs with benchstat:
//
//	go test -run '^$' -bench . -count 10 ./sessionstore > old.txt

// savedSession stores one session holding an email in store and returns a
// request that carries its cookie.
func savedSession(b *testing.B, store *sessionstore.Store) *http.Request {
	b.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	gs, _ := store.New(req, cookieName)
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

func load(b *testing.B, store *sessionstore.Store, req *http.Request) *gsessions.Session {
	gs, _ := store.New(req, cookieName)
	if gs.Values["email"] != "alice@example.com" { // also what a failed load looks like
		b.Fatalf("loaded %v, want the saved session", gs.Values)
	}
	return gs
}

// BenchmarkLoad reads a stored session: cookie check, one backend read,
// decoding. Reads within the refresh interval, as almost all are.
func BenchmarkLoad(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			store := k.store(b, nil)
			req := savedSession(b, store)
			b.ReportAllocs()
			for b.Loop() {
				load(b, store, req)
			}
		})
	}
}

// BenchmarkLoadParallel is BenchmarkLoad from many goroutines at once, as
// a loaded server reads: it shows what the connection pool costs.
func BenchmarkLoadParallel(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			store := k.store(b, nil)
			req := savedSession(b, store)
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					load(b, store, req)
				}
			})
		})
	}
}

// BenchmarkSave writes a loaded session whose email changed: encoding, one
// backend write and, for permanent or cookie sessions, the cookie.
func BenchmarkSave(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
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
		})
	}
}

// BenchmarkSaveUnchanged saves a loaded session nobody changed, which must
// cost no backend call.
func BenchmarkSaveUnchanged(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
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
		})
	}
}
