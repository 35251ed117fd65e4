// Package dirstore keeps sessions as files in a directory, as
// session.Backend: the embedded default store, so that the service runs
// with nothing else installed.
package dirstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
)

// Backend keeps sessions as files in a directory: one file per session, named by
// its ID and holding its JSON. A file's modification time is set to its
// expiry, so a refresh is a single chtimes and no metadata is mixed into the
// data. Expired files are ignored when read and swept every few minutes.
type Backend struct {
	path string
	stop chan struct{}
	done chan struct{}
}

// dirSweepEvery is how often expired session files are removed.
const dirSweepEvery = 5 * time.Minute

// Backend's abilities (see session/backend.go).
var (
	_ session.Backend   = (*Backend)(nil)
	_ session.Lister    = (*Backend)(nil)
	_ session.Inspector = (*Backend)(nil)
)

// New returns a Backend in path, creating the directory (mode 0700)
// if needed, and starts its sweeper; Close stops it.
//
// Whoever can write the directory can plant a session under any ID, so New
// refuses a directory, existing or just made, that belongs to another user
// or that its group or others can write. The directories above it must
// belong to this user or root and be writable by no one else, unless they
// are sticky like /tmp: whoever can write one could move the session
// directory away and put their own in its place. Symbolic links are
// resolved once, here; the store keeps the path it checked. (On systems
// without Unix owners and modes, such as Windows, nothing is checked.)
func New(path string) (*Backend, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create session directory: %w", err)
	}
	path, err := private(path)
	if err != nil {
		return nil, err
	}
	d := &Backend{path: path, stop: make(chan struct{}), done: make(chan struct{})}
	go d.sweepEvery(dirSweepEvery)
	return d, nil
}

// private returns path absolute and with no symbolic links, once
// checkPrivate has found that only this process's user can write it and
// the directories above it (see New).
func private(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("resolve session directory: %w", err)
	}
	if err := checkPrivate(abs); err != nil {
		return "", err
	}
	return abs, nil
}

func (d *Backend) file(key string) string { return filepath.Join(d.path, key) }

// Load implements session.Backend.
func (d *Backend) Load(_ context.Context, key string, refresh time.Duration) ([]byte, bool, error) {
	name := d.file(key)
	fi, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	now := time.Now()
	if !fi.ModTime().After(now) {
		os.Remove(name)
		return nil, false, nil
	}
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) { // deleted since the stat
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if refresh > 0 {
		if err := os.Chtimes(name, time.Time{}, now.Add(refresh)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
	}
	return data, true, nil
}

// Write implements session.Backend, one record after the other. Each file is
// written under a temporary name and renamed into place, so readers never see
// half a session.
func (d *Backend) Write(_ context.Context, recs ...session.Record) error {
	for _, r := range recs {
		if err := d.write(r); err != nil {
			return err
		}
	}
	return nil
}

func (d *Backend) write(r session.Record) error {
	if r.Data == nil {
		if err := os.Remove(d.file(r.Key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if r.Existing {
		if _, err := os.Stat(d.file(r.Key)); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	f, err := os.CreateTemp(d.path, ".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(r.Data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp, time.Time{}, time.Now().Add(r.TTL))
	}
	if err == nil {
		err = os.Rename(tmp, d.file(r.Key))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Ping implements session.Backend: the directory must still exist.
func (d *Backend) Ping(context.Context) error {
	fi, err := os.Stat(d.path)
	if err == nil && !fi.IsDir() {
		err = fmt.Errorf("%s is not a directory", d.path)
	}
	return err
}

// Close stops the sweeper.
func (d *Backend) Close() error {
	close(d.stop)
	<-d.done
	return nil
}

func (d *Backend) sweepEvery(every time.Duration) {
	defer close(d.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.sweep(time.Now())
		}
	}
}

// sweep removes the session files that expired before now, and temporary
// files that a crash left behind (a temporary file's time is its creation).
func (d *Backend) sweep(now time.Time) {
	entries, _ := os.ReadDir(d.path)
	for _, e := range entries {
		cutoff := now
		if strings.HasPrefix(e.Name(), ".tmp-") {
			cutoff = now.Add(-time.Minute)
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(d.path, e.Name()))
		}
	}
}
