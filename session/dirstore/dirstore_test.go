package dirstore_test

import (
	"os"
	"path/filepath"
	"slices"
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

	d.Sweep(time.Now())
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 2 || !slices.Contains(left, ".tmp-new") || !slices.Contains(left, live) {
		t.Errorf("after sweep: %q, want [.tmp-new %s]", left, live)
	}
}
