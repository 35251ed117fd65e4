package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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

// decodeStrings must agree with encoding/json on everything it accepts, and
// accept what encodeData makes of string values.
func FuzzDecodeStrings(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"email":"a@example.com"}`, `{"email":"a@b.c","lang":"zh-CN","theme":"dark"}`,
		`{"a":"}"}`, `{"a":"b","a":"c"}`, `{"a":"\u003c"}`, `{"a":1}`, `{"a":"b",}`, `{"a":"b"`, `{"a" :"b"}`,
		`{"a":"b"}x`, `{"a":"b""c":"d"}`, `{"a":"b\"}`, `{"é":"日本"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}",
		`{"a":"b"} `, `[]`, `{`, `}`, `"a"`, `{"":""}`, `{"a":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast := map[any]any{}
		if !decodeStrings(data, fast) {
			if len(fast) != 0 {
				t.Fatalf("rejected %q but added %v", data, fast)
			}
			return
		}
		slow := map[any]any{}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", data, err)
		}
		for k, v := range m {
			slow[k] = v
		}
		if !maps.Equal(fast, slow) {
			t.Fatalf("%q: decodeStrings %v, encoding/json %v", data, fast, slow)
		}
	})
}

func TestDecodeStringsTakesEncodedSessions(t *testing.T) {
	for _, v := range []map[any]any{
		{"email": "alice@example.com"},
		{"email": "a@b.c", "lang": "zh-CN", "theme": "dark"},
		{"email": "名前@例え.jp"},
	} {
		data, err := encodeData(v, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[any]any{}
		if !decodeStrings(data, got) || !maps.Equal(got, v) {
			t.Errorf("decodeStrings(%s) = %v, want %v", data, got, v)
		}
	}
	// Escapes and non-strings take the general path, with the same result.
	got := map[any]any{}
	if _, err := decodeData([]byte(`{"a":"x\u0026y","n":12345678901234567890}`), got); err != nil || got["a"] != "x&y" || got["n"] != json.Number("12345678901234567890") {
		t.Errorf("decodeData = %v, %v", got, err)
	}
}

// encodeData writes what encoding/json writes, on its fast path for plain
// strings and off it.
func FuzzEncodeData(f *testing.F) {
	f.Add("email", "a@example.com", "lang", "zh-CN", int64(0))
	f.Add("Email", "a@b.c", "0", "x", int64(1700000000))                                  // keys that sort before __created
	for _, c := range []string{"<", ">", "&", `"`, `\\`, "\x00", "\x7f", "é", "\u2028"} { // escaped, or not ASCII
		f.Add("a", "x"+c, "b", "y", int64(-1))
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, created int64) {
		values := map[any]any{k1: v1, k2: v2, "n": "x"}
		want := map[string]any{}
		for k, v := range values {
			if strings.HasPrefix(k.(string), "__") {
				return
			}
			want[k.(string)] = v
		}
		if created > 0 {
			want[createdField] = created
		}
		wantData, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		data, err := encodeData(values, created)
		if err != nil || string(data) != string(wantData) {
			t.Fatalf("encodeData = %s, %v; encoding/json gives %s", data, err, wantData)
		}
	})
}

func TestEncodeDataRefusesReservedAndOddKeys(t *testing.T) {
	for _, values := range []map[any]any{
		{"__created": 1},
		{"__anything": "x"},
		{42: "x"},
	} {
		if _, err := encodeData(values, 0); err == nil {
			t.Errorf("encodeData(%v) succeeded", values)
		}
	}
	data, err := encodeData(map[any]any{"b": "2", "a": "1"}, 17)
	if err != nil || string(data) != `{"__created":17,"a":"1","b":"2"}` {
		t.Errorf("encodeData = %s, %v", data, err)
	}
	values := map[any]any{}
	m, err := decodeData(data, values)
	if err != nil || m.created != 17 || len(values) != 2 || values["a"] != "1" {
		t.Errorf("decodeData = %+v %v, %v", m, values, err)
	}
}

// unsealID is how the previous release reads a forward's new ID.
func unsealID(key, sealed string) string {
	b, err := strictBase64.DecodeString(sealed)
	if err != nil || len(b) != idBytes {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(xorPad(key, b))
}

// TestSealID: a forward hides the new ID, and stays what the previous
// release follows during a rolling deploy.
func TestSealID(t *testing.T) {
	oldID, newID := NewID(), NewID()
	sealed := sealID(oldID, newID)
	if sealed == newID || strings.Contains(string(forwardData(oldID, newID, time.Now())), newID) {
		t.Fatal("sealing did not hide the ID")
	}
	if got := unsealID(oldID, sealed); got != newID {
		t.Errorf("unseal = %q, want %q", got, newID)
	}
	if got := unsealID(NewID(), sealed); got == newID {
		t.Error("another key unsealed it")
	}
	if got := unsealID(oldID, "!!"); got != "" {
		t.Errorf("unseal of garbage = %q", got)
	}
}

func TestChangedKeys(t *testing.T) {
	loaded := []byte(`{"__created":17,"email":"a@example.com","lang":"de","n":3,"tags":["x"]}`)
	for _, tc := range []struct {
		name   string
		values map[any]any
		want   []string
	}{
		{"nothing", map[any]any{"email": "a@example.com", "lang": "de", "n": 3, "tags": []string{"x"}}, nil},
		{"one set", map[any]any{"email": "b@example.com", "lang": "de", "n": 3, "tags": []string{"x"}}, []string{"email"}},
		{"one added", map[any]any{"email": "a@example.com", "lang": "de", "n": 3, "tags": []string{"x"}, "theme": "dark"}, []string{"theme"}},
		{"removed and changed", map[any]any{"email": "a@example.com", "n": 4.0, "tags": []string{"x"}}, []string{"lang", "n"}},
		{"all cleared", map[any]any{}, []string{"email", "lang", "n", "tags"}},
		{"a string becomes a number", map[any]any{"email": "a@example.com", "lang": 1, "n": 3, "tags": []string{"x"}}, []string{"lang"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := changedKeys(loaded, tc.values); got == nil || !slices.Equal(got, tc.want) {
				t.Errorf("changedKeys = %#v, want %q (not nil)", got, tc.want)
			}
		})
	}
}
