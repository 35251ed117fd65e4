package sessionstore

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"unicode/utf8"
)

// idBytes is the number of random bytes in a session ID: 256 bits.
const idBytes = 32

// idLen is the length of an encoded session ID (unpadded base64url).
var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

// NewID returns a fresh session ID: 32 bytes from crypto/rand, base64url
// encoded without padding (43 characters).
func NewID() string {
	var b [idBytes]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID reports whether s has the shape of an ID made by NewID, so that
// garbage never reaches the backend.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// strictBase64 rejects encodings with non-zero padding bits, so a signed
// value has exactly one spelling.
var strictBase64 = base64.RawURLEncoding.Strict()

// Signer makes and checks HMAC-SHA256 signatures with a current key and any
// number of older keys that still verify (key rotation). It is safe for
// concurrent use.
type Signer struct {
	macs []*MACPool // macs[0] signs; all verify
}

// NewSigner derives one signing key per secret for the given purpose, so the
// same secret used elsewhere never yields the same MAC. The first secret
// signs; the others only verify.
func NewSigner(purpose string, secrets ...string) *Signer {
	s := &Signer{}
	for _, secret := range secrets {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(purpose))
		s.macs = append(s.macs, NewMACPool(m.Sum(nil)))
	}
	return s
}

// Sign returns value + "." + the base64url MAC of name and value. Binding the
// cookie name stops a value signed for one cookie being replayed in another.
func (s *Signer) Sign(name, value string) string {
	m := s.macs[0].Get()
	defer s.macs[0].Put(m)
	b := make([]byte, 0, len(value)+1+base64.RawURLEncoding.EncodedLen(sha256.Size))
	b = append(append(b, value...), '.')
	return string(base64.RawURLEncoding.AppendEncode(b, m.Sum(name, "=", value)))
}

// Verify checks a value made by Sign with any of the keys. It returns the
// value, whether it verified, and whether it verified only with an older key
// (so the caller should sign it again with the current one).
func (s *Signer) Verify(name, signed string) (value string, ok, stale bool) {
	i := strings.LastIndexByte(signed, '.')
	if i < 0 || len(signed)-i-1 != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return "", false, false
	}
	value = signed[:i]
	var got [sha256.Size]byte
	if _, err := strictBase64.Decode(got[:], []byte(signed[i+1:])); err != nil {
		return "", false, false
	}
	for n, pool := range s.macs {
		m := pool.Get()
		ok := hmac.Equal(got[:], m.Sum(name, "=", value))
		pool.Put(m)
		if ok {
			return value, true, n > 0
		}
	}
	return "", false, false
}

// MACPool reuses HMAC-SHA256 states keyed with one key: making one costs
// two SHA-256 blocks and several allocations, reusing one nothing. It is
// safe for concurrent use.
type MACPool struct{ pool sync.Pool }

// NewMACPool returns a pool of HMAC-SHA256 states keyed with key.
func NewMACPool(key []byte) *MACPool {
	p := &MACPool{}
	p.pool.New = func() any { return &MAC{h: hmac.New(sha256.New, key)} }
	return p
}

// Get returns a MAC from the pool; Put it back when its Sum is no longer
// needed.
func (p *MACPool) Get() *MAC { return p.pool.Get().(*MAC) }

// Put returns m to the pool.
func (p *MACPool) Put(m *MAC) { p.pool.Put(m) }

// MAC is a reusable keyed HMAC-SHA256 state.
type MAC struct {
	h        hash.Hash
	buf, sum []byte
}

// Sum returns the MAC of the concatenated parts. The result is valid until
// the next Sum or Put.
func (m *MAC) Sum(parts ...string) []byte {
	m.buf = m.buf[:0]
	for _, p := range parts {
		m.buf = append(m.buf, p...)
	}
	m.h.Reset()
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	return m.sum
}

// ErrTooLarge is returned by Save when the encoded session exceeds the
// store's size limit. Nothing is written.
var ErrTooLarge = errors.New("session too large")

// encodeValues serializes session values as a JSON object with sorted keys,
// so that equal values always give equal bytes. Keys must be strings; values
// anything encoding/json accepts. The store's own bookkeeping is skipped.
func encodeValues(values map[any]any) ([]byte, error) {
	m := make(map[string]any, len(values))
	for k, v := range values {
		switch k := k.(type) {
		case string:
			m[k] = v
		case stateKey:
		default:
			return nil, fmt.Errorf("session key %v: only string keys can be stored", k)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

// decodeValues parses what encodeValues made. Numbers come back as
// json.Number, so that decoding and encoding again gives the same bytes.
func decodeValues(data []byte, values map[any]any) error {
	if decodeStrings(data, values) {
		return nil
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return fmt.Errorf("decode session: %w", err)
	}
	for k, v := range m {
		values[k] = v
	}
	return nil
}

// decodeStrings decodes, without reflection, the JSON that sessions almost
// always hold: one object whose keys and values are plain strings
// ({"email":"a@example.com"}), with no escapes, no spaces and valid UTF-8.
// It reports false, having added nothing, for anything else, which
// encoding/json then decodes with the same result.
func decodeStrings(data []byte, values map[any]any) bool {
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' || !utf8.Valid(data) {
		return false
	}
	var kv []string // key, value, key, value...
	for i := 1; i < len(data)-1; {
		if len(kv) > 0 {
			if data[i] != ',' {
				return false
			}
			i++
		}
		key, n := plainString(data[i:])
		if n == 0 || i+n >= len(data)-1 || data[i+n] != ':' {
			return false
		}
		i += n + 1
		value, n := plainString(data[i:])
		if n == 0 {
			return false
		}
		i += n
		kv = append(kv, key, value)
	}
	for j := 0; j < len(kv); j += 2 {
		values[kv[j]] = kv[j+1]
	}
	return true
}

// plainString reads a JSON string at the start of b that has no escapes
// and no control characters, returning it and the bytes it took (0: none).
func plainString(b []byte) (string, int) {
	if len(b) < 2 || b[0] != '"' {
		return "", 0
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return string(b[1:i]), i + 1
		case c == '\\' || c < 0x20:
			return "", 0
		}
	}
	return "", 0
}
