package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SessionInfo is what an operator sees of one stored session.
type SessionInfo struct {
	// Key is the backend key: the session ID, or its hash with HashIDs.
	Key string
	// Owner is the session's Config.OwnerKey value; "" for none.
	Owner string
	// Values are the session's values, without the store's own fields; nil
	// when the record cannot be decoded.
	Values map[string]any
	// Created is when the session began, known only with AbsoluteLifetime.
	Created time.Time
	// TTL is the time left before the record expires.
	TTL time.Duration
	// Size is the record's size in bytes.
	Size int
	// Forward marks the old key of a renewed session: a retired ID, kept
	// until Config.RenewGrace has passed, that leads nowhere.
	Forward bool
}

// ErrCannotList is returned when the backend cannot walk its sessions: it
// is no Lister (Memcached has no index of its keys).
var ErrCannotList = errors.New("this store cannot list its sessions")

// ErrNotOnServer is returned when sessions are not kept on the server
// (cookie sessions): none can be found or ended there.
var ErrNotOnServer = errors.New("sessions are not kept on the server: cookie sessions live only in the browsers")

// revokeBatch bounds the records deleted in one Write, and read in one
// step of SessionsOf.
const revokeBatch = 500

// CanList reports whether the store can walk its sessions (Sessions,
// SessionsOf, and Find with part of an ID): false for cookie sessions and
// for a backend that is no Lister.
func (s *Store) CanList() bool {
	_, ok := s.cfg.Backend.(Lister)
	return ok
}

func (s *Store) lister() (Lister, error) {
	if s.cfg.Backend == nil {
		return nil, ErrNotOnServer
	}
	l, ok := s.cfg.Backend.(Lister)
	if !ok {
		return nil, ErrCannotList
	}
	return l, nil
}

// Sessions calls fn with successive batches of every stored session, with
// the backend's Lister (Redis: SCAN). The backend is not held for long; a
// session written or ended during the walk may or may not be seen.
func (s *Store) Sessions(ctx context.Context, fn func([]SessionInfo) error) error {
	return s.sessions(ctx, "", fn)
}

func (s *Store) sessions(ctx context.Context, prefix string, fn func([]SessionInfo) error) error {
	l, err := s.lister()
	if err != nil {
		return err
	}
	err = l.List(ctx, prefix, func(recs []Stored) error {
		return fn(s.infos(recs))
	})
	if err != nil {
		return fmt.Errorf("%w: list sessions: %w", ErrUnavailable, err)
	}
	return nil
}

// SessionsOf returns owner's live sessions (owners compare as ownerKey
// makes them): from the backend's OwnerIndex when it keeps one, by walking
// every session otherwise.
func (s *Store) SessionsOf(ctx context.Context, owner string) ([]SessionInfo, error) {
	owner = ownerKey(owner)
	var out []SessionInfo
	keep := func(batch []SessionInfo) error {
		for _, si := range batch {
			if si.Owner != "" && si.Owner == owner {
				out = append(out, si)
			}
		}
		return nil
	}
	idx, ok := s.cfg.Backend.(OwnerIndex)
	if !ok || s.cfg.OwnerKey == "" {
		return out, s.Sessions(ctx, keep)
	}
	l, err := s.lister()
	if err != nil {
		return nil, err
	}
	keys, err := idx.Owned(ctx, owner)
	for batch := range slices.Chunk(keys, revokeBatch) { // a bounded read at a time
		start := time.Now()
		var recs []Stored
		if recs, err = l.Get(ctx, batch...); err != nil {
			break
		}
		keep(s.infos(recs))
		if err = rest(ctx, len(batch), time.Since(start)); err != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: find sessions: %w", ErrUnavailable, err)
	}
	return out, nil
}

// Find returns the stored sessions that ref names: a full session ID (as
// in the cookie, with or without its signature), read with the backend's
// Getter, or the start of a backend key as operators see it (at least one
// character of the base64url alphabet), found with its Lister. Several
// sessions may match a short ref.
func (s *Store) Find(ctx context.Context, ref string) ([]SessionInfo, error) {
	if s.cfg.Backend == nil {
		return nil, ErrNotOnServer
	}
	if id, _, signed := strings.Cut(ref, "."); signed && validID(id) {
		ref = id
	}
	if ref == "" || !base64urlOnly(ref) {
		return nil, fmt.Errorf("%q is not a session ID: want characters A-Z a-z 0-9 - _ only", ref)
	}
	if g, ok := s.cfg.Backend.(Getter); ok && validID(ref) { // a whole ID names one key: no need to scan for it
		recs, err := g.Get(ctx, s.Key(ref))
		if err != nil {
			return nil, fmt.Errorf("%w: find session: %w", ErrUnavailable, err)
		}
		return s.infos(recs), nil
	}
	var out []SessionInfo
	err := s.sessions(ctx, ref, func(batch []SessionInfo) error {
		out = append(out, batch...)
		return nil
	})
	return out, err
}

