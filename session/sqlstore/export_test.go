package sqlstore

import (
	"database/sql"
	"time"
)

// Sweep deletes the rows expired by now, as the sweeper does.
func (b *Backend) Sweep(now time.Time) (int64, error) { return b.sweep(now) }

// DB is the backend's database handle.
func (b *Backend) DB() *sql.DB { return b.db }

// Table is the qualified table name.
func (b *Backend) Table() string { return quoted(b.cfg.Dialect, b.cfg.Schema, b.cfg.Table) }
