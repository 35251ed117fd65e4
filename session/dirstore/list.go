package dirstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
)

// dirListBatch is how many sessions List hands over at a time.
const dirListBatch = 500

// List implements session.Lister by reading the directory: every session file
// whose name starts with prefix and that has not expired.
func (d *Backend) List(ctx context.Context, prefix string, fn func([]session.Stored) error) error {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return err
	}
	var keys []string
	for i, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, prefix) && !strings.HasPrefix(name, ".") && e.Type().IsRegular() { // not the lock or a temporary file
			keys = append(keys, name)
		}
		if len(keys) == dirListBatch || i == len(entries)-1 && len(keys) > 0 {
			recs, err := d.Get(ctx, keys...)
			if err == nil && len(recs) > 0 {
				err = fn(recs)
			}
			if err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	return nil
}

// Get implements session.Lister, leaving out missing and expired sessions.
func (d *Backend) Get(ctx context.Context, keys ...string) ([]session.Stored, error) {
	var recs []session.Stored
	now := time.Now()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, expiry, err := d.read(k, now)
		if err != nil {
			return nil, err
		}
		if data != nil {
			recs = append(recs, session.Stored{Key: k, Data: data, TTL: expiry.Sub(now)})
		}
	}
	return recs, nil
}

// Location implements session.Inspector: the session's file.
func (d *Backend) Location(key string) string { return d.file(key) }

// TTL implements session.Inspector: the file's modification time is its expiry.
func (d *Backend) TTL(_ context.Context, key string) (time.Duration, bool, error) {
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
