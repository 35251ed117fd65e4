package session

import (
	"testing"
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
