package dirstore_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/dirstore"
	"github.com/sessionsvc/sessionsvc/session/sessiontest"
)

func TestConformance(t *testing.T) { sessiontest.Run(t, newBackend) }

func BenchmarkStore(b *testing.B) { sessiontest.Bench(b, newBackend) }

// newBackend is a Backend in a fresh temporary directory.
func newBackend(t testing.TB) session.Backend {
	b, err := dirstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestDirFilesAndExpiry(t *testing.T) {
	dir := t.TempDir()
	d, err := dirstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := t.Context()
	id := session.NewID()
	if err := d.Write(ctx, session.Record{Key: id, Data: []byte(`{"email":"a@example.com"}`), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, id)
	if got, _ := os.ReadFile(name); string(got) != `{"email":"a@example.com"}` {
		t.Errorf("file holds %q", got)
	}
	if fi, _ := os.Stat(name); time.Until(fi.ModTime()) < 59*time.Minute {
		t.Errorf("file time %v, want an hour from now", fi.ModTime())
	}

	// A refresh moves the expiry; an expired file is gone.
	os.Chtimes(name, time.Time{}, time.Now().Add(time.Minute))
	if _, found, err := d.Load(ctx, id, 2*time.Hour); !found || err != nil {
		t.Fatalf("Load = %v, %v", found, err)
	}
	if fi, _ := os.Stat(name); time.Until(fi.ModTime()) < 119*time.Minute {
		t.Errorf("refresh left the expiry at %v", fi.ModTime())
	}
	os.Chtimes(name, time.Time{}, time.Now().Add(-time.Second))
	if _, found, _ := d.Load(ctx, id, 0); found {
		t.Error("expired session loaded")
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Error("expired file not removed")
	}
	if err := d.Write(ctx, session.Record{Key: id}); err != nil {
		t.Errorf("Delete of a missing session: %v", err)
	}
}

func TestDirSweep(t *testing.T) {
	dir := t.TempDir()
	d, err := dirstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	live, dead := session.NewID(), session.NewID()
	d.Write(t.Context(), session.Record{Key: live, Data: []byte(`{}`), TTL: time.Hour}, session.Record{Key: dead, Data: []byte(`{}`), TTL: time.Hour})
	os.Chtimes(filepath.Join(dir, dead), time.Time{}, time.Now().Add(-time.Second))
	os.WriteFile(filepath.Join(dir, ".tmp-new"), nil, 0o600) // a write in progress
	os.WriteFile(filepath.Join(dir, ".tmp-old"), nil, 0o600)
	os.Chtimes(filepath.Join(dir, ".tmp-old"), time.Time{}, time.Now().Add(-2*time.Minute))
	os.Chtimes(filepath.Join(dir, ".lock"), time.Time{}, time.Now().Add(-time.Hour)) // the lock file, however old, stays

	d.Sweep(time.Now())
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{live, ".lock", ".tmp-new"}; len(left) != len(want) || !slices.Contains(left, ".lock") || !slices.Contains(left, ".tmp-new") || !slices.Contains(left, live) {
		t.Errorf("after sweep: %q, want %q", left, want)
	}
}

// TestNewRefusesSharedDirectories: whoever else can write the session
// directory, or a directory above it, could plant a session under an ID
// they then send as a cookie; New refuses such a directory, whether it
// existed or New made it.
func TestNewRefusesSharedDirectories(t *testing.T) {
	const other = 4242 // a uid that is not this process's
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string // the SESSION_FILE_DIR to try
		err  string                    // a part of New's error; "" for none
	}{
		{"private", func(t *testing.T) string { return t.TempDir() }, ""},
		{"readable by others", func(t *testing.T) string { return chmod(t, t.TempDir(), 0o755) }, ""},
		{"made in a private directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "a", "sessions") }, ""},
		{"made in a sticky shared directory", func(t *testing.T) string {
			return filepath.Join(chmod(t, t.TempDir(), 0o777|os.ModeSticky), "sessions")
		}, ""},
		{"a link to a private directory", func(t *testing.T) string { return symlink(t, t.TempDir()) }, ""},

		{"writable by all", func(t *testing.T) string { return chmod(t, t.TempDir(), 0o777) }, "is writable by its group or others (mode 0777)"},
		{"writable by its group", func(t *testing.T) string { return chmod(t, t.TempDir(), 0o770) }, "is writable by its group or others (mode 0770)"},
		{"another user's", func(t *testing.T) string { return chown(t, t.TempDir(), other) }, "belongs to uid 4242, not to this process's user"},
		{"made in a shared directory", func(t *testing.T) string {
			return filepath.Join(chmod(t, t.TempDir(), 0o777), "sessions")
		}, ", which holds the session directory, is writable by its group or others (mode 0777)"},
		{"made in another user's directory", func(t *testing.T) string {
			return filepath.Join(chown(t, t.TempDir(), other), "sessions")
		}, ", which holds the session directory, belongs to uid 4242"},
		{"made in another user's sticky directory", func(t *testing.T) string {
			return filepath.Join(chown(t, chmod(t, t.TempDir(), 0o777|os.ModeSticky), other), "sessions")
		}, ", which holds the session directory, belongs to uid 4242"},
		{"a link to a shared directory", func(t *testing.T) string { return symlink(t, chmod(t, t.TempDir(), 0o777)) }, "is writable by its group or others (mode 0777)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			b, err := dirstore.New(dir)
			if err == nil {
				b.Close()
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("New(%s) = %v, want a store", dir, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("New(%s) = %v, want an error containing %q", dir, err, tc.err)
			}
		})
	}
}

// TestNewKeepsTheCheckedPath: a store opened through a symbolic link keeps
// the directory it checked, wherever the link points later.
func TestNewKeepsTheCheckedPath(t *testing.T) {
	dir := t.TempDir()
	link := symlink(t, dir)
	d, err := dirstore.New(link)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(chmod(t, t.TempDir(), 0o777), link); err != nil {
		t.Fatal(err)
	}
	id := session.NewID()
	if err := d.Write(t.Context(), session.Record{Key: id, Data: []byte(`{}`), TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, id)); err != nil {
		t.Errorf("the session was not written where New checked: %v", err)
	}
	if got := d.Location(id); got != filepath.Join(dir, id) {
		t.Errorf("Location = %s, want %s", got, filepath.Join(dir, id))
	}
}

func chmod(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chown gives dir to uid, which only root can do.
func chown(t *testing.T, dir string, uid int) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("giving a directory to another user needs root")
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// symlink returns a new symbolic link to dir.
func symlink(t *testing.T, dir string) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	return link
}
