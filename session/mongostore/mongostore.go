// Package mongostore keeps sessions in a MongoDB collection (or any server
// of the MongoDB wire protocol, such as FerretDB), as session.Backend: one
// document per session, readable as it is in mongosh:
//
//	{_id: Prefix + key, data: {email: "a@example.com", ...}, n: 1,
//	 expiry: ISODate("..."), owner: "a@example.com"}
//
// data holds the session's values as BSON: JSON numbers as int64 where
// they are integers in its range, float64 otherwise (a larger integer comes
// back as encoding/json writes that float64); objects with sorted keys; an
// array that is an element of an array as {"%array": [...]}, since
// FerretDB 1.x refuses arrays directly in arrays. A name's "%", "." and
// leading "$" are escaped as "%25", "%2E" and "%24", so that every value is
// a field of its own that a dotted path reaches. Load writes the JSON back
// exactly as the session core encodes it, so that a session read and saved
// unchanged is not written. n counts the names in data. owner is the
// session's owner (session.Config.OwnerKey), absent when it has none; an
// index on it finds an owner's sessions.
//
// A document whose expiry has passed is never served: every read asks for
// expiry > now. A TTL index on expiry makes the server delete them; a
// server that refuses TTL indexes (FerretDB 1.x) gets a plain index, and
// the backend deletes expired documents itself every Config.SweepEvery.
// The indexes are made on first contact, so the service starts while the
// server is down.
//
// A change to a loaded session writes only the values that changed, each on
// the condition that it still holds what the request loaded: two requests
// changing different values both apply, without a conflict; the same value,
// and the session ended or renewed meanwhile, give a *session.Conflict.
// Emptying a session and retiring a renewed one compare the whole document.
//
// MongoDB applies each update to one document atomically, so these
// conditions hold between replicas. FerretDB 1.x does not: it reads the
// document, applies the update and writes the whole document back, so
// that two updates of one document at once can lose one. The backend
// therefore also serializes the writes of each session within its process
// (refreshes included); on FerretDB, writes of one session from two
// replicas at the same moment can still lose one.
//
// MongoDB has transactions only on replica sets, and FerretDB none, so a
// Write of several records (a renewal: the new session, then the old one's
// conditional forward) applies them one after the other, and when a later
// one conflicts or fails, deletes the new sessions it wrote before it
// (fresh random IDs nobody holds yet). A crash in between leaves such a
// session behind, unknown to anyone, until it expires.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sessionsvc/sessionsvc/internal/firstuse"
	"github.com/sessionsvc/sessionsvc/session"
)

// Config configures a Backend.
type Config struct {
	// URI is the server's mongodb:// (or mongodb+srv://) URI, with any
	// driver options in its query as MongoDB users write them
	// (maxPoolSize=20, serverSelectionTimeoutMS=...); options there win
	// over Timeout.
	URI string
	// Database holds the collection ("flask_session" when empty).
	Database string
	// Collection holds the sessions ("sessions" when empty).
	Collection string
	// Prefix starts every document's _id: Prefix + the session's key.
	Prefix string
	// Timeout bounds server selection and connecting (500ms when zero), so
	// that a call fails that soon when the server is down; the session
	// core also bounds each call with its context.
	Timeout time.Duration
	// SweepEvery is how often expired documents are deleted when the
	// server refuses TTL indexes (a minute when zero).
	SweepEvery time.Duration
	// Logger tells, once, that expired sessions are swept by the service
	// (slog.Default() when nil).
	Logger *slog.Logger
}

// Backend keeps sessions in a MongoDB collection. It is safe for concurrent
// use.
type Backend struct {
	cfg    Config
	client *mongo.Client
	coll   *mongo.Collection
	hosts  string // from the URI, for Describe

	setup  *firstuse.Once // makes the indexes (see ensure)
	expiry atomic.Value   // string: how expired documents go, once known

	locks [64]chan struct{} // one token each: writes of the keys hashed to it, one at a time
	seed  maphash.Seed

	mu     sync.Mutex // guards closed, and starting the sweeper
	closed bool
	swept  bool // the sweeper runs
	stop   chan struct{}
	wg     sync.WaitGroup
}

// Backend's abilities (see session/backend.go).
var (
	_ session.Backend    = (*Backend)(nil)
	_ session.Lister     = (*Backend)(nil)
	_ session.OwnerIndex = (*Backend)(nil)
	_ session.Inspector  = (*Backend)(nil)
	_ session.Describer  = (*Backend)(nil)
)

// How expired documents go, for Describe.
const (
	byTTLIndex = "TTL index"
	unknown    = "not known yet: no contact with the server"
)

// New returns a Backend. It does not wait for the server: the driver
// connects in the background, and the first call makes the indexes. It
// fails only on a configuration that cannot work (a URI that does not
// parse).
func New(cfg Config) (*Backend, error) {
	if cfg.Database == "" {
		cfg.Database = "flask_session"
	}
	if cfg.Collection == "" {
		cfg.Collection = "sessions"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	hosts, err := hostsOf(cfg.URI)
	if err != nil {
		return nil, err
	}
	opts := options.Client().
		SetServerSelectionTimeout(cfg.Timeout).
		SetConnectTimeout(cfg.Timeout).
		ApplyURI(cfg.URI)
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb URI: %w", err)
	}
	b := &Backend{
		cfg:    cfg,
		client: client,
		coll:   client.Database(cfg.Database).Collection(cfg.Collection),
		hosts:  hosts,
		setup:  firstuse.New(),
		stop:   make(chan struct{}),
	}
	for i := range b.locks {
		b.locks[i] = make(chan struct{}, 1)
	}
	b.seed = maphash.MakeSeed()
	b.expiry.Store(unknown)
	return b, nil
}

