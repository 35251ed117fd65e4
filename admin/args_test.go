package admin

import (
	"bytes"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/session"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want options
		err  string // a part of the *UsageError's message; "" for none
	}{
		{name: "count", args: []string{"count"}, want: options{cmd: "count"}},
		{name: "email after the command", args: []string{"list", "--email", "a@b.c"}, want: options{cmd: "list", email: "a@b.c"}},
		{name: "email with = before the command", args: []string{"--email=a@b.c", "list"}, want: options{cmd: "list", email: "a@b.c"}},
		{name: "one-dash email", args: []string{"list", "-email", "a@b.c"}, want: options{cmd: "list", email: "a@b.c"}},
		{name: "email value that looks like a flag", args: []string{"list", "--email", "--full-ids"}, want: options{cmd: "list", email: "--full-ids"}},
		{name: "full-ids after the argument", args: []string{"show", "AbCdEfGh", "--full-ids"}, want: options{cmd: "show", arg: "AbCdEfGh", full: true}},
		{name: "full-ids before the command", args: []string{"--full-ids", "list"}, want: options{cmd: "list", full: true}},
		{name: "full-ids=true", args: []string{"list", "--full-ids=true"}, want: options{cmd: "list", full: true}},
		{name: "one-dash ID after a flag", args: []string{"show", "-full-ids", "-AbCdEf"}, want: options{cmd: "show", arg: "-AbCdEf", full: true}},
		{name: "one-dash ID after a two-dash flag", args: []string{"revoke", "--full-ids", "-dashed-id"}, want: options{cmd: "revoke", arg: "-dashed-id", full: true}},
		{name: "one-dash ID that starts like a flag", args: []string{"show", "-emailXYZ"}, want: options{cmd: "show", arg: "-emailXYZ"}},
		{name: "two-dash ID after --", args: []string{"show", "--", "--AbCdE"}, want: options{cmd: "show", arg: "--AbCdE"}},
		{name: "flag-named ID after --", args: []string{"revoke", "--full-ids", "--", "--full-ids"}, want: options{cmd: "revoke", arg: "--full-ids", full: true}},
		{name: "email after --", args: []string{"revoke-email", "--", "-x@example.com"}, want: options{cmd: "revoke-email", arg: "-x@example.com"}},
		{name: "help", args: []string{"--help"}, want: options{help: true}},
		{name: "-h after a command", args: []string{"list", "-h"}, want: options{help: true}},
		{name: "-help with a bad command", args: []string{"frobnicate", "-help"}, want: options{help: true}},

		{name: "nothing", args: nil, err: "no command given\n\nusage: sessionsvc sessions"},
		{name: "only flags", args: []string{"--full-ids"}, err: "no command given"},
		{name: "unknown command", args: []string{"frobnicate"}, err: `unknown command "frobnicate"`},
		{name: "show without ID", args: []string{"show"}, err: "show takes 1 argument(s), got 0"},
		{name: "count with an argument", args: []string{"count", "x"}, err: "count takes 0 argument(s), got 1"},
		{name: "two IDs", args: []string{"revoke", "AbCdEfGh", "--", "-AbCdEf"}, err: "revoke takes 1 argument(s), got 2"},
		{name: "email with count", args: []string{"count", "--email", "a@b.c"}, err: "--email goes with list only"},
		{name: "email with revoke", args: []string{"revoke", "AbCdEfGh", "--email=a@b.c"}, err: "--email goes with list only"},
		{name: "blank email", args: []string{"revoke-email", " "}, err: "revoke-email needs a non-empty argument"},
		{name: "short ID", args: []string{"revoke", "abc"}, err: `"abc" is too short to name a session`},
		{name: "unknown two-dash flag", args: []string{"list", "--color"}, err: "flag provided but not defined: -color\n\nusage:"},
		{name: "email without its value", args: []string{"list", "--email"}, err: "flag needs an argument: -email"},
		{name: "bad boolean", args: []string{"list", "--full-ids=maybe"}, err: `invalid boolean value "maybe" for -full-ids`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseArgs(tc.args)
			if tc.err != "" {
				var ue *UsageError
				if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tc.err) {
					t.Fatalf("parseArgs(%q) = %+v, %v; want a *UsageError containing %q", tc.args, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseArgs(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
			}
		})
	}
}

// TestRunChecksBeforeOpening: a bad command line, a request for help and a
// cookie store are all answered without opening the store.
func TestRunChecksBeforeOpening(t *testing.T) {
	for _, tc := range []struct {
		name       string
		store      string // SESSION_TYPE
		args       []string
		usageError bool
		err        string // a part of the error; "" for none
		stdout     string // a part of the output
	}{
		{name: "help", store: "redis", args: []string{"--help"}, stdout: "usage: sessionsvc sessions COMMAND"},
		{name: "bad flag", store: "redis", args: []string{"list", "--color"}, usageError: true, err: "flag provided but not defined"},
		{name: "bad command", store: "redis", args: []string{"frobnicate"}, usageError: true, err: `unknown command "frobnicate"`},
		{name: "cookie store", store: "cookie", args: []string{"list"}, err: "nothing on the server"},
		{name: "migrate without SQL", store: "redis", args: []string{"migrate"}, err: "migrate is for SESSION_TYPE=sqlalchemy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opened := false
			open := func() (*session.Store, error) {
				opened = true
				return nil, errors.New("opened")
			}
			var out bytes.Buffer
			err := Run(t.Context(), config.Config{SessionType: tc.store}, open, tc.args, &out)
			if opened {
				t.Error("Run opened the store")
			}
			var ue *UsageError
			if errors.As(err, &ue) != tc.usageError {
				t.Errorf("Run(%q) = %v; a *UsageError: %v, want %v", tc.args, err, !tc.usageError, tc.usageError)
			}
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Run(%q) = %v, want an error containing %q", tc.args, err, tc.err)
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("Run(%q) printed %q, want it to contain %q", tc.args, out.String(), tc.stdout)
			}
		})
	}
}

// TestMigratePrintsTheDDL: "sessions migrate" prints, without opening the
// store, statements that create the table the store would create.
func TestMigratePrintsTheDDL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	for _, tc := range []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{SessionType: "sqlalchemy", SQL: config.SQLURL{Dialect: "postgres"}, SQLTable: "sessions", SQLSchema: "app"}, `CREATE INDEX IF NOT EXISTS "sessions_expiry" ON "app"."sessions" (expiry);`},
		{config.Config{SessionType: "sqlalchemy", SQL: config.SQLURL{Dialect: "mysql"}, SQLTable: "web_sessions"}, "INDEX `web_sessions_expiry` (expiry)\n);"},
		{config.Config{SessionType: "sqlalchemy", SQL: config.SQLURL{Dialect: "sqlite", DSN: path}, SQLTable: "sessions"}, `CREATE TABLE IF NOT EXISTS "sessions" (`},
	} {
		var out bytes.Buffer
		open := func() (*session.Store, error) { return nil, errors.New("opened") }
		if err := Run(t.Context(), tc.cfg, open, []string{"migrate"}, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: printed\n%s\nwant it to contain %q", tc.cfg.SQL.Dialect, out.String(), tc.want)
		}
		if tc.cfg.SQL.Dialect != "sqlite" {
			continue
		}
		// What it prints runs, and makes a table the store uses as its own.
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(out.String()); err != nil {
			t.Fatalf("the printed DDL: %v", err)
		}
		if _, err := db.Exec("INSERT INTO sessions (id, data, expiry) VALUES ('k', '{}', 1)"); err != nil {
			t.Errorf("the table made by the printed DDL: %v", err)
		}
	}
}
