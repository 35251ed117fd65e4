// Package session is the session core: a github.com/gin-contrib/sessions
// Store that keeps sessions on the server through a Backend (see
// backend.go; the stores are the packages beneath this one), or
// client-side in a signed cookie. It owns what every store shares: IDs,
// signing, the encoding of values, timeouts, refresh, renewal and the
// events and measurements around them. Handlers use the gin-contrib
// Session API; this package adds what that API lacks (load errors, cookie
// refresh, ID renewal, destruction) as functions on a sessions.Session.
//
// Server-side sessions follow the OWASP session rules: IDs are 256 random
// bits; an ID the backend does not know is never adopted; the ID can be
// renewed on a privilege change without losing data; idle and absolute
// timeouts are enforced on the server; a visitor who stores nothing gets no
// cookie and no record; a request that only reads costs one backend call
// (two when its expiry refresh is due and an owner index must follow it).
package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"
)

// maxCookieLen bounds the cookie values the store will look at; browsers keep
// at most 4096 bytes per cookie anyway.
const maxCookieLen = 4096

// Event is a change in a session's life, reported to Config.Notify.
type Event string

// The events. Refused is a cookie that was presented but not accepted
// (bad signature, unknown or expired ID): its visitor starts afresh.
const (
	Created   Event = "created"
	Renewed   Event = "renewed"
	Destroyed Event = "destroyed"
	Refused   Event = "refused"
)

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
	// AbsoluteLifetime, when positive, ends every session that long after it
	// was created, however active it is. The creation time is kept in the
	// session's data ("__created", unix seconds) only when this is set.
	AbsoluteLifetime time.Duration
	// Permanent gives the cookie a Max-Age of Lifetime (less, near the
	// absolute end). False makes it a browser-session cookie (no Max-Age, no
	// Expires); the server copy still expires after Lifetime.
	Permanent bool
	// Refresh pushes the server copy's expiry (and a permanent cookie's) back
	// on reads. To keep reads at one backend call, a session is refreshed at
	// most once per Lifetime/100 by each process.
	Refresh bool
	// RenewGrace is how long the old ID of a renewed session stays retired
	// rather than unknown: a request with it, such as another tab's already
	// on its way, is a visitor without a session who creates nothing and
	// gets no cookie, so that it cannot replace the browser's new one. It
	// never leads to the renewed session. Zero means 5 seconds.
	RenewGrace time.Duration
	// HashIDs keeps sessions under a SHA-256 of their ID (216 bits, 36
	// characters) instead of the ID itself, so a copy of the backend holds no
	// usable cookie.
	HashIDs bool
	// Path, Domain, Secure, HttpOnly and SameSite are the cookie attributes.
	// A cookie is also Secure on requests that arrived over HTTPS (see
	// WithHTTPS).
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
	// Notify, when set, is told of each Event with the session's ID (for
	// Renewed, also the old one). It must not block.
	Notify func(ctx context.Context, e Event, id, oldID string)
	// OwnerKey names the session value (a string, such as "email") that
	// says whom a session belongs to. When set, backends that keep an
	// OwnerIndex index sessions by it, so that all of one owner's sessions
	// can be found and ended (SessionsOf, Revoke). Empty: no index.
	OwnerKey string
	// Observe, when set, is told of every backend call the store makes:
	// which operation, how long it took and its error. It must not block.
	Observe func(op Op, d time.Duration, err error)
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
	if cfg.RenewGrace <= 0 {
		cfg.RenewGrace = 5 * time.Second
	}
	if cfg.Notify == nil {
		cfg.Notify = func(context.Context, Event, string, string) {}
	}
	if cfg.Observe == nil {
		cfg.Observe = func(Op, time.Duration, error) {}
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

// Key returns the backend key of session id: the ID itself, or with HashIDs
// the first 27 bytes of its SHA-256, base64url-encoded.
func (s *Store) Key(id string) string {
	if !s.cfg.HashIDs {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:27])
}

// state is what the store remembers about a session between load and save.
type state struct {
	err       error  // the load failed: the session must not be saved
	loaded    []byte // the encoded data as loaded, to skip unchanged writes
	created   int64  // unix seconds, with AbsoluteLifetime
	owner     string // the OwnerKey value as loaded, to keep the backend's index in step
	cookieDue bool   // send the cookie again (refreshed, or signed with an old key)
	retired   bool   // the cookie names a retired ID within its grace period: save nothing
	renew     bool   // Renew was called
	destroy   bool   // Destroy was called
}

