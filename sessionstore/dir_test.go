package sessionstore

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestDirFilesAndExpiry(t *testing.T) {
	dir := t.TempDir()
	d, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := t.Context()
	id := NewID()
	if err := d.Write(ctx, Record{Key: id, Data: []byte(`{"email":"a@example.com"}`), TTL: time.Hour}); err != nil {
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
	if err := d.Write(ctx, Record{Key: id}); err != nil {
		t.Errorf("Delete of a missing session: %v", err)
	}
}

func TestDirSweep(t *testing.T) {
	dir := t.TempDir()
	d, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	live, dead := NewID(), NewID()
	d.Write(t.Context(), Record{Key: live, Data: []byte(`{}`), TTL: time.Hour}, Record{Key: dead, Data: []byte(`{}`), TTL: time.Hour})
	os.Chtimes(filepath.Join(dir, dead), time.Time{}, time.Now().Add(-time.Second))
	os.WriteFile(filepath.Join(dir, ".tmp-new"), nil, 0o600) // a write in progress
	os.WriteFile(filepath.Join(dir, ".tmp-old"), nil, 0o600)
	os.Chtimes(filepath.Join(dir, ".tmp-old"), time.Time{}, time.Now().Add(-2*time.Minute))

	d.sweep(time.Now())
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 2 || !slices.Contains(left, ".tmp-new") || !slices.Contains(left, live) {
		t.Errorf("after sweep: %q, want [.tmp-new %s]", left, live)
	}
}
