package configdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

func TestMigrationsFreshAndRerun(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		ms, err := loadMigrations(migrationFiles)
		if err != nil {
			t.Fatal(err)
		}
		latest := ms[len(ms)-1].version

		db := open(t, tg)
		if v, err := db.SchemaVersion(ctx); err != nil || v != latest {
			t.Fatalf("fresh database at version %d (%v), want %d", v, err, latest)
		}
		if _, err := db.AddUser(ctx, "root", User{Login: "alice", Backend: "groupwise", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		db.Close()

		// Opening again applies nothing and keeps the data.
		db = open(t, tg)
		var n int
		if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms) {
			t.Errorf("schema_migrations has %d rows (%v), want %d", n, err, len(ms))
		}
		if _, err := db.GetUser(ctx, "alice"); err != nil {
			t.Errorf("user lost on reopen: %v", err)
		}
		if entries, _ := db.ListAudit(ctx, AuditQuery{}); len(entries) != 1 {
			t.Errorf("audit has %d entries after reopen, want 1", len(entries))
		}
	})
}

func TestMigrationsRefuseNewerSchema(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		if _, err := db.sql.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err := Open(ctx, tg.driver, tg.dsn)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
		}
	})
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				db, err := Open(ctx, tg.driver, tg.dsn)
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
			}
		}
		db := open(t, tg)
		var rows int
		if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM id_counters`).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("id_counters has %d rows (%v): a migration ran twice", rows, err)
		}
	})
}

func TestLoadMigrationsChecksNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"no number", fstest.MapFS{"migrations/initial.sql": {}}, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"migrations/0000_x.sql": {}}, "NNNN_description.sql"},
		{"duplicate", fstest.MapFS{"migrations/0001_a.sql": {}, "migrations/01_b.sql": {}}, "share a version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMigrations(tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	ms, err := loadMigrations(fstest.MapFS{
		"migrations/0010_c.sql": {Data: []byte("c")},
		"migrations/0002_b.sql": {Data: []byte("b")},
		"migrations/0001_a.sql": {Data: []byte("a")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range ms {
		order = append(order, m.sql)
	}
	if got := strings.Join(order, ""); got != "abc" {
		t.Errorf("migrations applied in order %q, want abc", got)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "mysql", "x"); !errors.Is(err, ErrUnsupportedDriver) {
		t.Errorf("Open(mysql): %v, want ErrUnsupportedDriver", err)
	}
	if _, err := Open(ctx, DriverSQLite, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(sqlite, \"\"): %v, want ErrInvalid", err)
	}
	// A directory cannot be a database file.
	if _, err := Open(ctx, DriverSQLite, t.TempDir()); err == nil {
		t.Error("Open of a directory succeeded")
	}
	// The file's directory is created.
	path := filepath.Join(t.TempDir(), "new", "dir", "parley.db")
	db, err := Open(ctx, DriverSQLite, path)
	if err != nil {
		t.Fatalf("Open in a new directory: %v", err)
	}
	db.Close()
}

func TestSQLiteDSN(t *testing.T) {
	dsn := sqliteDSN("/var/lib/parley dir/parley?.db")
	for _, want := range []string{"file:///var/lib/parley%20dir/parley%3F.db?", "_pragma=journal_mode%28WAL%29", "_pragma=busy_timeout%285000%29", "_pragma=foreign_keys%281%29", "_txlock=immediate"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("dsn %q lacks %q", dsn, want)
		}
	}
	// The odd characters survive the trip through the driver.
	path := filepath.Join(t.TempDir(), "a dir", "parley?#.db")
	db, err := Open(context.Background(), DriverSQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.sql.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at %q: %v", path, err)
	}
}
