package session

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
	return len(s) == idLen && base64urlOnly(s)
}

// strictBase64 rejects encodings with non-zero padding bits, so a signed
// value has exactly one spelling.
var strictBase64 = base64.RawURLEncoding.Strict()

// Signer makes and checks HMAC-SHA256 signatures with a current key and any
// number of older keys that still verify (key rotation). It is safe for
// concurrent use.
type Signer struct {
	macs []*macPool // macs[0] signs; all verify
}

// NewSigner derives one signing key per secret for the given purpose, so the
// same secret used elsewhere never yields the same MAC. The first secret
// signs; the others only verify.
func NewSigner(purpose string, secrets ...string) *Signer {
	s := &Signer{}
	for _, secret := range secrets {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(purpose))
		s.macs = append(s.macs, newMACPool(m.Sum(nil)))
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

// macPool reuses HMAC-SHA256 states keyed with one key: making one costs
// two SHA-256 blocks and several allocations, reusing one nothing. It is
// safe for concurrent use.
type macPool struct{ pool sync.Pool }

// newMACPool returns a pool of HMAC-SHA256 states keyed with key.
func newMACPool(key []byte) *macPool {
	p := &macPool{}
	p.pool.New = func() any { return &mac{h: hmac.New(sha256.New, key)} }
	return p
}

// Get returns a MAC from the pool; Put it back when its Sum is no longer
// needed.
func (p *macPool) Get() *mac { return p.pool.Get().(*mac) }

// Put returns m to the pool.
func (p *macPool) Put(m *mac) { p.pool.Put(m) }

// mac is a reusable keyed HMAC-SHA256 state.
type mac struct {
	h        hash.Hash
	buf, sum []byte
}

// Sum returns the MAC of the concatenated parts. The result is valid until
// the next Sum or Put.
func (m *mac) Sum(parts ...string) []byte {
	m.buf = m.buf[:0]
	for _, p := range parts {
		m.buf = append(m.buf, p...)
	}
	m.h.Reset()
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	return m.sum
}

// ErrRetired is returned by Save for a session whose cookie names an ID
// retired by a renewal moments ago (see Config.RenewGrace): the browser
// has a newer cookie, or the ID was planted. Nothing is written, and no
// cookie is sent.
var ErrRetired = errors.New("session ID retired by a renewal")

// ErrTooLarge is returned by Save when the encoded session exceeds the
// store's size limit. Nothing is written.
var ErrTooLarge = errors.New("session too large")

// Keys of the store's own fields in a session's data. Names starting with
// "__" are reserved: handlers cannot store them.
const (
	createdField      = "__created"       // unix seconds, kept with an absolute lifetime
	renewedToField    = "__renewed_to"    // a renewed session's old record: the sealed new ID
	renewedUntilField = "__renewed_until" // and the end of its grace period, unix ms (a string)
)

// meta is the store's own part of a session's data.
type meta struct {
	created      int64
	renewedTo    string
	renewedUntil int64 // 0 in forwards written before it was kept
}

// encodeData serializes session values, plus the creation time when
// created > 0, as a JSON object with sorted keys, so that equal sessions
// always give equal bytes. It returns nil for a session with no values.
// Keys must be strings; values anything encoding/json accepts.
func encodeData(values map[any]any, created int64) ([]byte, error) {
	var pairs [8][2]string // key and value, while all are plain strings
	n, plain := 0, true
	for k, v := range values {
		switch k := k.(type) {
		case string:
			if strings.HasPrefix(k, "__") {
				return nil, fmt.Errorf("session key %q: names starting with __ are reserved", k)
			}
			s, ok := v.(string)
			if plain = plain && ok && n < len(pairs)-1 && needsNoEscape(k) && needsNoEscape(s); plain {
				pairs[n] = [2]string{k, s}
			}
			n++
		default:
			return nil, fmt.Errorf("session key %v: only string keys can be stored", k)
		}
	}
	if n == 0 {
		return nil, nil
	}
	if plain {
		return encodeStrings(pairs[:n], created), nil
	}
	m := make(map[string]any, n+1)
	for k, v := range values {
		if k, ok := k.(string); ok {
			m[k] = v
		}
	}
	if created > 0 {
		m[createdField] = created
	}
	return json.Marshal(m)
}

// encodeStrings writes, without reflection, what json.Marshal writes for
// the values almost all sessions hold: string keys and values that need no
// escaping. pairs has room for one more, the creation time's.
func encodeStrings(pairs [][2]string, created int64) []byte {
	size := len("{}")
	for _, p := range pairs {
		size += len(p[0]) + len(p[1]) + len(`"":"",`)
	}
	if created > 0 {
		pairs = append(pairs, [2]string{createdField, strconv.FormatInt(created, 10)})
		size += len(createdField) + 24
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	b := make([]byte, 1, size)
	b[0] = '{'
	for _, p := range pairs {
		b = append(append(append(b, '"'), p[0]...), `":`...)
		if p[0] == createdField {
			b = append(append(b, p[1]...), ',')
		} else {
			b = append(append(append(b, '"'), p[1]...), `",`...)
		}
	}
	b[len(b)-1] = '}'
	return b
}

// needsNoEscape reports whether json.Marshal writes s as it is, in quotes.
func needsNoEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodeData parses what encodeData or forwardData made into values and
// the store's meta. Numbers come back as json.Number, so that decoding and
// encoding again gives the same bytes.
func decodeData(data []byte, values map[any]any) (meta, error) {
	if decodeStrings(data, values) {
		var md meta
		for _, f := range []string{renewedToField, renewedUntilField} {
			if v, ok := values[f]; ok {
				md.set(f, v)
				delete(values, f)
			}
		}
		return md, nil
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return meta{}, fmt.Errorf("decode session: %w", err)
	}
	var md meta
	for k, v := range m {
		if !md.set(k, v) {
			values[k] = v
		}
	}
	return md, nil
}

// set takes v as the store's own field k, or reports false when k is not
// one.
func (md *meta) set(k string, v any) bool {
	switch k {
	case createdField:
		n, _ := v.(json.Number)
		md.created, _ = n.Int64()
	case renewedToField:
		md.renewedTo, _ = v.(string)
	case renewedUntilField:
		s, _ := v.(string)
		md.renewedUntil, _ = strconv.ParseInt(s, 10, 64)
	default:
		return false
	}
	return true
}

// forwardData is what a renewed session's old key holds during the grace
// period, which ends at until. It names the new ID, sealed with the old one
// so that a copy of the backend (which, with hashed keys, does not hold the
// old ID) cannot read it, in the format the previous release reads, so
// that replicas of both can serve side by side during a rolling deploy.
func forwardData(oldID, newID string, until time.Time) []byte {
	// base64url and digits need no JSON escaping.
	return []byte(`{"` + renewedToField + `":"` + sealID(oldID, newID) + `","` +
		renewedUntilField + `":"` + strconv.FormatInt(until.UnixMilli(), 10) + `"}`)
}

// sealID XORs the bytes of id with a pad derived from key. This release
// never unseals (see Store.retire); the previous one follows a forward by
// applying the same pad again.
func sealID(key, id string) string {
	b, _ := base64.RawURLEncoding.DecodeString(id)
	return base64.RawURLEncoding.EncodeToString(xorPad(key, b))
}

func xorPad(key string, b []byte) []byte {
	pad := sha256.Sum256([]byte("renewed session\x00" + key))
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[i] ^ pad[i%len(pad)]
	}
	return out
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
	var buf [8]string
	kv := buf[:0] // key, value, key, value...
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

// changedKeys returns, sorted, the names of the values that differ between
// the encoded session loaded and values: added, changed or removed; never
// nil. values holds string keys only (it was encoded). Values compare by
// their JSON.
func changedKeys(loaded []byte, values map[any]any) []string {
	old := map[any]any{}
	decodeData(loaded, old) // undecodable: every value counts as changed
	keys := []string{}
	for k, v := range values {
		if ov, ok := old[k]; !ok || !sameJSON(ov, v) {
			keys = append(keys, k.(string))
		}
	}
	for k := range old {
		if _, ok := values[k]; !ok {
			keys = append(keys, k.(string))
		}
	}
	slices.Sort(keys)
	return keys
}

// sameJSON reports whether a and b encode to the same JSON.
func sameJSON(a, b any) bool {
	if sa, ok := a.(string); ok {
		sb, ok := b.(string)
		return ok && sa == sb
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
