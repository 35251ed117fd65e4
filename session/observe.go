package session

import (
	"context"
	"time"
)

// Op is a kind of backend operation, as reported to Config.Observe.
type Op string

// The operations. Load reads a session; Refresh is a read that also pushes
// its expiry back (and any follow-up that keeps the owner index in step);
// Save writes one (a renewal included); Delete ends sessions; Conflict is a
// write that found the session changed by another request since it was
// loaded, and so wrote nothing (Save then writes both requests' changes).
const (
	OpLoad     Op = "load"
	OpRefresh  Op = "refresh"
	OpSave     Op = "save"
	OpDelete   Op = "delete"
	OpConflict Op = "conflict"
)

// write is Backend.Write, observed as op, or as OpConflict, without an
// error, when it returns a *Conflict.
func (s *Store) write(ctx context.Context, op Op, recs ...Record) error {
	start := time.Now()
	err := s.cfg.Backend.Write(ctx, recs...)
	if isConflict(err) {
		s.cfg.Observe(OpConflict, time.Since(start), nil)
	} else {
		s.cfg.Observe(op, time.Since(start), err)
	}
	return err
}
