package admin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// UsageError is a command line the binary cannot act on: Msg says what is
// wrong and, where it helps, shows the usage. The binary exits 2 on it.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

const sessionsUsage = `usage: sessionsvc sessions COMMAND [--full-ids]

Finds and ends sessions in the store the environment configures
(SESSION_TYPE, SESSION_REDIS, SESSION_KEY_PREFIX, ...). Redis is walked with
SCAN in small steps, never KEYS; a directory store is read file by file.

commands:
  count               how many sessions are stored, how many hold an email
  list [--email E]    one line per session (all, or those of email E)
  show ID             one session: its email, expiry, size and values
  revoke ID           end one session
  revoke-email E      end every session of email E
  migrate             print the SQL that creates the sessions table
                      (SESSION_TYPE=sqlalchemy; the service runs it itself
                      on first contact, for those who create schemas)

ID is a full session ID (a cookie's value) or its first characters as list
prints them (at least 6). Session IDs are printed shortened; --full-ids
prints them whole: they are as good as the cookies, keep them secret. With
SESSION_HASH_IDS=true the store knows only hashes, and those are shown.

Flags may come before or after the command and its argument. "--" ends
them: put it before an ID that starts with "--". -h or --help prints this.`

// minRefLen is the fewest characters of an ID that show and revoke accept.
const minRefLen = 6

// argCount is how many arguments the command cmd takes; known is false for
// a word that is no command.
func argCount(cmd string) (n int, known bool) {
	switch cmd {
	case "count", "list", "migrate":
		return 0, true
	case "show", "revoke", "revoke-email":
		return 1, true
	}
	return 0, false
}

// options is a checked "sessions" command line.
type options struct {
	cmd   string
	arg   string // the command's argument: an ID or an email; "" for count and list
	email string // --email: list only this email's sessions
	full  bool   // --full-ids: print whole session IDs
	help  bool   // -h or --help: print the usage and do nothing else
}

// parseArgs checks what follows "sessions" and returns what it asks for, or
// a *UsageError. The flags (--email E or --email=E, --full-ids, -h or
// --help; one dash or two) may come anywhere, before the command, after it
// or after its argument; the flag package parses them. Session IDs may
// start with "-", so a word with one dash that names no flag is an
// argument, and everything after "--" is one. A word with two dashes that
// names no flag is an error.
func parseArgs(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error comes back with sessionsUsage instead
	fs.Usage = func() {}
	fs.StringVar(&o.email, "email", "", "with list: only the sessions of this email")
	fs.BoolVar(&o.full, "full-ids", false, "print session IDs whole")

	// The flag package stops at the first word that is not a flag, and
	// takes any word that starts with "-" for one; so the words are sorted
	// here, and the flags handed to it all at once.
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		name, hasValue, isFlag := flagWord(fs, a)
		if !isFlag {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		if f := fs.Lookup(name); f != nil && !hasValue && !isBool(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(flags); errors.Is(err, flag.ErrHelp) {
		return options{help: true}, nil
	} else if err != nil {
		return options{}, &UsageError{err.Error() + "\n\n" + sessionsUsage}
	}

	if len(pos) == 0 {
		return options{}, &UsageError{"no command given\n\n" + sessionsUsage}
	}
	o.cmd = pos[0]
	n, known := argCount(o.cmd)
	switch {
	case !known:
		return options{}, &UsageError{fmt.Sprintf("unknown command %q\n\n%s", o.cmd, sessionsUsage)}
	case len(pos)-1 != n:
		return options{}, &UsageError{fmt.Sprintf("%s takes %d argument(s), got %d\n\n%s", o.cmd, n, len(pos)-1, sessionsUsage)}
	case o.email != "" && o.cmd != "list":
		return options{}, &UsageError{"--email goes with list only; to end an email's sessions use revoke-email E"}
	}
	if n == 1 {
		o.arg = pos[1]
	}
	switch {
	case n == 1 && strings.TrimSpace(o.arg) == "":
		return options{}, &UsageError{o.cmd + " needs a non-empty argument"}
	case (o.cmd == "show" || o.cmd == "revoke") && len(o.arg) < minRefLen:
		return options{}, &UsageError{fmt.Sprintf("%q is too short to name a session: give at least %d characters of its ID", o.arg, minRefLen)}
	}
	return o, nil
}

// flagWord says whether the word a is a flag for fs, and if so its name and
// whether a carries the value (name=value). Any word with two dashes is a
// flag, so that an unknown one is reported; a word with one dash is a flag
// only if fs defines its name or it asks for help.
func flagWord(fs *flag.FlagSet, a string) (name string, hasValue, isFlag bool) {
	if len(a) < 2 || a[0] != '-' {
		return "", false, false
	}
	name, _, hasValue = strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
	isFlag = strings.HasPrefix(a, "--") || name == "h" || name == "help" || fs.Lookup(name) != nil
	return name, hasValue, isFlag
}

// isBool reports whether f is a flag that takes no separate value, as the
// flag package decides it.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
