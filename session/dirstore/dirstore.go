// Package dirstore keeps sessions as files in a directory, as
// session.Backend: the embedded default store, so that the service runs
// with nothing else installed.
package dirstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
)

// Backend keeps sessions as files in a directory: one file per session, named by
// its ID and holding its JSON. A file's modification time is set to its
// expiry, so a refresh is a single chtimes and no metadata is mixed into the
// data. Expired files are ignored when read and swept every few minutes.
//
// Writes take the directory's lock (a file named .lock, locked with flock,
// and a mutex within the process), so that a conditional write compares
// and replaces a file as one unit across every process sharing the
// directory. Reads take no lock: a file is always replaced whole.
type Backend struct {
	path string
	mu   sync.Mutex // held with lock's flock
	lock *os.File
	stop chan struct{}
	done chan struct{}
}

// lockName is the lock file, in the session directory.
const lockName = ".lock"

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
	lock, err := os.OpenFile(filepath.Join(path, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open session directory's lock: %w", err)
	}
	d := &Backend{path: path, lock: lock, stop: make(chan struct{}), done: make(chan struct{})}
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
	now := time.Now()
	data, _, err := d.read(key, now)
	if data == nil || err != nil {
		return nil, false, err
	}
	if refresh > 0 {
		if err := os.Chtimes(d.file(key), time.Time{}, now.Add(refresh)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
	}
	return data, true, nil
}

// read returns the data of the session file of key and its expiry; nil
// data when there is none, or it expired before now (it is then removed).
func (d *Backend) read(key string, now time.Time) ([]byte, time.Time, error) {
	name := d.file(key)
	fi, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	if !fi.ModTime().After(now) {
		os.Remove(name)
		return nil, time.Time{}, nil
	}
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) { // deleted since the stat
		return nil, time.Time{}, nil
	}
	return data, fi.ModTime(), err
}

// Write implements session.Backend under the directory's lock: it first
// checks that every conditional record's file still holds what was loaded,
// then writes the records one after the other. Each file is written under
// a temporary name and renamed into place, so readers never see half a
// session.
func (d *Backend) Write(_ context.Context, recs ...session.Record) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := lockFile(d.lock); err != nil {
		return fmt.Errorf("lock session directory: %w", err)
	}
	defer unlockFile(d.lock)
	now := time.Now()
	for _, r := range recs {
		if r.Loaded == nil {
			continue
		}
		data, _, err := d.read(r.Key, now)
		if err != nil {
			return err
		}
		if !bytes.Equal(data, r.Loaded) {
			return &session.Conflict{Key: r.Key, Data: data}
		}
	}
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

// Close stops the sweeper and closes the lock file.
func (d *Backend) Close() error {
	close(d.stop)
	<-d.done
	return d.lock.Close()
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
		switch {
		case e.Name() == lockName:
			continue
		case strings.HasPrefix(e.Name(), ".tmp-"):
			cutoff = now.Add(-time.Minute)
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(d.path, e.Name()))
		}
	}
}