// request is the gorilla store of one request's session: the Store, and
// the state it keeps for that session. The state thus travels with the
// session but outside its Values, where gin-contrib's Clear would erase it.
type request struct {
	*Store
	state
}

// stateOf returns the store's state for gs, or nil when gs was not made
// by a Store (or is nil).
func stateOf(gs *gsessions.Session) *state {
	if gs == nil {
		return nil
	}
	if rq, ok := gs.Store().(*request); ok {
		return &rq.state
	}
	return nil
}

// Get returns the request's session: the one its cookie names, or a new
// empty one when the cookie is missing, malformed, badly signed or names a
// session the backend does not have. A backend failure is not returned
// here (gin-contrib would only log it): Err reports it.
func (s *Store) Get(r *http.Request, name string) (*gsessions.Session, error) {
	rq := &request{Store: s}
	st := &rq.state
	gs := gsessions.NewSession(rq, name)
	opts := s.cookie
	gs.Options = &opts
	gs.IsNew = true

	c, err := r.Cookie(name)
	if err != nil {
		return gs, nil
	}
	if !s.load(r.Context(), gs, st, c.Value) && st.err == nil {
		clear(gs.Values)
		st.created, st.cookieDue = 0, false
		s.cfg.Notify(r.Context(), Refused, "", "")
	}
	return gs, nil
}

// New is Get; gorilla's Store interface requires both.
func (s *Store) New(r *http.Request, name string) (*gsessions.Session, error) {
	return s.Get(r, name)
}

// load fills gs from the cookie value and reports whether it held a live
// session. On a backend failure it sets st.err.
func (s *Store) load(ctx context.Context, gs *gsessions.Session, st *state, value string) bool {
	if len(value) > maxCookieLen {
		return false
	}
	if s.cfg.Signer != nil {
		var ok bool
		if value, ok, st.cookieDue = s.cfg.Signer.Verify(gs.Name(), value); !ok {
			return false
		}
	}
	if s.cfg.Backend == nil {
		return s.loadCookie(gs, st, value)
	}
	if !validID(value) {
		return false
	}

	key := s.Key(value)
	now := time.Now()
	var refresh time.Duration
	if s.refresh != nil && s.refresh.due(key, now) {
		refresh = s.cfg.Lifetime
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	op := OpLoad
	if refresh > 0 {
		op = OpRefresh
	}
	start := time.Now()
	data, found, err := s.cfg.Backend.Load(ctx, key, refresh)
	s.cfg.Observe(op, time.Since(start), err)
	if err != nil {
		st.err = fmt.Errorf("%w: load session: %w", ErrUnavailable, err)
		return false
	}
	if !found {
		return false // unknown IDs are never adopted
	}
	m, err := decodeData(data, gs.Values)
	if err != nil {
		return false // an undecodable record is as good as none
	}
	if m.renewedTo != "" {
		// A retired ID: its session was renewed on a change of owner. The
		// record still names the new ID (sealed), but only for the previous
		// release's replicas during a rolling deploy; following it would
		// let whoever planted the old ID follow the victim.
		return s.retire(ctx, st, key, data, m, refresh, now)
	}
	if s.cfg.AbsoluteLifetime > 0 {
		if m.created == 0 { // stored before the absolute limit was set: it starts now
			m.created = now.Unix()
		}
		if now.Unix() >= m.created+int64(s.cfg.AbsoluteLifetime/time.Second) {
			return false
		}
	}
	owner := s.owner(gs.Values)
	if refresh > 0 {
		st.cookieDue = st.cookieDue || s.cfg.Permanent
		if deadline := s.deadline(m.created, now); deadline.Before(now.Add(refresh)) {
			// The refresh overshot the absolute end: put the record's
			// expiry back (rare: only near the end, once per refresh).
			rec := Record{Key: key, Data: data, TTL: deadline.Sub(now), Owner: owner, PrevOwner: owner, Loaded: data}
			if err := s.write(ctx, OpRefresh, rec); err != nil && !isConflict(err) { // a conflict: another request wrote it since
				st.err = fmt.Errorf("%w: refresh session: %w", ErrUnavailable, err)
				return false
			}
			s.refresh.done(key, now)
		} else if s.touchOwned(ctx, owner, key, refresh) {
			s.refresh.done(key, now)
		}
	}
	gs.ID, gs.IsNew = value, false
	st.loaded, st.created, st.owner = data, m.created, owner
	return true
}

// retire handles a load that found the record of a retired ID. Until its
// grace period ends the request is a visitor without a session who
// creates nothing (st.retired), so that a tab still in flight with the old
// cookie cannot overwrite the browser's new one; after that the ID is
// unknown. A load that refreshed the record puts its expiry back to the
// end of the grace period, or deletes it when that has passed, so that it
// never lives longer than its grace. It returns false: no session.
func (s *Store) retire(ctx context.Context, st *state, key string, data []byte, m meta, refresh time.Duration, now time.Time) bool {
	until := now.Add(s.cfg.RenewGrace) // forwards written before their end was kept
	if m.renewedUntil != 0 {
		until = time.UnixMilli(m.renewedUntil)
	}
	st.retired = now.Before(until)
	if refresh > 0 {
		rec := Record{Key: key} // over: delete it
		if st.retired {
			rec = Record{Key: key, Data: data, TTL: until.Sub(now), Loaded: data}
		}
		if err := s.write(ctx, OpRefresh, rec); err != nil && !isConflict(err) {
			st.err = fmt.Errorf("%w: load session: %w", ErrUnavailable, err)
		} else {
			s.refresh.done(key, now) // the next reads need not refresh it again
		}
	}
	return false
}

// deadline is when a session written now must expire: Lifetime from now,
// or the absolute end if that comes first.
func (s *Store) deadline(created int64, now time.Time) time.Time {
	d := now.Add(s.cfg.Lifetime)
	if s.cfg.AbsoluteLifetime > 0 {
		if end := time.Unix(created, 0).Add(s.cfg.AbsoluteLifetime); end.Before(d) {
			return end
		}
	}
	return d
}

// maxRebases bounds how often Save applies its changes again to a session
// that other requests changed while it was being saved (see rebase).
const maxRebases = 10

// Save writes the session and its cookie. An empty session is deleted (or,
// when new, never created); Destroy or MaxAge < 0 in its options destroys
// it. Unchanged data is not written again. A session whose load failed is
// never written: Save returns the load error.
//
// A change is written only over the record as it was loaded. When another
// request of the session wrote it meanwhile, Save applies the values this
// request set or removed to what is stored now and writes that, so no
// request erases another's change to a different value; the last to write
// a value wins. When the session was ended meanwhile it stays ended (Save
// writes nothing and expires the cookie); when it was renewed, Save returns
// ErrRetired.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, gs *gsessions.Session) error {
	st := stateOf(gs)
	if st == nil { // a session from elsewhere: assume nothing
		st = &state{}
	}
	for n := 0; ; n++ {
		err := s.save(r, w, gs, st)
		var c *Conflict
		if !errors.As(err, &c) {
			return err
		}
		if n == maxRebases {
			return fmt.Errorf("%w: save session: changed by other requests %d times in a row", ErrUnavailable, n+1)
		}
		if err := s.rebase(r, w, gs, st, c.Data); err != nil {
			return err
		}
	}
}

