package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/sessionsvc/sessionsvc/session"
)

// List implements session.Lister: the live rows whose key starts with
// prefix, 500 at a time in the order of their ids, each step a query of
// its own.
func (b *Backend) List(ctx context.Context, prefix string, fn func([]session.Stored) error) error {
	if err := b.ensure(ctx); err != nil {
		return err
	}
	full := b.cfg.Prefix + prefix
	for after := ""; ; {
		batch, err := b.rows(ctx, b.q.list, after, len(full), full, time.Now().UnixMilli())
		if err != nil || len(batch) == 0 {
			return err
		}
		after = b.cfg.Prefix + batch[len(batch)-1].Key
		if err := fn(batch); err != nil || len(batch) < 500 {
			return err
		}
	}
}

// Get implements session.Lister, leaving out missing and expired rows.
func (b *Backend) Get(ctx context.Context, keys ...string) ([]session.Stored, error) {
	if err := b.ensure(ctx); err != nil {
		return nil, err
	}
	var recs []session.Stored
	for _, k := range keys {
		rec, err := b.rows(ctx, b.q.get, b.cfg.Prefix+k, time.Now().UnixMilli())
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec...)
	}
	return recs, nil
}

// rows runs a query of id, data and expiry.
func (b *Backend) rows(ctx context.Context, query string, args ...any) ([]session.Stored, error) {
	rows, err := b.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	now := time.Now()
	var recs []session.Stored
	for rows.Next() {
		var id string
		var data []byte
		var expiry int64
		if err := rows.Scan(&id, &data, &expiry); err != nil {
			return nil, err
		}
		recs = append(recs, session.Stored{Key: id[len(b.cfg.Prefix):], Data: data, TTL: time.UnixMilli(expiry).Sub(now)})
	}
	return recs, rows.Err()
}

// Location implements session.Inspector: the table and the row's id.
func (b *Backend) Location(key string) string {
	return qualified(b.cfg.Schema, b.cfg.Table) + " id=" + b.cfg.Prefix + key
}

// TTL implements session.Inspector.
func (b *Backend) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := b.ensure(ctx); err != nil {
		return 0, false, err
	}
	var expiry int64
	err := b.db.QueryRowContext(ctx, b.q.ttl, b.cfg.Prefix+key, time.Now().UnixMilli()).Scan(&expiry)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return time.Until(time.UnixMilli(expiry)), true, nil
}

// sweepEvery deletes expired rows every interval until Close.
func (b *Backend) sweepEvery(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.sweep(time.Now())
		}
	}
}

// sweep deletes the rows that expired by now, 500 at a time, so that no
// statement holds the table for long. One replica sweeps at a time: on
// PostgreSQL concurrent sweeps skip each other's rows (SKIP LOCKED); on
// MariaDB/MySQL a sweep runs only while it holds a named lock (GET_LOCK);
// SQLite has one writer at a time anyway. It returns how many it deleted.
func (b *Backend) sweep(now time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.ensure(ctx); err != nil {
		return 0, err
	}
	var ex execer = b.db
	if b.cfg.Dialect == "mysql" {
		conn, err := b.db.Conn(ctx)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		lock := "sessionsvc sweep " + qualified(b.cfg.Schema, b.cfg.Table)
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lock).Scan(&got); err != nil || got.Int64 != 1 {
			return 0, err // another replica sweeps
		}
		defer conn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", lock)
		ex = conn
	}
	var total int64
	for {
		res, err := ex.ExecContext(ctx, b.q.sweep, now.UnixMilli())
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		total += n
		if err != nil || n < 500 {
			return total, err
		}
	}
}
