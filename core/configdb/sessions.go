package configdb

import (
	"context"
	"database/sql"
	"fmt"
)

// WriteSessions applies n changes to the session records in one
// transaction: row(i) returns the i-th; data nil deletes the record with
// that id (removing a missing one is not an error), otherwise the record
// is stored or replaced. The records are opaque to the database; see
// core/session. Either every change is written or none is.
func (db *DB) WriteSessions(ctx context.Context, n int, row func(i int) (id, login, backend string, data []byte)) error {
	if n == 0 {
		return nil
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("configdb: write sessions: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	var save, remove *sql.Stmt
	now := db.stamp()
	for i := range n {
		id, login, backend, data := row(i)
		if data == nil {
			if remove == nil {
				if remove, err = tx.PrepareContext(ctx, `DELETE FROM sessions WHERE id = $1`); err != nil {
					return fmt.Errorf("configdb: delete session: %w", err)
				}
			}
			if _, err := remove.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("configdb: delete session: %w", err)
			}
			continue
		}
		if save == nil {
			save, err = tx.PrepareContext(ctx, `INSERT INTO sessions (id, login, backend, data, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET login = excluded.login, backend = excluded.backend, data = excluded.data, updated_at = excluded.updated_at`)
			if err != nil {
				return fmt.Errorf("configdb: save session: %w", err)
			}
		}
		if _, err := save.ExecContext(ctx, id, login, backend, data, now); err != nil {
			return fmt.Errorf("configdb: save session: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("configdb: write sessions: %w", err)
	}
	return nil
}

// LoadSessions returns every stored session record.
func (db *DB) LoadSessions(ctx context.Context) ([][]byte, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT data FROM sessions ORDER BY updated_at`)
	if err != nil {
		return nil, fmt.Errorf("configdb: load sessions: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("configdb: load sessions: %w", err)
		}
		out = append(out, data)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("configdb: load sessions: %w", err)
	}
	return out, nil
}
