package configdb

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change, migrations/NNNN_name.sql.
type migration struct {
	version int64
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("configdb: migration %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: base, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("configdb: migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies every migration not yet recorded in schema_migrations,
// in order, each in its own transaction together with its record. Opening
// an up-to-date database changes nothing. Two processes migrating at once
// are safe: the second one's insert of the version conflicts and waits for
// the first, and it then finds the migration applied.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	_, err = db.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)`)
	if err != nil {
		// PostgreSQL fails the second of two concurrent CREATE TABLE IF
		// NOT EXISTS with a unique violation; the table is there then.
		if _, qerr := db.appliedVersions(ctx); qerr != nil {
			return fmt.Errorf("configdb: creating schema_migrations: %w", err)
		}
	}
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return err
	}
	if len(ms) > 0 && len(applied) > 0 && slices.Max(applied) > ms[len(ms)-1].version {
		return fmt.Errorf("%w: it has migration %d, this program knows up to %d",
			ErrSchemaTooNew, slices.Max(applied), ms[len(ms)-1].version)
	}
	for _, m := range ms {
		if slices.Contains(applied, m.version) {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			// Another process may have applied it meanwhile.
			if now, rerr := db.appliedVersions(ctx); rerr == nil && slices.Contains(now, m.version) {
				continue
			}
			return err
		}
		db.log.Info("applied migration", "version", m.version, "name", m.name)
	}
	return nil
}

func (db *DB) apply(ctx context.Context, m migration) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("configdb: migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, db.stamp())
	if err != nil {
		return fmt.Errorf("configdb: migration %s: recording: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("configdb: migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("configdb: migration %s: %w", m.name, err)
	}
	return nil
}

func (db *DB) appliedVersions(ctx context.Context) ([]int64, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("configdb: reading schema_migrations: %w", err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("configdb: reading schema_migrations: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("configdb: reading schema_migrations: %w", err)
	}
	return vs, nil
}

// SchemaVersion returns the highest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	vs, err := db.appliedVersions(ctx)
	if err != nil || len(vs) == 0 {
		return 0, err
	}
	return slices.Max(vs), nil
}
