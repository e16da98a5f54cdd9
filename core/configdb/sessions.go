package configdb

import (
	"context"
	"fmt"
)

// SaveSession stores (or replaces) a session record. The record is opaque
// to the database; see core/session.
func (db *DB) SaveSession(ctx context.Context, id, login, backend string, data []byte) error {
	_, err := db.sql.ExecContext(ctx, `INSERT INTO sessions (id, login, backend, data, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET login = excluded.login, backend = excluded.backend, data = excluded.data, updated_at = excluded.updated_at`,
		id, login, backend, data, db.stamp())
	if err != nil {
		return fmt.Errorf("configdb: save session: %w", err)
	}
	return nil
}

// DeleteSession removes a session record; removing a missing one is not an
// error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("configdb: delete session: %w", err)
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
