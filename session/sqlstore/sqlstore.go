// Package sqlstore keeps sessions in a SQL database, PostgreSQL,
// MariaDB/MySQL or SQLite, as session.Backend: one row per session in a
// table of three columns, id (the key prefix and the session's key), data
// (its JSON, as text) and expiry (unix milliseconds, indexed). A row whose
// expiry has passed is never served; a background sweep deletes such rows
// in batches. The table is created on first contact if it is missing (see
// DDL), so the service starts while the database is down.
//
// A read is one query (a refreshing read on MariaDB/MySQL, which has no
// UPDATE ... RETURNING, two); a change is one conditional UPDATE; a renewal
// writes its two rows in one statement on PostgreSQL, in one transaction
// elsewhere.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionsvc/sessionsvc/internal/firstuse"
	"github.com/sessionsvc/sessionsvc/session"
)

// Config configures a Backend.
type Config struct {
	// Dialect is "postgres", "mysql" (MariaDB too) or "sqlite".
	Dialect string
	// DSN is what the dialect's driver opens: a postgres:// URL (pgx), a
	// go-sql-driver/mysql DSN, or the SQLite database file's path.
	DSN string
	// Table holds the sessions ("sessions" when empty); Schema, for
	// PostgreSQL only, is the schema it lies in (the search path's when
	// empty). Both must be plain identifiers.
	Table  string
	Schema string
	// Prefix starts every stored id: Prefix + the session's key.
	Prefix string
	// PoolSize is the most connections open at once (10 when zero).
	PoolSize int
	// SweepEvery is how often expired rows are deleted (a minute when zero).
	SweepEvery time.Duration
	// Address says where the database is, for readiness details (never
	// a password).
	Address string
}

