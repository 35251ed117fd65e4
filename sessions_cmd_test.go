package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/sessionsvc/sessionsvc/internal/memcachedtest"
	"github.com/sessionsvc/sessionsvc/internal/mongotest"
	"github.com/sessionsvc/sessionsvc/internal/redistest"
)

// runBinary runs the built binary with args and env in an empty directory
// and returns its output and exit status.
func runBinary(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// runSessions runs the built binary's sessions command with env and returns its
// output and exit status.
func runSessions(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBinary(t, env, append([]string{"sessions"}, args...)...)
}

func TestSessionsCommand(t *testing.T) {
	srv := redistest.Start(t) // its command counts are checked
	env := []string{"SESSION_TYPE=redis", "SESSION_REDIS=" + srv.URL, "HOME=" + t.TempDir()}
	base, _, stop := startRun(t, env...)
	t.Cleanup(func() { stop() })
	alice1, alice2 := setEmail(t, base, "alice@example.com"), setEmail(t, base, "alice@example.com")
	bob := setEmail(t, base, "bob@example.com")
	ids := []string{}
	for _, c := range []string{alice1, alice2, bob} {
		ids = append(ids, strings.TrimPrefix(c, "session="))
	}
	srv.Do("CONFIG", "RESETSTAT")

	type check struct {
		args     []string
		code     int
		contains []string
	}
	run := func(c check) string {
		t.Helper()
		out, errOut, code := runSessions(t, env, c.args...)
		if code != c.code {
			t.Fatalf("sessions %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", c.args, code, c.code, out, errOut)
		}
		for _, s := range c.contains {
			if !strings.Contains(out+errOut, s) {
				t.Errorf("sessions %q: output lacks %q:\n%s%s", c.args, s, out, errOut)
			}
		}
		if !slices.Contains(c.args, "--full-ids") {
			for _, id := range ids {
				if strings.Contains(out+errOut, id) {
					t.Errorf("sessions %q printed a full session ID:\n%s", c.args, out)
				}
			}
		}
		return out
	}

	run(check{[]string{"count"}, 0, []string{"sessions         3", "with an email    3", "distinct emails  2"}})
	out := run(check{[]string{"list"}, 0, []string{"ID ", "EMAIL", "EXPIRES IN", "SIZE", ids[0][:8] + "…", "alice@example.com", "bob@example.com", " B\n", "3 sessions"}})
	if !regexp.MustCompile(`(30d 23h|31d 00h)`).MatchString(out) {
		t.Errorf("list does not show the 31-day expiry:\n%s", out)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 5 {
		t.Errorf("list printed %d lines, want a header, 3 rows and a total:\n%s", len(lines), out)
	}
	run(check{[]string{"list", "--email", "alice@Example.COM"}, 0, []string{ids[0][:8], ids[1][:8], "2 sessions"}}) // the domain in any case
	run(check{[]string{"list", "--full-ids"}, 0, ids})
	run(check{[]string{"show", ids[2][:8]}, 0, []string{"bob@example.com", `{"email":"bob@example.com"}`, "--full-ids shows it"}})
	run(check{[]string{"show", "--full-ids", ids[2]}, 0, []string{ids[2]}})
	run(check{[]string{"revoke", ids[0][:10]}, 0, []string{"revoked session " + ids[0][:8] + "… of alice@example.com"}})
	if _, body := get(t, base+"/get_email", alice1); !strings.Contains(body, "Please enter your email") {
		t.Error("a revoked session still works")
	}
	run(check{[]string{"revoke-email", "alice@example.com"}, 0, []string{"revoked 1 session of alice@example.com"}})
	if _, body := get(t, base+"/get_email", alice2); !strings.Contains(body, "Please enter your email") {
		t.Error("a session of a revoked email still works")
	}
	if _, body := get(t, base+"/get_email", bob); !strings.Contains(body, "Welcome bob@example.com!") {
		t.Error("another email's session was ended")
	}
	run(check{[]string{"count"}, 0, []string{"sessions         1"}})

	for _, bad := range []check{
		{nil, 2, []string{"no command given", "usage: sessionsvc sessions"}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{[]string{"show"}, 2, []string{"show takes 1 argument(s), got 0"}},
		{[]string{"revoke", "abc"}, 2, []string{"too short to name a session"}},
		{[]string{"show", "../../etc"}, 2, []string{"is not a session ID"}},
		{[]string{"count", "--email", "a@b.c"}, 2, []string{"--email goes with list only"}},
		{[]string{"list", "--color"}, 2, []string{"flag provided but not defined: -color"}},
		{[]string{"show", "zzzzzzzzzz"}, 1, []string{"no session matches zzzzzzzz…"}},
	} {
		run(bad)
	}
	// Two sessions whose IDs start alike: a short ref is ambiguous.
	srv.Do("SET", "session:QQQQQQQQ1", `{"email":"x@example.com"}`, "EX", 60)
	srv.Do("SET", "session:QQQQQQQQ2", `{"email":"x@example.com"}`, "EX", 60)
	run(check{[]string{"show", "QQQQQQ"}, 1, []string{"matches 2 sessions: give more characters"}})
	run(check{[]string{"show", "QQQQQQQQ2"}, 0, []string{"x@example.com"}})
	// Base64url IDs may start with a dash: one dash is an ID, not a flag.
	srv.Do("SET", "session:-dashed-id1", `{"email":"d@example.com"}`, "EX", 60)
	run(check{[]string{"show", "-dashed-id"}, 0, []string{"d@example.com"}})
	run(check{[]string{"revoke", "--", "-dashed-id"}, 0, []string{"revoked session -dashed-… of d@example.com"}})
	// A key with no expiry (written by hand) never expires, and has no date.
	srv.Do("SET", "session:persisted1", `{"email":"p@example.com"}`)
	run(check{[]string{"show", "persisted"}, 0, []string{"never\n"}})

	stats, _ := redis.String(srv.Do("INFO", "commandstats"), nil)
	if strings.Contains(stats, "cmdstat_keys:") || !strings.Contains(stats, "cmdstat_scan:") {
		t.Errorf("the command must walk Redis with SCAN, never KEYS:\n%s", stats)
	}

	out, errOut, code := runSessions(t, []string{"SESSION_TYPE=cookie", "HOME=" + t.TempDir()}, "list")
	if code != 1 || !strings.Contains(errOut, "nothing on the server") {
		t.Errorf("cookie sessions: exit %d, %q %q", code, out, errOut)
	}
}

// TestSessionsCommandOnMongoDB: the command lists and revokes by email
// through the owner index, and says nothing on standard error (what the
// store tells once at start is for the service's log).
func TestSessionsCommandOnMongoDB(t *testing.T) {
	mongo := mongotest.Start(t)
	env := []string{"SESSION_TYPE=mongodb", "SESSION_MONGODB=" + mongo.URI(), "SESSION_MONGODB_DB=" + mongo.Database, "HOME=" + t.TempDir()}
	base, _, stop := startRun(t, env...)
	t.Cleanup(func() { stop() })
	setEmail(t, base, "alice@example.com")
	setEmail(t, base, "alice@example.com")
	setEmail(t, base, "bob@example.com")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"count"}, "distinct emails  2"},
		{[]string{"list", "--email", "alice@example.com"}, "2 sessions"},
		{[]string{"revoke-email", "alice@example.com"}, "revoked 2 sessions of alice@example.com"},
		{[]string{"list"}, "1 session\n"},
	} {
		if out, errOut, code := runSessions(t, env, c.args...); code != 0 || !strings.Contains(out, c.want) || errOut != "" {
			t.Errorf("%v: exit %d, %q %q; want %q on standard output only", c.args, code, out, errOut, c.want)
		}
	}
}

