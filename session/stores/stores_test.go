package stores_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/internal/memcachedtest"
	"github.com/sessionsvc/sessionsvc/internal/mongotest"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
	"github.com/sessionsvc/sessionsvc/internal/sqltest"
	"github.com/sessionsvc/sessionsvc/session/stores"
)

func load(t *testing.T, env ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(append(env, "HOME="+t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Every SESSION_TYPE opens a store that answers, and whose close function
// closes it.
func TestOpen(t *testing.T) {
	srv, mongo := redistest.New(t), mongotest.Start(t)
	for _, tc := range []struct {
		name string
		env  []string
		find bool // its sessions can be found on the server
	}{
		{"redis", []string{"SESSION_TYPE=redis", "SESSION_REDIS=" + srv.URL}, true},
		{"filesystem", []string{"SESSION_TYPE=filesystem", "SESSION_FILE_DIR=" + t.TempDir()}, true},
		{"sqlalchemy", []string{"SESSION_TYPE=sqlalchemy", "SQLALCHEMY_DATABASE_URI=" + sqltest.SQLite(t)}, true},
		{"sql on PostgreSQL", []string{"SESSION_TYPE=sql", "SQLALCHEMY_DATABASE_URI=" + sqltest.Postgres(t)}, true},
		{"memcached", []string{"SESSION_TYPE=memcached", "SESSION_MEMCACHED=" + memcachedtest.Start(t).Addr()}, false},
		{"mongodb", []string{"SESSION_TYPE=mongodb", "SESSION_MONGODB=" + mongo.URI(), "SESSION_MONGODB_DB=" + mongo.Database}, true},
		{"cookie", []string{"SESSION_TYPE=cookie"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, closeStore, err := stores.Open(load(t, tc.env...), stores.Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Ping(t.Context()); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if store.CanList() != tc.find {
				t.Errorf("CanList() = %v, want %v", store.CanList(), tc.find)
			}
			if err := closeStore(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

// A key prefix that would make keys Memcached refuses is a configuration
// error that names the variable.
func TestOpenBadMemcachedPrefix(t *testing.T) {
	_, _, err := stores.Open(load(t, "SESSION_TYPE=memcached", "SESSION_KEY_PREFIX=my sessions:"), stores.Hooks{})
	if cerr, ok := errors.AsType[*config.Error](err); !ok || cerr.Var != "SESSION_KEY_PREFIX" {
		t.Errorf("Open = %v, want a config error naming SESSION_KEY_PREFIX", err)
	}
}

// A MongoDB URI whose options the driver refuses is a configuration error
// that names the variable and hides the password.
func TestOpenBadMongoDBOptions(t *testing.T) {
	_, _, err := stores.Open(load(t, "SESSION_TYPE=mongodb", "SESSION_MONGODB=mongodb://app:hunter2@db/?maxPoolSize=many"), stores.Hooks{})
	if cerr, ok := errors.AsType[*config.Error](err); !ok || cerr.Var != "SESSION_MONGODB" || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open = %v, want a config error naming SESSION_MONGODB, without the password", err)
	}
}

// A session directory that cannot be created is a configuration error
// that names the variable.
func TestOpenBadFileDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := stores.Open(load(t, "SESSION_FILE_DIR="+filepath.Join(file, "sessions")), stores.Hooks{})
	if cerr, ok := errors.AsType[*config.Error](err); !ok || cerr.Var != "SESSION_FILE_DIR" {
		t.Errorf("Open = %v, want a config error naming SESSION_FILE_DIR", err)
	}
}

// A session directory that other users can write is a configuration error
// that names the variable and says what is wrong with the directory.
func TestOpenRefusesASharedFileDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, _, err := stores.Open(load(t, "SESSION_FILE_DIR="+dir), stores.Hooks{})
	want := `SESSION_FILE_DIR="` + dir + `": want a directory this process can create and write, owned by its user and writable by no one else: ` + dir + ` is writable by its group or others (mode 0777)`
	if _, ok := errors.AsType[*config.Error](err); !ok || err.Error() != want {
		t.Errorf("Open = %v, want the config error %s", err, want)
	}
}