// Backend keeps sessions in a SQL table. It is safe for concurrent use.
type Backend struct {
	db     *sql.DB
	cfg    Config
	q      queries
	setup  *firstuse.Once // creates the table (see ensure)
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// Backend's abilities (see session/backend.go).
var (
	_ session.Backend   = (*Backend)(nil)
	_ session.Lister    = (*Backend)(nil)
	_ session.Inspector = (*Backend)(nil)
	_ session.Describer = (*Backend)(nil)
)

// New returns a Backend and starts its sweeper; Close stops it. It does
// not connect: the first use does, and creates the table if it is missing.
// It fails only on a configuration that cannot work.
func New(cfg Config) (*Backend, error) {
	if cfg.Table == "" {
		cfg.Table = "sessions"
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 10
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Minute
	}
	for _, name := range []string{cfg.Table, cfg.Schema} {
		if name != "" && !identifier(name) {
			return nil, fmt.Errorf("%q is not a plain SQL identifier", name)
		}
	}
	if cfg.Schema != "" && cfg.Dialect != "postgres" {
		return nil, errors.New("a schema is for PostgreSQL only")
	}
	driver, dsn := "", cfg.DSN
	switch cfg.Dialect {
	case "postgres":
		driver = "pgx"
	case "mysql":
		driver = "mysql"
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, err
		}
		// Rows matched, not rows changed, tell whether a conditional
		// write applied; arguments are put into the query on the client,
		// so that a query is one round trip, not a prepare, an execute
		// and a close.
		mc.ClientFoundRows, mc.InterpolateParams = true, true
		dsn = mc.FormatDSN()
	case "sqlite":
		driver = "sqlite"
		if err := createPrivate(dsn); err != nil {
			return nil, err
		}
		// Writers of other processes wait for each other rather than fail;
		// WAL (see walMode) with synchronous=NORMAL syncs at checkpoints,
		// not on every commit (a crash of the machine may lose the last few
		// writes, never the file); transactions take the write lock at once.
		dsn = "file:" + dsn + "?_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		if err := walMode(dsn); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown SQL dialect %q", cfg.Dialect)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	if cfg.Dialect == "sqlite" {
		// SQLite writes one at a time: one connection queues this
		// process's queries in Go rather than in SQLite's busy handler,
		// which sleeps in steps of up to 100 ms.
		cfg.PoolSize = 1
	}
	db.SetMaxOpenConns(cfg.PoolSize)
	db.SetMaxIdleConns(cfg.PoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	b := &Backend{db: db, cfg: cfg, setup: firstuse.New(), q: newQueries(cfg.Dialect, quoted(cfg.Dialect, cfg.Schema, cfg.Table)), stop: make(chan struct{}), done: make(chan struct{})}
	go b.sweepEvery(cfg.SweepEvery)
	return b, nil
}

// createPrivate creates the SQLite database file, readable by this user
// only, if it is missing: it holds the sessions.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// walMode puts the SQLite database at dsn in WAL mode, which lets reads
// run beside a write and lasts with the file. It is set once, here: a
// connection that switches while others are open fails at once (busy).
func walMode(dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	for try := 0; ; try++ {
		if err = db.QueryRow("PRAGMA journal_mode=WAL").Scan(&mode); err == nil || try == 50 {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// identifier reports whether s is a plain SQL identifier: letters, digits
// and underscores, not starting with a digit, at most 63 bytes.
func identifier(s string) bool {
	if s == "" || len(s) > 63 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func qualified(schema, table string) string {
	if schema == "" {
		return table
	}
	return schema + "." + table
}

// quoted is qualified with each name quoted for dialect, so that a name
// that is also an SQL keyword (user, order) works.
func quoted(dialect, schema, table string) string {
	q := `"`
	if dialect == "mysql" {
		q = "`"
	}
	if schema == "" {
		return q + table + q
	}
	return q + schema + q + "." + q + table + q
}

// ensure creates the table on first contact, until that succeeds.
func (b *Backend) ensure(ctx context.Context) error {
	return b.setup.Do(ctx, b.create)
}

// create creates the table and its index where they are missing (DDL).
func (b *Backend) create(ctx context.Context) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if b.cfg.Dialect == "postgres" {
		// Replicas starting at once take turns: two CREATE TABLE IF NOT
		// EXISTS at the same moment can both try to create it.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7171)"); err != nil {
			return err
		}
	}
	for _, stmt := range DDL(b.cfg.Dialect, b.cfg.Schema, b.cfg.Table) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create the sessions table: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return nil
}

// DDL returns the statements that create the sessions table and its
// expiry index if they are missing, for ops who create schemas themselves
// (sessionsvc sessions migrate prints them).
func DDL(dialect, schema, table string) []string {
	t := quoted(dialect, schema, table)
	switch dialect {
	case "mysql":
		return []string{"CREATE TABLE IF NOT EXISTS " + t + " (\n" +
			"  id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,\n" +
			"  data MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n" +
			"  expiry BIGINT NOT NULL,\n" +
			"  INDEX `" + table + "_expiry` (expiry)\n" +
			")"}
	case "sqlite":
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (\n  id TEXT NOT NULL PRIMARY KEY,\n  data TEXT NOT NULL,\n  expiry INTEGER NOT NULL\n)",
			"CREATE INDEX IF NOT EXISTS \"" + table + "_expiry\" ON " + t + " (expiry)",
		}
	default:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (\n  id VARCHAR(255) NOT NULL PRIMARY KEY,\n  data TEXT NOT NULL,\n  expiry BIGINT NOT NULL\n)",
			"CREATE INDEX IF NOT EXISTS \"" + table + "_expiry\" ON " + t + " (expiry)",
		}
	}
}

// queries are the statements, with the dialect's placeholders.
type queries struct {
	load, refresh, touch                    string
	update, upsert, deleteIf, delete, sweep string
	renew                                   string // PostgreSQL only: see applyRenewal
	list, get, ttl                          string
}

func newQueries(dialect, t string) queries {
	q := queries{
		load:     "SELECT data FROM " + t + " WHERE id = ? AND expiry > ?",
		refresh:  "UPDATE " + t + " SET expiry = ? WHERE id = ? AND expiry > ? RETURNING data",
		update:   "UPDATE " + t + " SET data = ?, expiry = ? WHERE id = ? AND data = ? AND expiry > ?",
		upsert:   "INSERT INTO " + t + " (id, data, expiry) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry",
		deleteIf: "DELETE FROM " + t + " WHERE id = ? AND data = ? AND expiry > ?",
		delete:   "DELETE FROM " + t + " WHERE id = ?",
		sweep:    "DELETE FROM " + t + " WHERE id IN (SELECT id FROM " + t + " WHERE expiry <= ? LIMIT 500)",
		list:     "SELECT id, data, expiry FROM " + t + " WHERE id > ? AND substr(id, 1, ?) = ? AND expiry > ? ORDER BY id LIMIT 500",
		get:      "SELECT id, data, expiry FROM " + t + " WHERE id = ? AND expiry > ?",
		ttl:      "SELECT expiry FROM " + t + " WHERE id = ? AND expiry > ?",
	}
	switch dialect {
	case "mysql":
		q.refresh = "" // no UPDATE ... RETURNING: load, then touch
		q.touch = "UPDATE " + t + " SET expiry = ? WHERE id = ? AND expiry > ?"
		q.upsert = "INSERT INTO " + t + " (id, data, expiry) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE data = VALUES(data), expiry = VALUES(expiry)"
		q.sweep = "DELETE FROM " + t + " WHERE expiry <= ? ORDER BY expiry LIMIT 500"
	case "postgres":
		// A data-modifying WITH runs both writes of a renewal as one
		// statement: the new row is inserted only if the old one matched.
		q.renew = "WITH old AS (UPDATE " + t + " SET data = ?, expiry = ? WHERE id = ? AND data = ? AND expiry > ? RETURNING 1) " +
			"INSERT INTO " + t + " (id, data, expiry) SELECT ?, ?, ? FROM old ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry = excluded.expiry"
		// Concurrent sweepers skip each other's rows rather than wait.
		q.sweep = "DELETE FROM " + t + " WHERE id IN (SELECT id FROM " + t + " WHERE expiry <= ? ORDER BY expiry LIMIT 500 FOR UPDATE SKIP LOCKED)"
		for _, s := range []*string{&q.load, &q.refresh, &q.update, &q.renew, &q.upsert, &q.deleteIf, &q.delete, &q.sweep, &q.list, &q.get, &q.ttl} {
			*s = numbered(*s)
		}
	}
	return q
}

// numbered turns ? placeholders into PostgreSQL's $1, $2...
func numbered(s string) string {
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Load implements session.Backend: one query, and with refresh on
// MariaDB/MySQL a second one.
func (b *Backend) Load(ctx context.Context, key string, refresh time.Duration) ([]byte, bool, error) {
	if err := b.ensure(ctx); err != nil {
		return nil, false, err
	}
	now := time.Now().UnixMilli()
	id := b.cfg.Prefix + key
	var data []byte
	var err error
	switch {
	case refresh <= 0:
		err = b.db.QueryRowContext(ctx, b.q.load, id, now).Scan(&data)
	case b.q.refresh != "":
		err = b.db.QueryRowContext(ctx, b.q.refresh, now+refresh.Milliseconds(), id, now).Scan(&data)
	default:
		if err = b.db.QueryRowContext(ctx, b.q.load, id, now).Scan(&data); err == nil {
			_, err = b.db.ExecContext(ctx, b.q.touch, now+refresh.Milliseconds(), id, now)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// errConflict is a conditional record that did not apply.
var errConflict = errors.New("conflict")

// Write implements session.Backend: one statement per record, several in
// one transaction (a renewal on PostgreSQL: one statement, see
// applyRenewal). A conditional record is an UPDATE (or DELETE) that
// matches only the row as loaded; when it matches none, nothing is
// written and Write returns a *session.Conflict with the row as it is.
func (b *Backend) Write(ctx context.Context, recs ...session.Record) error {
	if err := b.ensure(ctx); err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	var err error
	var failed session.Record
	if cond, plain, ok := b.renewal(recs); ok {
		failed = cond
		err = b.applyRenewal(ctx, cond, plain, now)
	} else if len(recs) == 1 {
		failed = recs[0]
		err = b.apply(ctx, b.db, recs[0], now)
	} else {
		err = b.inTx(ctx, func(tx *sql.Tx) error {
			for _, r := range recs {
				failed = r
				if err := b.apply(ctx, tx, r, now); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != errConflict {
		return err
	}
	current, found, err := b.Load(ctx, failed.Key, 0)
	if err != nil {
		return err
	}
	if !found {
		current = nil
	}
	return &session.Conflict{Key: failed.Key, Data: current}
}

// renewal returns, on PostgreSQL, the two records of a renewal: the old
// key's, conditional, and the new key's; ok is false for any other write.
func (b *Backend) renewal(recs []session.Record) (cond, plain session.Record, ok bool) {
	if b.q.renew == "" || len(recs) != 2 || recs[0].Data == nil || recs[1].Data == nil {
		return cond, plain, false
	}
	cond, plain = recs[1], recs[0]
	if cond.Loaded == nil {
		cond, plain = plain, cond
	}
	return cond, plain, cond.Loaded != nil && plain.Loaded == nil
}

// applyRenewal writes a renewal's two rows in one statement (q.renew), one
// round trip where a transaction takes four; errConflict when the old row
// is not as loaded.
func (b *Backend) applyRenewal(ctx context.Context, cond, plain session.Record, now int64) error {
	res, err := b.db.ExecContext(ctx, b.q.renew,
		string(cond.Data), now+max(cond.TTL.Milliseconds(), 1), b.cfg.Prefix+cond.Key, string(cond.Loaded), now,
		b.cfg.Prefix+plain.Key, string(plain.Data), now+max(plain.TTL.Milliseconds(), 1))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	return errConflict
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (b *Backend) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// apply writes r; errConflict when it is conditional and the row is not
// as loaded.
func (b *Backend) apply(ctx context.Context, ex execer, r session.Record, now int64) error {
	id := b.cfg.Prefix + r.Key
	expiry := now + max(r.TTL.Milliseconds(), 1)
	var res sql.Result
	var err error
	switch {
	case r.Loaded == nil && r.Data == nil:
		_, err = ex.ExecContext(ctx, b.q.delete, id)
		return err
	case r.Loaded == nil:
		_, err = ex.ExecContext(ctx, b.q.upsert, id, string(r.Data), expiry)
		return err
	case r.Data == nil:
		res, err = ex.ExecContext(ctx, b.q.deleteIf, id, string(r.Loaded), now)
	default:
		res, err = ex.ExecContext(ctx, b.q.update, string(r.Data), expiry, id, string(r.Loaded), now)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	return errConflict
}

// Ping implements session.Backend: the database answers, and has the
// table (created now if it is missing).
func (b *Backend) Ping(ctx context.Context) error {
	if err := b.ensure(ctx); err != nil {
		return err
	}
	return b.db.PingContext(ctx)
}

// Close stops the sweeper and closes the connections.
func (b *Backend) Close() error {
	b.closed.Do(func() {
		close(b.stop)
		<-b.done
	})
	return b.db.Close()
}

// Describe implements session.Describer: the database (Config.Address),
// the dialect and the table.
func (b *Backend) Describe() map[string]string {
	d := map[string]string{"dialect": b.cfg.Dialect, "table": qualified(b.cfg.Schema, b.cfg.Table)}
	if b.cfg.Address != "" {
		d["address"] = b.cfg.Address
	}
	return d
}
