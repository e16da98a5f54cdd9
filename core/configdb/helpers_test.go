package configdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// postgresEnv names a PostgreSQL database the tests may create schemas in,
// e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. When it
// is unset the PostgreSQL half of every test is skipped.
const postgresEnv = "PARLEY_TEST_POSTGRES_DSN"

// testClock is a settable clock; each reading advances it by a second so
// that records made one after another have distinct times.
type testClock struct{ t time.Time }

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

// target is one database the suite runs against.
type target struct {
	driver string
	dsn    string
}

// forEachDriver runs fn as a subtest per driver, each on a fresh, empty
// database: SQLite in t.TempDir(), and PostgreSQL in a schema of its own
// when PARLEY_TEST_POSTGRES_DSN is set.
func forEachDriver(t *testing.T, fn func(t *testing.T, tg target)) {
	t.Helper()
	t.Run(DriverSQLite, func(t *testing.T) {
		fn(t, target{DriverSQLite, filepath.Join(t.TempDir(), "parley.db")})
	})
	t.Run(DriverPostgres, func(t *testing.T) {
		fn(t, target{DriverPostgres, postgresSchema(t)})
	})
}

// postgresSchema creates a schema for one test, dropped at cleanup, and
// returns a DSN whose connections use it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skip(postgresEnv + " is not set")
	}
	buf := make([]byte, 6)
	rand.Read(buf)
	schema := "parley_test_" + hex.EncodeToString(buf)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return base + " search_path=" + schema
}

// open opens tg with a test clock and closes it at cleanup.
func open(t *testing.T, tg target, opts ...Option) *DB {
	t.Helper()
	db, err := Open(context.Background(), tg.driver, tg.dsn, append([]Option{WithClock(newTestClock().now)}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", tg.driver, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