// Revoke ends the given sessions on the server: their records are deleted
// and they leave their owner's index. Browsers that still hold their
// cookies get a fresh session on their next request. It deletes
// revokeBatch sessions per backend write, and rests after each (see rest).
func (s *Store) Revoke(ctx context.Context, ss ...SessionInfo) error {
	if s.cfg.Backend == nil {
		return ErrNotOnServer
	}
	recs := make([]Record, 0, revokeBatch)
	for batch := range slices.Chunk(ss, revokeBatch) {
		recs = recs[:0]
		for _, si := range batch {
			recs = append(recs, Record{Key: si.Key, PrevOwner: si.Owner})
		}
		start := time.Now()
		if err := s.write(ctx, OpDelete, recs...); err != nil {
			return fmt.Errorf("%w: revoke sessions: %w", ErrUnavailable, err)
		}
		if err := rest(ctx, len(batch), time.Since(start)); err != nil {
			return err
		}
	}
	return nil
}

// rest waits d, or until ctx ends: between the steps of a long walk, as
// long as the last step took, so that the walk leaves the store (and the
// machine) to the visitors at least half of the time. After a step of
// fewer than revokeBatch sessions, the last, it returns at once.
func rest(ctx context.Context, n int, d time.Duration) error {
	if n < revokeBatch {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Describe returns facts about where the backend keeps sessions (such as
// the Redis server's address), for readiness checks; nil when it tells
// nothing. Never a secret.
func (s *Store) Describe() map[string]string {
	if d, ok := s.cfg.Backend.(Describer); ok {
		return d.Describe()
	}
	return nil
}

// owner returns the session's OwnerKey value as ownerKey makes it, or "".
func (s *Store) owner(values map[any]any) string {
	if s.cfg.OwnerKey == "" {
		return ""
	}
	o, _ := values[s.cfg.OwnerKey].(string)
	return ownerKey(o)
}

// ownerKey is how owners compare, and are indexed: exactly, except that
// the domain of an address (after the last "@") is in ASCII lower case, as
// domains are case-insensitive. Nothing else is folded: a local part's case
// may matter to its mail server, and Unicode case folding would make
// different addresses one (the Kelvin sign K folds to k).
func ownerKey(o string) string {
	at := strings.LastIndexByte(o, '@')
	if at < 0 {
		return o
	}
	domain := []byte(o[at+1:])
	for i, c := range domain {
		if 'A' <= c && c <= 'Z' {
			domain[i] = c + 'a' - 'A'
		}
	}
	return o[:at+1] + string(domain)
}

// touchOwned keeps the owner index's entry for key in step with a refresh
// of the record by ttl. It reports whether the refresh is complete; a
// failure leaves the entry as it was (still ahead of now, since the record
// was alive) and the refresh due again.
func (s *Store) touchOwned(ctx context.Context, owner, key string, ttl time.Duration) bool {
	idx, ok := s.cfg.Backend.(OwnerIndex)
	if !ok || owner == "" {
		return true
	}
	start := time.Now()
	err := idx.TouchOwned(ctx, owner, key, ttl)
	s.cfg.Observe(OpRefresh, time.Since(start), err)
	return err == nil
}

// infos decodes stored records for operators.
func (s *Store) infos(recs []Stored) []SessionInfo {
	out := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		si := SessionInfo{Key: r.Key, TTL: r.TTL, Size: len(r.Data)}
		values := map[any]any{}
		if m, err := decodeData(r.Data, values); err == nil {
			si.Owner = s.owner(values)
			si.Forward = m.renewedTo != ""
			if m.created > 0 {
				si.Created = time.Unix(m.created, 0)
			}
			si.Values = make(map[string]any, len(values))
			for k, v := range values {
				si.Values[k.(string)] = v
			}
		}
		out = append(out, si)
	}
	return out
}

// base64urlOnly reports whether s uses only the characters of IDs and keys.
func base64urlOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Backend returns the store's backend; nil for cookie sessions.
func (s *Store) Backend() Backend {
	return s.cfg.Backend
}