// TestSessionsCommandOnMemcached: what Memcached cannot do (walk its keys)
// the command refuses plainly, naming the store; a session is still shown
// and revoked by its whole ID.
func TestSessionsCommandOnMemcached(t *testing.T) {
	env := []string{"SESSION_TYPE=memcached", "SESSION_MEMCACHED=" + memcachedtest.Start(t).Addr(), "HOME=" + t.TempDir()}
	for _, args := range [][]string{{"count"}, {"list"}, {"list", "--email", "a@example.com"}, {"revoke-email", "a@example.com"}} {
		out, errOut, code := runSessions(t, env, args...)
		if code != 1 || !strings.Contains(errOut, "SESSION_TYPE=memcached cannot "+args[0]+": Memcached has no index of its keys") || out != "" {
			t.Errorf("%v: exit %d, %q %q", args, code, out, errOut)
		}
	}
	if out, errOut, code := runSessions(t, env, "show", "abcdefgh"); code != 2 || !strings.Contains(errOut, "SESSION_TYPE=memcached finds a session by its whole ID only") {
		t.Errorf("show with part of an ID: exit %d, %q %q", code, out, errOut)
	}

	base, _, stop := startRun(t, env...)
	t.Cleanup(func() { stop() })
	cookie := setEmail(t, base, "alice@example.com")
	id := strings.TrimPrefix(cookie, "session=")
	if out, errOut, code := runSessions(t, env, "show", id); code != 0 || !strings.Contains(out, "alice@example.com") {
		t.Errorf("show: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := runSessions(t, env, "revoke", id); code != 0 || !strings.Contains(out, "revoked session") {
		t.Errorf("revoke: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := runSessions(t, env, "show", id); code != 1 || !strings.Contains(errOut, "no session matches") {
		t.Errorf("show after revoke: exit %d, %q %q", code, out, errOut)
	}
}

func TestSessionsCommandOnADirectory(t *testing.T) {
	env := []string{"SESSION_TYPE=filesystem", "SESSION_FILE_DIR=" + t.TempDir(), "HOME=" + t.TempDir()}
	base, _, stop := startRun(t, env...)
	t.Cleanup(func() { stop() })
	setEmail(t, base, "alice@example.com")
	setEmail(t, base, "bob@example.com")
	out, errOut, code := runSessions(t, env, "list")
	if code != 0 || !strings.Contains(out, "alice@example.com") || !strings.Contains(out, "2 sessions") {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := runSessions(t, env, "revoke-email", "bob@example.com"); code != 0 || !strings.Contains(out, "revoked 1 session") {
		t.Errorf("revoke-email: exit %d\n%s", code, out)
	}
}

// TestSessionsCommandEscapesWhatItPrints: stored emails and keys may hold
// characters that act on a terminal or hide in the text (sessions written
// before the form refused them, or by other programs); the command prints
// each such string Go-quoted, with escapes, and plain ones as they are.
func TestSessionsCommandEscapesWhatItPrints(t *testing.T) {
	dir := t.TempDir()
	env := []string{"SESSION_TYPE=filesystem", "SESSION_FILE_DIR=" + dir, "HOME=" + t.TempDir()}
	const (
		bidi  = "evil\u202e@x.org"
		ctrl  = "a\tb\u009b2J\u200b\u2028@x.org"
		oddID = "odd\u202eKEYXXXXX"
	)
	for key, email := range map[string]string{
		"plainXXXXXXXX": "alice@example.com",
		"quoteXXXXXXXX": `"john doe"@example.com`,
		"bidiXXXXXXXXX": bidi,
		"ctrlXXXXXXXXX": ctrl,
		oddID:           "k@x.org",
	} {
		data, _ := json.Marshal(map[string]string{"email": email})
		name := filepath.Join(dir, key)
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, time.Time{}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string // parts of stdout
	}{
		{[]string{"list"}, []string{"alice@example.com ", `"john doe"@example.com `, `"evil\u202e@x.org" `, `"a\tb\u009b2J\u200b\u2028@x.org" `, `"odd\u202eKE"… `, "5 sessions"}},
		{[]string{"list", "--full-ids"}, []string{`"odd\u202eKEYXXXXX" `}},
		{[]string{"list", "--email", ctrl}, []string{`"a\tb\u009b2J\u200b\u2028@x.org" `, "1 session"}},
		{[]string{"show", "bidiXX"}, []string{"email       \"evil\\u202e@x.org\"\n", `values      {"email":"evil\u202e@x.org"}`}},
		{[]string{"show", "ctrlXX"}, []string{`values      {"email":"a\tb\u009b2J\u200b\u2028@x.org"}`}},
		{[]string{"show", "plainX"}, []string{"email       alice@example.com\n", `values      {"email":"alice@example.com"}`}},
		{[]string{"revoke", "bidiXX"}, []string{`revoked session bidiXXXX… of "evil\u202e@x.org"`}},
		{[]string{"revoke-email", ctrl}, []string{`revoked 1 session of "a\tb\u009b2J\u200b\u2028@x.org"`}},
	} {
		out, errOut, code := runSessions(t, env, tc.args...)
		if code != 0 {
			t.Fatalf("sessions %q: exit %d\n%s%s", tc.args, code, out, errOut)
		}
		for _, r := range out {
			if r != '\n' && !strconv.IsPrint(r) {
				t.Errorf("sessions %q printed %U as it is:\n%q", tc.args, r, out)
				break
			}
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("sessions %q: output lacks %s:\n%s", tc.args, w, out)
			}
		}
	}
}

// TestHelp: the binary's and the sessions command's usage go to stdout with
// exit 0; a mistyped command or flag sends it to stderr with exit 2.
func TestHelp(t *testing.T) {
	const top, sessions = "usage: sessionsvc [COMMAND]", "usage: sessionsvc sessions COMMAND"
	ok := []string{"HOME=" + t.TempDir()}
	// The top level answers before it reads the environment.
	badConfig := []string{"SESSION_TYPE=memcached", "HOME=" + t.TempDir()}
	for _, tc := range []struct {
		name        string
		env         []string
		args        []string
		code        int
		stdout      []string // what stdout contains; stderr is then empty
		stderr      []string // what stderr contains; stdout is then empty
		notInStdout string
	}{
		{"--help", ok, []string{"--help"}, 0, []string{top, "healthcheck", "sessions COMMAND", "sessionsvc sessions --help"}, nil, sessions},
		{"-h", ok, []string{"-h"}, 0, []string{top}, nil, sessions},
		{"help", ok, []string{"help"}, 0, []string{top}, nil, sessions},
		{"--help with a bad environment", badConfig, []string{"--help"}, 0, []string{top}, nil, sessions},
		{"unknown command", ok, []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`, top}, ""},
		{"a flag for sessions at the top", ok, []string{"--full-ids"}, 2, nil, []string{`unknown command "--full-ids"`, top}, ""},
		{"sessions --help", ok, []string{"sessions", "--help"}, 0, []string{sessions, "revoke-email E", "--full-ids"}, nil, top},
		{"sessions -h", ok, []string{"sessions", "-h"}, 0, []string{sessions}, nil, top},
		{"sessions list --help", ok, []string{"sessions", "list", "--help"}, 0, []string{sessions}, nil, top},
		{"sessions unknown flag", ok, []string{"sessions", "list", "--colour"}, 2, nil, []string{"flag provided but not defined: -colour", sessions}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runBinary(t, tc.env, tc.args...)
			if code != tc.code {
				t.Fatalf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, out, errOut)
			}
			for _, want := range []struct {
				name, got string
				parts     []string
			}{{"stdout", out, tc.stdout}, {"stderr", errOut, tc.stderr}} {
				if len(want.parts) == 0 && want.got != "" {
					t.Errorf("%q: %s = %q, want it empty", tc.args, want.name, want.got)
				}
				for _, p := range want.parts {
					if !strings.Contains(want.got, p) {
						t.Errorf("%q: %s lacks %q:\n%s", tc.args, want.name, p, want.got)
					}
				}
			}
			if tc.notInStdout != "" && strings.Contains(out, tc.notInStdout) {
				t.Errorf("%q: stdout holds %q, the other usage:\n%s", tc.args, tc.notInStdout, out)
			}
		})
	}
}
