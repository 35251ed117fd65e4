package session

import (
	"context"
	"time"
)

// Op is a kind of backend operation, as reported to Config.Observe.
type Op string

// The operations. Load reads a session; Refresh is a read that also pushes
// its expiry back (and any follow-up that keeps the owner index in step);
// Save writes one (a renewal included); Delete ends sessions.
const (
	OpLoad    Op = "load"
	OpRefresh Op = "refresh"
	OpSave    Op = "save"
	OpDelete  Op = "delete"
)

// write is Backend.Write, observed as op. A *Conflict is observed as a
// success: the store answered.
func (s *Store) write(ctx context.Context, op Op, recs ...Record) error {
	start := time.Now()
	err := s.cfg.Backend.Write(ctx, recs...)
	failed := err
	if isConflict(err) {
		failed = nil
	}
	s.cfg.Observe(op, time.Since(start), failed)
	return err
}
