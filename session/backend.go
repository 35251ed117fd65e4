package session

import (
	"context"
	"errors"
	"time"
)

// This file is the contract between the session core (Store) and the
// stores that keep sessions on the server: Backend, which every store
// implements, and the optional abilities beside it, each a small interface
// that Store finds by type assertion. Which stores have which:
//
//	ability      redis  sql  dir  memcached  mongo  what Store does with it
//	Backend      yes    yes  yes  yes        yes    load, save, refresh, delete sessions
//	Getter       yes    yes  yes  yes        yes    Find by a whole ID (the admin CLI's show, revoke)
//	Lister       yes    yes  yes  no         yes    Sessions, SessionsOf, Find by part of an ID
//	OwnerIndex   yes    no   no   no         yes    SessionsOf without a scan (revoke-email)
//	Inspector    yes    yes  yes  yes        yes    Inspect (the debug panel)
//	Describer    yes    yes  no   yes        yes    Describe (readiness details)
//	PoolReporter yes    no   no   no         no     pool figures for the metrics
//
// Cookie sessions have no Backend: Store keeps them in the cookie itself.
// A new store implements Backend, passes the conformance suite in
// package sessiontest, and adds whichever abilities it can offer.

// Backend keeps encoded sessions on the server under keys the Store chooses
// (the session ID, or its hash). Implementations are safe for concurrent use.
type Backend interface {
	// Load returns the record stored under key. found is false, with a nil
	// error, when there is none (never stored, expired or deleted). When
	// refresh is positive the record's expiry is pushed to refresh from now.
	Load(ctx context.Context, key string, refresh time.Duration) (data []byte, found bool, err error)
	// Write applies the records in order, as one unit where the backend can
	// (Redis: one MULTI/EXEC in one round trip).
	Write(ctx context.Context, recs ...Record) error
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// Record is one write: Data under Key, expiring after TTL. Nil Data deletes
// the key (a missing key is not an error).
//
// Owner and PrevOwner keep a backend's per-owner index (see OwnerIndex) in
// step with the record, in the same unit: Owner is whom the record belongs
// to after the write ("" for nobody), PrevOwner whom it belonged to before.
// Backends without an index ignore both.
//
// Loaded, when not nil, makes the write conditional: it is what the
// request read under Key, and the write applies only if Key still holds
// exactly that (a compare and set). If it does not, for this or any other
// record of the same Write, nothing is written and Write returns a
// *Conflict. The Store then applies its own changes to what Key holds now
// and writes again, so that two requests of one session that change
// different values both keep their change, and a session ended (deleted)
// or renewed meanwhile is not written back to life. A store that keeps
// each value apart (a document's fields) may instead write only the values
// that differ between Loaded and Data, each on the condition that it still
// holds what was loaded (see mongostore).
type Record struct {
	Key       string
	Data      []byte
	TTL       time.Duration
	Owner     string
	PrevOwner string
	Loaded    []byte
}

// Conflict is the error of a Write whose record's Loaded is no longer what
// its Key holds: Data is what it holds now, nil for nothing.
type Conflict struct {
	Key  string
	Data []byte
}

func (c *Conflict) Error() string {
	return "session " + c.Key + " changed since it was loaded"
}

// ErrUnavailable wraps every failure of the backend, so that callers can tell
// "the store is down" (answer 503) from bad input.
var ErrUnavailable = errors.New("session store unavailable")

// Stored is a record as a Lister returns it.
type Stored struct {
	Key  string
	Data []byte
	TTL  time.Duration // time left; negative: no expiry
}

// OwnerIndex is an optional Backend ability, detected by type assertion: the
// backend keeps, per owner, the keys of that owner's sessions, updated by
// Write from each Record's Owner and PrevOwner in the same unit as the
// record, so that an owner's sessions are found without a scan. Owners are
// compared exactly; the Store passes them in one form (see ownerKey).
type OwnerIndex interface {
	// Owned returns the keys indexed under owner: every live record written
	// with that owner, and possibly some that expired in the last minute.
	Owned(ctx context.Context, owner string) ([]string, error)
	// TouchOwned pushes the expiry of key's entry under owner to ttl from
	// now, after a Load refreshed the record by ttl, adding the entry if it
	// is missing.
	TouchOwned(ctx context.Context, owner, key string, ttl time.Duration) error
}

// Getter is an optional Backend ability, detected by type assertion: it
// reads stored records by key, for operators (Store.Find with a whole ID).
type Getter interface {
	// Get returns the records stored under keys, leaving out missing ones.
	Get(ctx context.Context, keys ...string) ([]Stored, error)
}

// Lister is an optional Backend ability, detected by type assertion: it
// walks and reads the stored records, for operators and for finding an
// owner's sessions when there is no OwnerIndex.
type Lister interface {
	Getter
	// List calls fn with successive batches of the records whose key starts
	// with prefix ("" for all), never holding the backend for long (Redis:
	// SCAN, never KEYS). A record written or deleted during the walk may or
	// may not be seen, and one may be seen twice (as SCAN allows).
	List(ctx context.Context, prefix string, fn func([]Stored) error) error
}

// Inspector is an optional Backend ability, detected by type assertion: it
// tells where a session's record is kept and how long it has left. Store's
// Inspect uses it; the service shows it to developers in debug mode.
type Inspector interface {
	// Location returns where the record under key is kept (a Redis key, a
	// file).
	Location(key string) string
	// TTL returns the time left before the record under key expires. found
	// is false, with a nil error, when there is no record. A negative ttl
	// means the record never expires.
	TTL(ctx context.Context, key string) (ttl time.Duration, found bool, err error)
}

// Describer is an optional Backend ability: facts about where it keeps
// sessions, for readiness checks (never a secret).
type Describer interface {
	Describe() map[string]string
}

// PoolReporter is an optional Backend ability: figures of the backend's
// connection pool, for the metrics.
type PoolReporter interface {
	PoolStats() PoolStats
}

// PoolStats are the connection pool's figures.
type PoolStats struct {
	// Active counts open connections, in use or idle; Idle the idle ones.
	// Shared, pipelined connections are never idle.
	Active, Idle int
	// Waiting counts callers waiting right now: for a free connection from
	// a classic pool, or for their replies on the shared connections.
	Waiting int
	// Waits counts the connections callers had to wait for, and WaitTime
	// the total time they waited, since the pool was made (classic pool).
	Waits    int64
	WaitTime time.Duration
}
