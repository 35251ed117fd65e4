package sessionstore

import (
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzSigner: Verify never panics, and accepts exactly what Sign makes: one
// spelling per signed value.
func FuzzSigner(f *testing.F) {
	s := NewSigner("fuzz", "current", "old")
	f.Add("session", s.Sign("session", NewID()))
	f.Add("session", NewSigner("fuzz", "old").Sign("session", "x.y"))
	f.Add("session", "abc.")
	f.Add("", ".")
	f.Fuzz(func(t *testing.T, name, signed string) {
		value, ok, stale := s.Verify(name, signed)
		if !ok {
			return
		}
		signer := s
		if stale {
			signer = NewSigner("fuzz", "old")
		}
		if again := signer.Sign(name, value); again != signed {
			t.Fatalf("Verify accepted %q, but Sign gives %q", signed, again)
		}
	})
}

// FuzzCookie: any cookie value gives a usable session, never a panic or an
// error, for every kind of store; one that is not a live session gives an
// empty new one.
func FuzzCookie(f *testing.F) {
	dir, err := NewDir(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dir.Close() })
	signer := NewSigner("session", "secret")
	live := NewID()
	dir.Write(f.Context(), Record{Key: live, Data: []byte(`{"email":"a@example.com"}`), TTL: time.Hour})
	renewed := NewID()
	dir.Write(f.Context(), Record{Key: renewed, Data: forwardData(renewed, live, time.Now().Add(time.Hour)), TTL: time.Hour})
	stores := map[string]*Store{}
	for name, cfg := range map[string]Config{
		"dir":        {Backend: dir},
		"dir-signed": {Backend: dir, Signer: signer, HashIDs: true},
		"cookie":     {Signer: signer, AbsoluteLifetime: time.Hour},
	} {
		cfg.Lifetime = time.Hour
		s, err := New(cfg)
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
			st := stateOf(gs)
			if st.err != nil {
				t.Fatalf("%s: load error %v", name, st.err)
			}
			if gs.IsNew && len(gs.Values) != 0 {
				t.Fatalf("%s: a refused cookie left values %v", name, gs.Values)
			}
			w := httptest.NewRecorder()
			gs.Values["k"] = "v"
			if err := s.Save(r, w, gs); err != nil {
				t.Fatalf("%s: Save: %v", name, err)
			}
			if len(w.Result().Cookies()) > 1 {
				t.Fatalf("%s: %d cookies", name, len(w.Result().Cookies()))
			}
		}
	})
}

// FuzzDecodeData: whatever a backend returns, decoding never panics, and
// what decodes encodes again to a value that decodes the same.
func FuzzDecodeData(f *testing.F) {
	f.Add([]byte(`{"email":"a@example.com"}`))
	f.Add([]byte(`{"__created":12,"n":1.5e3,"l":[1,{"x":null}]}`))
	f.Add([]byte(`{"__renewed_to":"AAAA"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"a":1}{"b":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		values := map[any]any{}
		m, err := decodeData(data, values)
		if err != nil {
			return
		}
		again, err := encodeData(values, m.created)
		if err != nil {
			return // reserved or odd keys in foreign data are refused on write
		}
		values2 := map[any]any{}
		if _, err := decodeData(again, values2); err != nil && again != nil {
			t.Fatalf("re-encoded %q does not decode: %v", again, err)
		}
	})
}
