package configdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Drivers accepted by Open; the names match conf's database.driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// sqliteBusyTimeout is how long a SQLite writer waits for another.
const sqliteBusyTimeout = 5 * time.Second

// DB is the configuration database. It is safe for concurrent use.
type DB struct {
	sql *sql.DB
	now func() time.Time
	log hclog.Logger
}

// Option configures Open.
type Option func(*DB)

// WithClock sets the clock that stamps records (for tests).
func WithClock(now func() time.Time) Option {
	return func(db *DB) { db.now = now }
}

// WithLogger sets the logger; it logs the migrations applied.
func WithLogger(l hclog.Logger) Option {
	return func(db *DB) { db.log = l }
}

// Open connects to the database and brings its schema up to date.
//
// For DriverSQLite, dsn is the database file's path; its directory is
// created if missing, and the file is opened in WAL mode with a busy
// timeout and foreign keys on. For DriverPostgres, dsn is a libpq
// connection string or postgres:// URL.
func Open(ctx context.Context, driver, dsn string, opts ...Option) (*DB, error) {
	db := &DB{now: time.Now, log: hclog.NewNullLogger()}
	for _, opt := range opts {
		opt(db)
	}
	var sqlDriver, sqlDSN string
	switch driver {
	case DriverSQLite:
		if dsn == "" {
			return nil, fmt.Errorf("configdb: open: %w: empty sqlite path", ErrInvalid)
		}
		if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			return nil, fmt.Errorf("configdb: open: %w", err)
		}
		sqlDriver, sqlDSN = "sqlite", sqliteDSN(dsn)
	case DriverPostgres:
		sqlDriver, sqlDSN = "pgx", dsn
	default:
		return nil, fmt.Errorf("configdb: open: %w: %q", ErrUnsupportedDriver, driver)
	}
	sqlDB, err := sql.Open(sqlDriver, sqlDSN)
	if err != nil {
		return nil, fmt.Errorf("configdb: open: %w", err)
	}
	db.sql = sqlDB
	if driver == DriverSQLite {
		// SQLite has one writer at a time anyway. With one connection,
		// writers queue in Go instead of sleeping in SQLite's busy handler,
		// and a burst (thousands of links dropping at once, each saving its
		// session) cannot open connections until descriptors run out.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
	}
	if err := ping(ctx, sqlDB, driver); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("configdb: open %s: %w", driver, err)
	}
	if err := db.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return db, nil
}

// ping checks the connection. A new SQLite connection switches the file
// to WAL mode, which SQLite refuses with SQLITE_BUSY at once, without its
// busy handler, while another process is doing the same: such a refusal is
// retried for up to the busy timeout.
func ping(ctx context.Context, sqlDB *sql.DB, driver string) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		err := sqlDB.PingContext(ctx)
		if err == nil || driver != DriverSQLite || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sqliteDSN turns a file path into a modernc.org/sqlite DSN with the
// pragmas the gateway relies on.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Write transactions take the write lock at BEGIN: a deferred one that
	// upgrades later can fail with SQLITE_BUSY without waiting.
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	if !filepath.IsAbs(path) {
		u = url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	}
	return u.String()
}

// Close closes the database.
func (db *DB) Close() error {
	return db.sql.Close()
}

// stamp returns the current time as stored: unix microseconds.
func (db *DB) stamp() int64 { return db.now().UnixMicro() }

func fromStamp(us int64) time.Time { return time.UnixMicro(us).UTC() }

// change runs fn in a transaction and records the audit entry in the same
// transaction, so that no change is ever made without its record.
func (db *DB) change(ctx context.Context, actor, action, target string, details any, fn func(tx *sql.Tx, now int64) error) error {
	if err := checkText("actor", actor, maxNameBytes, true); err != nil {
		return fmt.Errorf("configdb: %s: %w", action, err)
	}
	det, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("configdb: %s: encoding audit details: %w", action, err)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("configdb: %s: %w", action, err)
	}
	defer tx.Rollback() // a no-op after Commit
	now := db.stamp()
	if err := fn(tx, now); err != nil {
		return fmt.Errorf("configdb: %s %q: %w", action, target, err)
	}
	var id int64
	err = tx.QueryRowContext(ctx,
		`UPDATE id_counters SET value = value + 1 WHERE name = 'audit_log' RETURNING value`).Scan(&id)
	if err != nil {
		return fmt.Errorf("configdb: %s: next audit id: %w", action, err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO audit_log (id, created_at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, now, actor, action, target, string(det))
	if err != nil {
		return fmt.Errorf("configdb: %s: writing audit entry: %w", action, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("configdb: %s: %w", action, err)
	}
	return nil
}
