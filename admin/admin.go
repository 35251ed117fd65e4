// Package admin is the "sessionsvc sessions" command: it counts, lists,
// shows and revokes the sessions kept in the store the environment
// configures. It reads and ends sessions only through the store's own
// listing, lookup and revoke methods; the caller opens the store.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/sessionstore"
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

ID is a full session ID (a cookie's value) or its first characters as list
prints them (at least 6); put "--" before an ID that starts with "--". Session IDs are printed shortened; --full-ids
prints them whole: they are as good as the cookies, keep them secret. With
SESSION_HASH_IDS=true the store knows only hashes, and those are shown.`

// shortIDLen is how many characters of an ID are printed by default.
const shortIDLen = 8

// minRefLen is the fewest characters of an ID that show and revoke accept.
const minRefLen = 6

// parseSessionsArgs splits the command line into positional arguments and
// the flags, which may come anywhere: --email E (or --email=E), --full-ids,
// -h. Session IDs may start with "-", so a word with one dash that is no
// flag is an argument; an unknown word with two dashes is an error; and
// everything after "--" is an argument.
func parseSessionsArgs(args []string) (pos []string, email string, full, help bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "--":
			return append(pos, args[i+1:]...), email, full, help, nil
		case !strings.HasPrefix(a, "-"):
			pos = append(pos, a)
		case name == "full-ids" && !hasValue:
			full = true
		case name == "h" || name == "help":
			help = true
		case name == "email":
			if !hasValue {
				if i+1 == len(args) {
					return nil, "", false, false, errors.New("flag needs an argument: -email")
				}
				i++
				value = args[i]
			}
			email = value
		case strings.HasPrefix(a, "--"):
			return nil, "", false, false, fmt.Errorf("flag provided but not defined: -%s", name)
		default:
			pos = append(pos, a)
		}
	}
	return pos, email, full, help, nil
}

// Run runs "sessionsvc sessions ...": args are what follows "sessions".
// open is called once, after the command line has been checked, to open
// the store cfg describes; Run closes it. Output goes to stdout; errors are
// returned, a *UsageError for a bad command line.
func Run(ctx context.Context, cfg config.Config, open func() (*sessionstore.Store, error), args []string, stdout io.Writer) error {
	pos, email, full, help, err := parseSessionsArgs(args)
	if err != nil {
		return &UsageError{err.Error() + "\n\n" + sessionsUsage}
	}
	if help {
		fmt.Fprintln(stdout, sessionsUsage)
		return nil
	}
	if len(pos) == 0 {
		return &UsageError{"no command given\n\n" + sessionsUsage}
	}
	cmd, want := pos[0], map[string]int{"count": 1, "list": 1, "show": 2, "revoke": 2, "revoke-email": 2}
	n, known := want[cmd]
	switch {
	case !known:
		return &UsageError{fmt.Sprintf("unknown command %q\n\n%s", cmd, sessionsUsage)}
	case len(pos) != n:
		return &UsageError{fmt.Sprintf("%s takes %d argument(s), got %d\n\n%s", cmd, n-1, len(pos)-1, sessionsUsage)}
	case email != "" && cmd != "list":
		return &UsageError{"--email goes with list only; to end an email's sessions use revoke-email E"}
	case n == 2 && strings.TrimSpace(pos[1]) == "":
		return &UsageError{cmd + " needs a non-empty argument"}
	case (cmd == "show" || cmd == "revoke") && len(pos[1]) < minRefLen:
		return &UsageError{fmt.Sprintf("%q is too short to name a session: give at least %d characters of its ID", pos[1], minRefLen)}
	}

	if cfg.SessionType == "cookie" {
		return errors.New("SESSION_TYPE=cookie keeps each session in its browser's cookie: there is nothing on the server to count, list or revoke")
	}
	store, err := open()
	if err != nil {
		return err
	}
	defer store.Close()
	a := &admin{store: store, out: stdout, full: full}
	switch cmd {
	case "count":
		return a.count(ctx)
	case "list":
		return a.list(ctx, email)
	case "show":
		return a.show(ctx, pos[1])
	case "revoke":
		return a.revoke(ctx, pos[1])
	default:
		return a.revokeEmail(ctx, pos[1])
	}
}

// admin carries out the sessions commands.
type admin struct {
	store *sessionstore.Store
	out   io.Writer
	full  bool // print whole session IDs
}

func (a *admin) count(ctx context.Context) error {
	var total, withEmail, forwards int
	emails := map[string]bool{}
	err := a.store.Sessions(ctx, func(batch []sessionstore.SessionInfo) error {
		for _, si := range batch {
			switch {
			case si.Forward:
				forwards++
				continue
			case si.Owner != "":
				withEmail++
				emails[strings.ToLower(si.Owner)] = true
			}
			total++
		}
		return nil
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sessions\t%d\n", total)
	fmt.Fprintf(tw, "with an email\t%d\n", withEmail)
	fmt.Fprintf(tw, "distinct emails\t%d\n", len(emails))
	if forwards > 0 {
		fmt.Fprintf(tw, "renewed IDs still forwarding\t%d\n", forwards)
	}
	return tw.Flush()
}

func (a *admin) list(ctx context.Context, email string) error {
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tEXPIRES IN\tSIZE")
	n := 0
	row := func(si sessionstore.SessionInfo) {
		owner := si.Owner
		switch {
		case si.Forward:
			owner = "(renewed: forwards to its new ID)"
		case owner == "":
			owner = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d B\n", a.id(si.Key), owner, humanDuration(si.TTL), si.Size)
		n++
	}
	var err error
	if email != "" {
		var ss []sessionstore.SessionInfo
		if ss, err = a.store.SessionsOf(ctx, email); err == nil {
			for _, si := range ss {
				row(si)
			}
		}
	} else {
		err = a.store.Sessions(ctx, func(batch []sessionstore.SessionInfo) error {
			for _, si := range batch {
				row(si)
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.out, "%d %s\n", n, plural(n, "session", "sessions"))
	return err
}

func (a *admin) show(ctx context.Context, ref string) error {
	si, err := a.find(ctx, ref)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	id := a.id(si.Key)
	if !a.full {
		id += " (--full-ids shows it whole)"
	}
	fmt.Fprintf(tw, "ID\t%s\n", id)
	if si.Forward {
		fmt.Fprintf(tw, "state\trenewed: leads to the session's new ID until the grace period ends\n")
	}
	owner := si.Owner
	if owner == "" {
		owner = "-"
	}
	fmt.Fprintf(tw, "email\t%s\n", owner)
	if si.TTL < 0 {
		fmt.Fprintf(tw, "expires in\tnever\n")
	} else {
		fmt.Fprintf(tw, "expires in\t%s (%s)\n", humanDuration(si.TTL), time.Now().Add(si.TTL).UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if !si.Created.IsZero() {
		fmt.Fprintf(tw, "created\t%s\n", si.Created.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	fmt.Fprintf(tw, "size\t%d bytes\n", si.Size)
	values := "(not readable)"
	if si.Values != nil {
		b, _ := json.Marshal(si.Values)
		values = string(b)
	}
	fmt.Fprintf(tw, "values\t%s\n", values)
	return tw.Flush()
}

func (a *admin) revoke(ctx context.Context, ref string) error {
	si, err := a.find(ctx, ref)
	if err != nil {
		return err
	}
	if err := a.store.Revoke(ctx, si); err != nil {
		return err
	}
	owner := ""
	if si.Owner != "" {
		owner = " of " + si.Owner
	}
	_, err = fmt.Fprintf(a.out, "revoked session %s%s\n", a.id(si.Key), owner)
	return err
}

func (a *admin) revokeEmail(ctx context.Context, email string) error {
	ss, err := a.store.SessionsOf(ctx, email)
	if err != nil {
		return err
	}
	if err := a.store.Revoke(ctx, ss...); err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.out, "revoked %d %s of %s\n", len(ss), plural(len(ss), "session", "sessions"), email)
	return err
}

// find returns the one session ref names, or an error saying why not.
func (a *admin) find(ctx context.Context, ref string) (sessionstore.SessionInfo, error) {
	found, err := a.store.Find(ctx, ref)
	if err != nil && !errors.Is(err, sessionstore.ErrUnavailable) {
		return sessionstore.SessionInfo{}, &UsageError{err.Error()}
	}
	switch {
	case err != nil:
		return sessionstore.SessionInfo{}, err
	case len(found) == 0:
		return sessionstore.SessionInfo{}, fmt.Errorf("no session matches %s", a.id(ref))
	case len(found) > 1:
		return sessionstore.SessionInfo{}, fmt.Errorf("%s matches %d sessions: give more characters of the ID", a.id(ref), len(found))
	}
	return found[0], nil
}

// id is how a session ID (or key) is printed: shortened unless --full-ids.
func (a *admin) id(key string) string {
	if a.full || len(key) <= shortIDLen {
		return key
	}
	return key[:shortIDLen] + "…"
}

// humanDuration prints d in days, hours, minutes or seconds, two units at
// most ("30d 23h", "5m 02s").
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	days, h, m, s := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %02dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