// hostsOf returns the host list of a mongodb:// URI, without credentials.
func hostsOf(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		rest, ok = strings.CutPrefix(uri, "mongodb+srv://")
	}
	if !ok {
		return "", errors.New("a MongoDB URI starts with mongodb:// or mongodb+srv://")
	}
	hosts, _, _ := strings.Cut(rest, "/")
	hosts, _, _ = strings.Cut(hosts, "?")
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		hosts = hosts[at+1:]
	}
	if hosts == "" {
		return "", errors.New("the MongoDB URI names no host")
	}
	if h, err := url.PathUnescape(hosts); err == nil {
		hosts = h // a unix socket's path is escaped
	}
	return hosts, nil
}

// Index names.
const (
	ownerIndex  = "owner"
	expiryIndex = "expiry"
)

// ensure makes the indexes on first contact, until that succeeds.
func (b *Backend) ensure(ctx context.Context) error {
	return b.setup.Do(ctx, b.create)
}

// create makes the owner index, and a TTL index on expiry, or where the
// server refuses that, a plain one and starts the sweeper.
func (b *Backend) create(ctx context.Context) error {
	iv := b.coll.Indexes()
	if _, err := iv.CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "owner", Value: 1}}, Options: options.Index().SetName(ownerIndex)}); err != nil {
		return fmt.Errorf("create the owner index: %w", err)
	}
	_, err := iv.CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "expiry", Value: 1}}, Options: options.Index().SetName(expiryIndex).SetExpireAfterSeconds(0)})
	sweep := ttlRefused(err)
	if sweep {
		_, err = iv.CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "expiry", Value: 1}}, Options: options.Index().SetName(expiryIndex)})
	}
	if err != nil {
		return fmt.Errorf("create the expiry index: %w", err)
	}
	if sweep {
		b.startSweeper()
	} else {
		b.expiry.Store(byTTLIndex)
	}
	return nil
}

// ttlRefused reports whether err is a server's refusal of TTL indexes
// (FerretDB 1.x: NotImplemented), rather than a failure.
func ttlRefused(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 238 || ce.Name == "NotImplemented")
}

// Load implements session.Backend: one find, or with refresh one
// findAndModify that also pushes the expiry back.
func (b *Backend) Load(ctx context.Context, key string, refresh time.Duration) ([]byte, bool, error) {
	if err := b.ensure(ctx); err != nil {
		return nil, false, err
	}
	now := time.Now()
	var res *mongo.SingleResult
	if refresh > 0 {
		unlock, err := b.lock(ctx, key)
		if err != nil {
			return nil, false, err
		}
		defer unlock()
		// Without a projection: FerretDB 1.x has none for findAndModify.
		res = b.coll.FindOneAndUpdate(ctx, live(b.id(key), now), bson.D{{Key: "$set", Value: bson.D{{Key: "expiry", Value: expiry(now, refresh)}}}})
	} else {
		// By _id alone, the whole document, the expiry checked here: through
		// the service (wrk -c32), FerretDB 1.x served 2.2 to 2.8 times as
		// many reads a second by _id as by _id and expiry, and spent 560 to
		// 655 µs of CPU a read without a projection, 700 to 727 with one.
		res = b.coll.FindOne(ctx, bson.D{{Key: "_id", Value: b.id(key)}})
	}
	raw, err := res.Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if exp, ok := raw.Lookup("expiry").TimeOK(); !ok || !exp.After(now) {
		return nil, false, nil // expired: never served
	}
	data, err := dataJSON(raw)
	if err != nil {
		return nil, false, fmt.Errorf("session %s: %w", key, err)
	}
	return data, true, nil
}

// live is the filter of the unexpired document with _id id.
func live(id string, now time.Time) bson.D {
	return bson.D{{Key: "_id", Value: id}, {Key: "expiry", Value: bson.D{{Key: "$gt", Value: now}}}}
}

// expiry is when a record written now with ttl expires: at least a
// millisecond on, BSON dates having no finer grain.
func expiry(now time.Time, ttl time.Duration) time.Time {
	return now.Add(max(ttl, time.Millisecond))
}

// dataJSON is the session JSON of a document's data.
func dataJSON(doc bson.Raw) ([]byte, error) {
	v, err := doc.LookupErr("data")
	if err != nil {
		return nil, errors.New("the document has no data")
	}
	d, ok := v.DocumentOK()
	if !ok {
		return nil, fmt.Errorf("the document's data is a BSON %v, not a document", v.Type)
	}
	return appendJSON(nil, d)
}

func (b *Backend) id(key string) string { return b.cfg.Prefix + key }

// lock waits, no longer than ctx allows, until this process writes key
// alone, and returns the unlock (see the package doc: FerretDB).
func (b *Backend) lock(ctx context.Context, key string) (func(), error) {
	l := b.locks[maphash.String(b.seed, key)%uint64(len(b.locks))]
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Ping implements session.Backend: the server answers, and has the
// indexes (made now if they are missing).
func (b *Backend) Ping(ctx context.Context) error {
	if err := b.ensure(ctx); err != nil {
		return err
	}
	return b.client.Ping(ctx, nil)
}

// Close stops the sweeper and disconnects.
func (b *Backend) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := b.client.Disconnect(ctx)
	if errors.Is(err, mongo.ErrClientDisconnected) {
		return nil
	}
	return err
}

// Describe implements session.Describer: the hosts (never credentials),
// database and collection, and how expired documents go.
func (b *Backend) Describe() map[string]string {
	return map[string]string{
		"hosts":      b.hosts,
		"database":   b.cfg.Database,
		"collection": b.cfg.Collection,
		"expiry":     b.expiry.Load().(string),
	}
}