// save is one attempt of Save. It returns a *Conflict, unwrapped, when the
// record was not what the request loaded.
func (s *Store) save(r *http.Request, w http.ResponseWriter, gs *gsessions.Session, st *state) error {
	if st.err != nil {
		return st.err
	}
	if st.retired {
		return ErrRetired // creates nothing, sets no cookie
	}
	now := time.Now()
	if gs.IsNew && s.cfg.AbsoluteLifetime > 0 {
		st.created = now.Unix()
	}
	data, err := encodeData(gs.Values, st.created)
	if err != nil {
		return err
	}
	deadline := s.deadline(st.created, now)
	if end := st.destroy || gs.Options.MaxAge < 0 || !deadline.After(now); end || data == nil {
		var loaded []byte // an ending is unconditional...
		if !end {
			loaded = st.loaded // ...emptying is not: another request may have stored a value meanwhile
		}
		return s.destroy(r, w, gs, st, loaded)
	}
	if len(data) > s.cfg.MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), s.cfg.MaxSize)
	}
	if s.cfg.Permanent && gs.Options.MaxAge > 0 {
		gs.Options.MaxAge = min(gs.Options.MaxAge, int(deadline.Sub(now)/time.Second))
	}
	if s.cfg.Backend == nil {
		return s.saveCookie(r, w, gs, st, data, deadline)
	}

	renew := st.renew && !gs.IsNew
	changed := gs.IsNew || renew || !bytes.Equal(data, st.loaded)
	id, oldID := gs.ID, gs.ID
	owner := s.owner(gs.Values)
	if changed {
		rec := Record{Data: data, TTL: deadline.Sub(now), Owner: owner, PrevOwner: st.owner, Loaded: st.loaded}
		if gs.IsNew || renew {
			id = NewID()
			rec.PrevOwner, rec.Loaded = "", nil
		}
		rec.Key = s.Key(id)
		recs := []Record{rec}
		if renew {
			// The old key is retired for the grace period, in the same write
			// and only over what was loaded, then dies; it leaves its owner's
			// index now.
			recs = append(recs, Record{Key: s.Key(oldID), Data: forwardData(oldID, id, now.Add(s.cfg.RenewGrace)), TTL: s.cfg.RenewGrace, PrevOwner: st.owner, Loaded: st.loaded})
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		if err := s.write(ctx, OpSave, recs...); err != nil {
			return unavailable("save session", err)
		}
		if s.refresh != nil {
			s.refresh.done(rec.Key, now)
		}
		st.owner = owner
	}
	// The cookie goes out when the ID is new, when a permanent one gets a new
	// expiry, or when it is due (refreshed, or signed with an old key).
	sendCookie := id != oldID || st.cookieDue || changed && gs.Options.MaxAge > 0
	switch {
	case gs.IsNew:
		s.cfg.Notify(r.Context(), Created, id, "")
	case renew:
		s.cfg.Notify(r.Context(), Renewed, id, oldID)
	}
	gs.ID, gs.IsNew = id, false
	st.loaded, st.cookieDue, st.renew = data, false, false
	if !sendCookie {
		return nil
	}
	return s.setCookie(r, w, gs.Name(), id, gs.Options)
}

