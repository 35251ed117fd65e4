package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gomodule/redigo/redis"
	gsessions "github.com/gorilla/sessions"
)

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

// Snapshot describes one loaded session, for developers.
type Snapshot struct {
	// ID is the session's ID; "" when nothing is stored yet, and always for
	// sessions kept in the cookie.
	ID string
	// Key is where the server copy is kept (see Inspector.Location); ""
	// when there is none or the backend cannot tell.
	Key string
	// TTL is the time left before the server copy expires (negative: never);
	// meaningful only when TTLKnown.
	TTL      time.Duration
	TTLKnown bool
	// Values are the session's values as the store encodes them (a JSON
	// object with sorted keys); "" when the session is empty.
	Values string
}

// Inspect describes s, a session that this store loaded for the current
// request. It asks the backend only when the backend is an Inspector and the
// session has an ID; cookie sessions cost nothing. A session whose load
// failed gives its load error.
func (s *Store) Inspect(ctx context.Context, sess sessions.Session) (Snapshot, error) {
	if err := Err(sess); err != nil {
		return Snapshot{}, err
	}
	gs, ok := sess.(interface{ Session() *gsessions.Session })
	if !ok {
		return Snapshot{}, errors.New("inspect session: not a gin-contrib session")
	}
	values := gs.Session().Values
	data, err := encodeData(values, 0)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{ID: sess.ID(), Values: string(data)}
	in, ok := s.cfg.Backend.(Inspector)
	if !ok || snap.ID == "" {
		return snap, nil
	}
	key := s.Key(snap.ID)
	snap.Key = in.Location(key)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ttl, found, err := in.TTL(ctx, key)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%w: session TTL: %w", ErrUnavailable, err)
	}
	snap.TTL, snap.TTLKnown = ttl, found
	return snap, nil
}

// Location implements Inspector: the Redis key.
func (b *Redis) Location(key string) string { return b.prefix + key }

// TTL implements Inspector with one PTTL.
func (b *Redis) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	var ms int64
	err := b.do(ctx, func(c redis.Conn, timeout time.Duration) (err error) {
		ms, err = redis.Int64(redis.DoWithTimeout(c, timeout, "PTTL", b.Location(key)))
		return err
	})
	switch {
	case err != nil:
		return 0, false, err
	case ms == -2: // no such key
		return 0, false, nil
	case ms == -1: // no expiry
		return -1, true, nil
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}

// Location implements Inspector: the session's file.
func (d *Dir) Location(key string) string { return d.file(key) }

// TTL implements Inspector: the file's modification time is its expiry.
func (d *Dir) TTL(_ context.Context, key string) (time.Duration, bool, error) {
	fi, err := os.Stat(d.file(key))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	left := time.Until(fi.ModTime())
	if left <= 0 {
		return 0, false, nil
	}
	return left, true, nil
}
