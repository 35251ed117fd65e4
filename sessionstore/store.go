// Package sessionstore keeps sessions for github.com/gin-contrib/sessions:
// on the server in Redis or in a directory, or client-side in a signed
// cookie. Handlers use the gin-contrib Session API; this package adds the
// few things that API lacks (load errors, cookie refresh) as functions on a
// sessions.Session.
//
// Server-side sessions follow the OWASP rules the stock backends miss: IDs
// are 256 random bits; an ID the backend does not know is never adopted; a
// visitor who stores nothing gets no cookie and no record; a request that
// only reads costs one backend call.
package sessionstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"
)

// Backend keeps encoded sessions on the server. Implementations are safe for
// concurrent use.
type Backend interface {
	// Load returns the record stored under id. found is false, with a nil
	// error, when there is none (never stored, expired or deleted). When
	// refresh is positive the record's expiry is pushed to refresh from now.
	Load(ctx context.Context, id string, refresh time.Duration) (data []byte, found bool, err error)
	// Save stores data under id, to expire after ttl.
	Save(ctx context.Context, id string, data []byte, ttl time.Duration) error
	// Delete removes the record under id; a missing record is not an error.
	Delete(ctx context.Context, id string) error
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// ErrUnavailable wraps every failure of the backend, so that callers can tell
// "the store is down" (answer 503) from bad input.
var ErrUnavailable = errors.New("session store unavailable")

// maxCookieLen bounds the cookie values the store will look at; browsers keep
// at most 4096 bytes per cookie anyway.
const maxCookieLen = 4096

// Config configures a Store.
type Config struct {
	// Backend keeps the sessions. Nil keeps them in the cookie itself, signed
	// with Signer (the client can read but not change them).
	Backend Backend
	// Signer, when set, signs the cookie. Required without a Backend; with
	// one, nil means the cookie is the bare session ID.
	Signer *Signer
	// Lifetime is how long a session lives on the server after its last
	// write (or refresh), and the Max-Age of a permanent cookie.
	Lifetime time.Duration
	// Permanent gives the cookie a Max-Age of Lifetime. False makes it a
	// browser-session cookie (no Max-Age, no Expires); the server copy still
	// expires after Lifetime.
	Permanent bool
	// Refresh pushes the server copy's expiry (and a permanent cookie's) back
	// on reads. To keep reads at one backend call, a session is refreshed at
	// most once per Lifetime/100 by each process.
	Refresh bool
	// Path, Domain, Secure, HttpOnly and SameSite are the cookie attributes.
	Path     string
	Domain   string
	Secure   bool
	HttpOnly bool
	SameSite http.SameSite
	// MaxSize limits the encoded session in bytes; Save refuses larger ones
	// with ErrTooLarge. Zero means 4096.
	MaxSize int
	// Timeout bounds each backend call. Zero means one second.
	Timeout time.Duration
}

// Store is a gin-contrib/sessions Store. Create it with New.
type Store struct {
	cfg     Config
	cookie  gsessions.Options // cookie template; MaxAge 0 = browser session
	refresh *refreshMemo      // nil when Config.Refresh is false or sessions live in cookies
}

// New returns a Store. It fails when the configuration cannot work, such as
// client-side sessions without a Signer.
func New(cfg Config) (*Store, error) {
	if cfg.Backend == nil && cfg.Signer == nil {
		return nil, errors.New("cookie sessions need a signer")
	}
	if cfg.Lifetime <= 0 {
		return nil, errors.New("session lifetime must be positive")
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 4096
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	s := &Store{cfg: cfg}
	if cfg.Refresh && cfg.Backend != nil {
		s.refresh = newRefreshMemo(cfg.Lifetime / 100)
	}
	s.cookie = gsessions.Options{Path: cfg.Path, Domain: cfg.Domain, Secure: cfg.Secure, HttpOnly: cfg.HttpOnly, SameSite: cfg.SameSite}
	if cfg.Permanent {
		s.cookie.MaxAge = int(cfg.Lifetime / time.Second)
	}
	return s, nil
}

// Options replaces the cookie attributes. MaxAge > 0 makes the cookie
// permanent with that Max-Age; 0 makes it a browser-session cookie. The
// server-side lifetime is not changed.
func (s *Store) Options(o sessions.Options) {
	s.cookie = *o.ToGorillaOptions()
}

// Ping reports whether the backend answers; cookie sessions always do.
func (s *Store) Ping(ctx context.Context) error {
	if s.cfg.Backend == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.cfg.Backend.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close closes the backend.
func (s *Store) Close() error {
	if s.cfg.Backend == nil {
		return nil
	}
	return s.cfg.Backend.Close()
}

// stateKey is the Values key of the store's bookkeeping. Being unexported,
// no caller can collide with it, and encodeValues leaves it out.
type stateKey struct{}

// state is what the store remembers about a session between load and save.
type state struct {
	err       error  // the load failed: the session must not be saved
	loaded    []byte // the encoded values as loaded, to skip unchanged writes
	cookieDue bool   // the cookie should be sent again (refreshed, or signed with an old key)
	destroy   bool   // Destroy was called
}

// Get returns the request's session: the one its cookie names, or a new
// empty one when the cookie is missing, malformed, badly signed or names a
// session the backend does not have. A backend failure is not returned
// here (gin-contrib would only log it): Err reports it.
func (s *Store) Get(r *http.Request, name string) (*gsessions.Session, error) {
	return s.New(r, name)
}

// New is Get; gorilla's Store interface requires both.
func (s *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	gs := gsessions.NewSession(s, name)
	opts := s.cookie
	gs.Options = &opts
	gs.IsNew = true
	st := &state{}
	gs.Values[stateKey{}] = st

	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > maxCookieLen {
		return gs, nil
	}
	value := c.Value
	if s.cfg.Signer != nil {
		var ok bool
		if value, ok, st.cookieDue = s.cfg.Signer.Verify(name, value); !ok {
			return gs, nil
		}
	}
	if s.cfg.Backend == nil {
		s.loadCookie(gs, st, value)
		return gs, nil
	}
	if !validID(value) {
		return gs, nil
	}

	var refresh time.Duration
	now := time.Now()
	if s.refresh != nil && s.refresh.due(value, now) {
		refresh = s.cfg.Lifetime
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	data, found, err := s.cfg.Backend.Load(ctx, value, refresh)
	if err != nil {
		st.err = fmt.Errorf("%w: load session: %w", ErrUnavailable, err)
		return gs, nil
	}
	if !found || decodeValues(data, gs.Values) != nil {
		// Unknown IDs are never adopted, and an undecodable record is as
		// good as none: the visitor starts afresh under a new ID.
		return gs, nil
	}
	if refresh > 0 {
		s.refresh.done(value, now)
		st.cookieDue = st.cookieDue || s.cfg.Permanent
	}
	gs.ID, gs.IsNew, st.loaded = value, false, data
	return gs, nil
}

// loadCookie decodes a client-side session: base64url(JSON) "." expiry.
func (s *Store) loadCookie(gs *gsessions.Session, st *state, value string) {
	payload, exp, ok := cutLast(value, '.')
	if !ok {
		return
	}
	deadline, err := strconv.ParseInt(exp, 10, 64)
	now := time.Now().Unix()
	if err != nil || now >= deadline {
		return
	}
	data, err := strictBase64.DecodeString(payload)
	if err != nil || decodeValues(data, gs.Values) != nil {
		return
	}
	// The deadline inside the cookie is the session's server-enforced expiry;
	// refreshing means issuing the cookie again, at most once per 1/100 of
	// the lifetime.
	lifetime := int64(s.cfg.Lifetime / time.Second)
	if s.cfg.Refresh && deadline-now < lifetime-lifetime/100 {
		st.cookieDue = true
	}
	gs.IsNew, st.loaded = false, data
}

// Save writes the session and its cookie. An empty session is deleted (or,
// when new, never created); MaxAge < 0 in its options destroys it. Unchanged
// values are not written again. A session whose load failed is never
// written: Save returns the load error.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, gs *gsessions.Session) error {
	st, _ := gs.Values[stateKey{}].(*state)
	if st == nil { // gin-contrib's Clear removed it; assume nothing
		st = &state{}
		gs.Values[stateKey{}] = st
	}
	if st.err != nil {
		return st.err
	}
	data, err := encodeValues(gs.Values)
	if err != nil {
		return err
	}
	if st.destroy || gs.Options.MaxAge < 0 || data == nil {
		return s.destroy(r.Context(), w, gs, st)
	}
	if len(data) > s.cfg.MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), s.cfg.MaxSize)
	}
	if s.cfg.Backend == nil {
		exp := time.Now().Add(s.cfg.Lifetime).Unix()
		value := base64.RawURLEncoding.EncodeToString(data) + "." + strconv.FormatInt(exp, 10)
		return s.setCookie(w, gs, value)
	}

	changed := gs.IsNew || !bytes.Equal(data, st.loaded)
	if changed {
		if gs.IsNew {
			gs.ID = NewID()
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		if err := s.cfg.Backend.Save(ctx, gs.ID, data, s.cfg.Lifetime); err != nil {
			return fmt.Errorf("%w: save session: %w", ErrUnavailable, err)
		}
		if s.refresh != nil {
			s.refresh.done(gs.ID, time.Now())
		}
	}
	// The cookie goes out when it is new, when a permanent one gets a new
	// expiry, or when it was signed with an old key.
	sendCookie := gs.IsNew || st.cookieDue || changed && gs.Options.MaxAge > 0
	gs.IsNew, st.loaded, st.cookieDue = false, data, false
	if !sendCookie {
		return nil
	}
	return s.setCookie(w, gs, gs.ID)
}

// destroy deletes the server copy (if any), expires the cookie (if one was
// sent) and leaves gs new and empty.
func (s *Store) destroy(ctx context.Context, w http.ResponseWriter, gs *gsessions.Session, st *state) error {
	if !gs.IsNew {
		if s.cfg.Backend != nil {
			ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
			defer cancel()
			if err := s.cfg.Backend.Delete(ctx, gs.ID); err != nil {
				return fmt.Errorf("%w: delete session: %w", ErrUnavailable, err)
			}
		}
		http.SetCookie(w, gsessions.NewCookie(gs.Name(), "", &gsessions.Options{
			Path: gs.Options.Path, Domain: gs.Options.Domain, MaxAge: -1,
			Secure: gs.Options.Secure, HttpOnly: gs.Options.HttpOnly, SameSite: gs.Options.SameSite,
		}))
	}
	clear(gs.Values)
	gs.Values[stateKey{}] = st
	gs.ID, gs.IsNew, st.loaded, st.destroy = "", true, nil, false
	return nil
}

func (s *Store) setCookie(w http.ResponseWriter, gs *gsessions.Session, value string) error {
	if s.cfg.Signer != nil {
		value = s.cfg.Signer.Sign(gs.Name(), value)
	}
	if len(value) > maxCookieLen {
		return fmt.Errorf("%w: cookie of %d bytes, limit %d", ErrTooLarge, len(value), maxCookieLen)
	}
	http.SetCookie(w, gsessions.NewCookie(gs.Name(), value, gs.Options))
	return nil
}

// Err returns the error that kept the session from loading (wrapping
// ErrUnavailable), or nil. Handlers check it before trusting an empty session.
func Err(s sessions.Session) error {
	if st, ok := s.Get(stateKey{}).(*state); ok {
		return st.err
	}
	return nil
}

// Save saves s: like s.Save(), but it also sends the cookie again when the
// store says it is due (a permanent session whose expiry was pushed back, a
// cookie signed with an old key) even if the handler changed nothing. Call
// it before writing the response body.
func Save(s sessions.Session) error {
	if st, ok := s.Get(stateKey{}).(*state); ok && st.cookieDue && st.err == nil {
		s.Set(stateKey{}, st) // marks the session written, so s.Save() runs
	}
	return s.Save()
}

// Destroy ends s: its values are dropped, the server copy is deleted and
// the cookie expired when s is saved (sessionstore.Save or s.Save()).
func Destroy(s sessions.Session) {
	if st, ok := s.Get(stateKey{}).(*state); ok {
		st.destroy = true
		s.Set(stateKey{}, st) // marks the session written
	}
}

// refreshMemo remembers when this process last pushed back each session's
// expiry, so reads refresh at most once per interval.
type refreshMemo struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]int64 // session ID -> unix nanoseconds
}

// refreshMemoMax bounds the memo; when full it starts over, which costs at
// most one extra refresh per active session.
const refreshMemoMax = 1 << 16

func newRefreshMemo(interval time.Duration) *refreshMemo {
	return &refreshMemo{interval: interval, last: make(map[string]int64)}
}

func (m *refreshMemo) due(id string, now time.Time) bool {
	m.mu.Lock()
	t, ok := m.last[id]
	m.mu.Unlock()
	return !ok || now.UnixNano()-t >= int64(m.interval)
}

func (m *refreshMemo) done(id string, now time.Time) {
	m.mu.Lock()
	if len(m.last) >= refreshMemoMax {
		clear(m.last)
	}
	m.last[id] = now.UnixNano()
	m.mu.Unlock()
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