// rebase makes what another request stored meanwhile (current, nil when
// the session was ended) the session as loaded, with this request's changes
// applied to it: the values it set or removed since its load. The next save
// then writes both requests' changes. A session ended meanwhile is
// forgotten and its cookie expired, so that it stays ended; one renewed
// meanwhile (a retired ID's record) gives ErrRetired, as if the request had
// come with the retired ID.
func (s *Store) rebase(r *http.Request, w http.ResponseWriter, gs *gsessions.Session, st *state, current []byte) error {
	changed := changedKeys(st.loaded, gs.Values)
	values := map[any]any{}
	m, err := decodeData(current, values)
	if current == nil || err != nil {
		return s.forget(r, w, gs, st)
	}
	if m.renewedTo != "" {
		st.retired = true
		return ErrRetired
	}
	for _, k := range changed {
		if v, ok := gs.Values[k]; ok {
			values[k] = v
		} else {
			delete(values, k)
		}
	}
	clear(gs.Values)
	maps.Copy(gs.Values, values)
	st.loaded, st.owner = current, s.owner(values)
	if m.created != 0 {
		st.created = m.created
	}
	return nil
}

// destroy deletes the server copy (if any; only where it still holds loaded,
// when that is not nil), expires the cookie (if one was sent) and leaves gs
// new and empty.
func (s *Store) destroy(r *http.Request, w http.ResponseWriter, gs *gsessions.Session, st *state, loaded []byte) error {
	if !gs.IsNew && s.cfg.Backend != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		if err := s.write(ctx, OpDelete, Record{Key: s.Key(gs.ID), PrevOwner: st.owner, Loaded: loaded}); err != nil {
			return unavailable("delete session", err)
		}
	}
	if !gs.IsNew {
		s.cfg.Notify(r.Context(), Destroyed, gs.ID, "")
	}
	return s.forget(r, w, gs, st)
}

// forget expires the cookie (if one was sent) and leaves gs new and empty.
func (s *Store) forget(r *http.Request, w http.ResponseWriter, gs *gsessions.Session, st *state) error {
	if !gs.IsNew {
		expired := *gs.Options
		expired.MaxAge = -1
		if err := s.setCookie(r, w, gs.Name(), "", &expired); err != nil {
			return err
		}
	}
	clear(gs.Values)
	gs.ID, gs.IsNew = "", true
	*st = state{}
	return nil
}

// unavailable wraps a backend's error as ErrUnavailable, but for a
// *Conflict and ErrTooLarge (a record over the server's own limit), which
// it returns as they are.
func unavailable(doing string, err error) error {
	if isConflict(err) || errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, doing, err)
}

// isConflict reports whether err is a *Conflict.
func isConflict(err error) bool {
	var c *Conflict
	return errors.As(err, &c)
}

