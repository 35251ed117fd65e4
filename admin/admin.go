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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sessionsvc/sessionsvc/config"
	"github.com/sessionsvc/sessionsvc/session"
	"github.com/sessionsvc/sessionsvc/session/sqlstore"
)

// shortIDLen is how many characters of an ID are printed by default.
const shortIDLen = 8

// Run runs "sessionsvc sessions ...": args are what follows "sessions".
// open is called once, after the command line has been checked, to open
// the store cfg describes; Run closes it. Output goes to stdout; errors are
// returned, a *UsageError for a bad command line.
func Run(ctx context.Context, cfg config.Config, open func() (*session.Store, error), args []string, stdout io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	if o.help {
		fmt.Fprintln(stdout, sessionsUsage)
		return nil
	}

	if o.cmd == "migrate" {
		if cfg.SessionType != "sqlalchemy" {
			return fmt.Errorf("SESSION_TYPE=%s keeps no SQL table: migrate is for SESSION_TYPE=sqlalchemy", cfg.SessionType)
		}
		for _, stmt := range sqlstore.DDL(cfg.SQL.Dialect, cfg.SQLSchema, cfg.SQLTable) {
			fmt.Fprintf(stdout, "%s;\n", stmt)
		}
		return nil
	}
	if cfg.SessionType == "cookie" {
		return errors.New("SESSION_TYPE=cookie keeps each session in its browser's cookie: there is nothing on the server to count, list or revoke")
	}
	if cfg.SessionType == "memcached" && o.cmd != "show" && o.cmd != "revoke" {
		return errors.New("SESSION_TYPE=memcached cannot " + o.cmd + ": Memcached has no index of its keys, so its sessions cannot be counted, listed or found by email; show and revoke take a whole session ID (43 characters, as in the cookie)")
	}
	store, err := open()
	if err != nil {
		return err
	}
	defer store.Close()
	a := &admin{store: store, storeType: cfg.SessionType, out: stdout, full: o.full}
	switch o.cmd {
	case "count":
		return a.count(ctx)
	case "list":
		return a.list(ctx, o.email)
	case "show":
		return a.show(ctx, o.arg)
	case "revoke":
		return a.revoke(ctx, o.arg)
	default:
		return a.revokeEmail(ctx, o.arg)
	}
}

// admin carries out the sessions commands.
type admin struct {
	store     *session.Store
	storeType string // SESSION_TYPE
	out       io.Writer
	full      bool // print whole session IDs
}

func (a *admin) count(ctx context.Context) error {
	var total, withEmail, forwards int
	emails := map[string]bool{}
	err := a.store.Sessions(ctx, func(batch []session.SessionInfo) error {
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
		fmt.Fprintf(tw, "retired IDs (renewed moments ago)\t%d\n", forwards)
	}
	return tw.Flush()
}

func (a *admin) list(ctx context.Context, email string) error {
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tEXPIRES IN\tSIZE")
	n := 0
	row := func(si session.SessionInfo) {
		owner := printable(si.Owner)
		switch {
		case si.Forward:
			owner = "(retired: its session was renewed)"
		case owner == "":
			owner = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d B\n", a.id(si.Key), owner, humanDuration(si.TTL), si.Size)
		n++
	}
	var err error
	if email != "" {
		var ss []session.SessionInfo
		if ss, err = a.store.SessionsOf(ctx, email); err == nil {
			for _, si := range ss {
				row(si)
			}
		}
	} else {
		err = a.store.Sessions(ctx, func(batch []session.SessionInfo) error {
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
	owner := printable(si.Owner)
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
		values = printableJSON(b)
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
		owner = " of " + printable(si.Owner)
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
	_, err = fmt.Fprintf(a.out, "revoked %d %s of %s\n", len(ss), plural(len(ss), "session", "sessions"), printable(email))
	return err
}

// find returns the one session ref names, or an error saying why not.
func (a *admin) find(ctx context.Context, ref string) (session.SessionInfo, error) {
	found, err := a.store.Find(ctx, ref)
	if errors.Is(err, session.ErrCannotList) {
		return session.SessionInfo{}, &UsageError{"SESSION_TYPE=" + a.storeType + " finds a session by its whole ID only (43 characters, as in the cookie): it has no index of its keys to search for " + strconv.Quote(ref)}
	}
	if err != nil && !errors.Is(err, session.ErrUnavailable) {
		return session.SessionInfo{}, &UsageError{err.Error()}
	}
	switch {
	case err != nil:
		return session.SessionInfo{}, err
	case len(found) == 0:
		return session.SessionInfo{}, fmt.Errorf("no session matches %s", a.id(ref))
	case len(found) > 1:
		return session.SessionInfo{}, fmt.Errorf("%s matches %d sessions: give more characters of the ID", a.id(ref), len(found))
	}
	return found[0], nil
}

// id is how a session ID (or key) is printed: shortened unless --full-ids,
// and printable.
func (a *admin) id(key string) string {
	if a.full || len(key) <= shortIDLen {
		return printable(key)
	}
	return printable(key[:shortIDLen]) + "…"
}

// printable is s as the command prints it: unchanged when it is valid UTF-8
// whose every character is printable (strconv.IsPrint: letters, marks,
// numbers, punctuation, symbols and the ASCII space), else Go-quoted
// (strconv.Quote), so that a control character, a bidi override, a
// zero-width or other invisible character shows as an escape (\t, \u202e)
// instead of acting on the terminal or hiding in the text. Stored emails
// and keys may hold any of them: the form refuses them today, but not
// every session was written through it. A string that is itself in double
// quotes is quoted too, so that printed text in double quotes is always an
// escaped string.
func printable(s string) string {
	inQuotes := len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"'
	if !inQuotes && utf8.ValidString(s) && strings.IndexFunc(s, notPrint) < 0 {
		return s
	}
	return strconv.Quote(s)
}

func notPrint(r rune) bool { return !strconv.IsPrint(r) }

// printableJSON is the JSON text j (from json.Marshal, valid UTF-8) with
// every character that is not printable written as a \uXXXX escape, which
// JSON reads as the same character: json.Marshal escapes the C0 controls,
// U+2028 and U+2029, but leaves C1 controls, bidi overrides and zero-width
// characters as they are. Outside its strings JSON text holds only printable
// ASCII, so every escape lands in a string.
func printableJSON(j []byte) string {
	var b strings.Builder
	for _, r := range string(j) {
		if strconv.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, `\u%04x`, u)
		}
	}
	return b.String()
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
