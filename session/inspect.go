package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"
)

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