// setCookie sends the session cookie with value (signed when the store
// signs), Secure when configured or when the request came over HTTPS.
func (s *Store) setCookie(r *http.Request, w http.ResponseWriter, name, value string, opts *gsessions.Options) error {
	if s.cfg.Signer != nil && value != "" {
		value = s.cfg.Signer.Sign(name, value)
	}
	if len(value) > maxCookieLen {
		return fmt.Errorf("%w: cookie of %d bytes, limit %d", ErrTooLarge, len(value), maxCookieLen)
	}
	c := gsessions.NewCookie(name, value, opts)
	c.Secure = c.Secure || IsHTTPS(r)
	http.SetCookie(w, c)
	return nil
}

// httpsKey marks a request context whose request arrived over HTTPS through
// a trusted proxy.
type httpsKey struct{}

// WithHTTPS marks ctx as belonging to a request that reached a trusted proxy
// over HTTPS, so that its cookies are Secure. Requests served over TLS
// directly need no mark.
func WithHTTPS(ctx context.Context) context.Context {
	return context.WithValue(ctx, httpsKey{}, true)
}

// IsHTTPS reports whether r arrived over HTTPS, directly or as marked by
// WithHTTPS.
func IsHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(httpsKey{}) != nil
}

// sessionState returns the gorilla session behind s and the store's state
// for it; nil when s is not one of this package's sessions.
func sessionState(s sessions.Session) (*gsessions.Session, *state) {
	g, ok := s.(gorillaSession)
	if !ok {
		return nil, nil
	}
	gs := g.Session()
	return gs, stateOf(gs)
}

// gorillaSession is gin-contrib's Session implementation, which loads the
// session on its first call of Session.
type gorillaSession interface{ Session() *gsessions.Session }

// markWritten makes gin-contrib save s on its next Save, without touching
// its values: setting the options it already has marks it written.
func markWritten(s sessions.Session, gs *gsessions.Session) {
	o := gs.Options
	s.Options(sessions.Options{Path: o.Path, Domain: o.Domain, MaxAge: o.MaxAge, Secure: o.Secure, HttpOnly: o.HttpOnly, SameSite: o.SameSite})
}

// Err returns the error that kept the session from loading (wrapping
// ErrUnavailable), or nil. Handlers check it before trusting an empty session.
func Err(s sessions.Session) error {
	if g, ok := s.(gorillaSession); ok {
		if st := stateOf(g.Session()); st != nil {
			return st.err
		}
	}
	return nil
}

// Save saves s: like s.Save(), but it also sends the cookie again when the
// store says it is due (a permanent session whose expiry was pushed back, a
// cookie signed with an old key) even if the handler changed nothing. Call
// it before writing the response body.
func Save(s sessions.Session) error {
	if gs, st := sessionState(s); st != nil && st.cookieDue && st.err == nil {
		markWritten(s, gs)
	}
	return s.Save()
}

// Renew gives s a new ID when it is saved, keeping its data: call it on a
// privilege change such as a login. The old ID leads to the new session for
// Config.RenewGrace, then dies. A new session gets a fresh ID anyway.
func Renew(s sessions.Session) {
	if gs, st := sessionState(s); st != nil {
		st.renew = true
		markWritten(s, gs)
	}
}

// Destroy ends s: its values are dropped, the server copy is deleted and
// the cookie expired when s is saved (session.Save or s.Save()).
func Destroy(s sessions.Session) {
	if gs, st := sessionState(s); st != nil {
		st.destroy = true
		markWritten(s, gs)
	}
}

// refreshMemo remembers when this process last pushed back each session's
// expiry, so reads refresh at most once per interval. It keeps a 64-bit
// hash of each key, not the key: 16 bytes an entry.
type refreshMemo struct {
	interval time.Duration
	seed     maphash.Seed
	mu       sync.Mutex
	last     map[uint64]int64 // hash of the backend key -> unix nanoseconds
}

// refreshMemoMax bounds the memo (about 1.5 MiB); when full it starts over,
// which costs at most one extra refresh per active session.
const refreshMemoMax = 1 << 16

func newRefreshMemo(interval time.Duration) *refreshMemo {
	return &refreshMemo{interval: interval, seed: maphash.MakeSeed(), last: make(map[uint64]int64)}
}

func (m *refreshMemo) due(key string, now time.Time) bool {
	h := maphash.String(m.seed, key)
	m.mu.Lock()
	t, ok := m.last[h]
	m.mu.Unlock()
	return !ok || now.UnixNano()-t >= int64(m.interval)
}

func (m *refreshMemo) done(key string, now time.Time) {
	h := maphash.String(m.seed, key)
	m.mu.Lock()
	if len(m.last) >= refreshMemoMax {
		clear(m.last)
	}
	m.last[h] = now.UnixNano()
	m.mu.Unlock()
}
