package sessionstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"
)

// dirListBatch is how many sessions List hands over at a time.
const dirListBatch = 1000

// List implements Lister by reading the directory: every session file
// whose name starts with prefix and that has not expired.
func (d *Dir) List(ctx context.Context, prefix string, fn func([]Stored) error) error {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return err
	}
	var keys []string
	for i, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, prefix) && !strings.HasPrefix(name, ".tmp-") && e.Type().IsRegular() {
			keys = append(keys, name)
		}
		if len(keys) == dirListBatch || i == len(entries)-1 && len(keys) > 0 {
			if err := listKeys(ctx, d, keys, fn); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	return nil
}

// Get implements Lister, leaving out missing and expired sessions.
func (d *Dir) Get(ctx context.Context, keys ...string) ([]Stored, error) {
	var recs []Stored
	now := time.Now()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fi, err := os.Stat(d.file(k))
		if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.ModTime().After(now) {
			continue
		}
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(d.file(k))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, Stored{Key: k, Data: data, TTL: fi.ModTime().Sub(now)})
	}
	return recs, nil
}
