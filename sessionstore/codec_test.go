package sessionstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
)

func TestSigner(t *testing.T) {
	current := NewSigner("session", "new", "old")
	signed := current.Sign("session", "id-1")
	byOld := NewSigner("session", "old").Sign("session", "id-1")

	// The MAC is HMAC-SHA256(HMAC-SHA256(secret, purpose), name "=" value).
	k := hmac.New(sha256.New, []byte("new"))
	k.Write([]byte("session"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte("session=id-1"))
	if want := "id-1." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)); signed != want {
		t.Fatalf("Sign = %q, want %q", signed, want)
	}

	flip := []byte(signed)
	flip[len(flip)-2] ^= 1
	for _, tc := range []struct {
		name, cookie, signed string
		ok, stale            bool
	}{
		{"current key", "session", signed, true, false},
		{"older key", "session", byOld, true, true},
		{"other cookie name", "other", signed, false, false},
		{"tampered value", "session", "id-2" + signed[4:], false, false},
		{"tampered MAC", "session", string(flip), false, false},
		{"no MAC", "session", "id-1", false, false},
		{"short MAC", "session", signed[:len(signed)-1], false, false},
		{"long MAC", "session", signed + "A", false, false},
		{"MAC not base64", "session", signed[:len(signed)-1] + "*", false, false},
		{"unknown key", "session", NewSigner("session", "other").Sign("session", "id-1"), false, false},
		{"other purpose", "session", NewSigner("cookie", "new").Sign("session", "id-1"), false, false},
	} {
		value, ok, stale := current.Verify(tc.cookie, tc.signed)
		if ok != tc.ok || stale != tc.stale || ok && value != "id-1" {
			t.Errorf("%s: Verify = %q, %v, %v; want ok %v stale %v", tc.name, value, ok, stale, tc.ok, tc.stale)
		}
	}
}

func TestSignerConcurrent(t *testing.T) {
	s := NewSigner("session", "new", "old")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				v := strings.Repeat("x", g+i%7)
				if got, ok, _ := s.Verify("session", s.Sign("session", v)); !ok || got != v {
					t.Errorf("round trip of %q = %q, %v", v, got, ok)
					return
				}
			}
		})
	}
	wg.Wait()
}
