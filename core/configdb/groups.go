package configdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// AddGroup adds a group. It fails with ErrExists if the name is taken.
func (db *DB) AddGroup(ctx context.Context, actor string, g Group) (Group, error) {
	name, err := normGroup(g.Name)
	if err != nil {
		return Group{}, fmt.Errorf("configdb: %s: %w", ActionGroupAdd, err)
	}
	if err := checkText("description", g.Description, 1024, false); err != nil {
		return Group{}, fmt.Errorf("configdb: %s: %w", ActionGroupAdd, err)
	}
	g.Name = name
	err = db.change(ctx, actor, ActionGroupAdd, name, map[string]any{"description": g.Description}, func(tx *sql.Tx, now int64) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO user_groups (name, description, created_at, updated_at)
VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO NOTHING`, name, g.Description, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(ErrExists, err)
		}
		g.CreatedAt = fromStamp(now)
		return nil
	})
	if err != nil {
		return Group{}, err
	}
	return g, nil
}

// GetGroup returns a group or ErrNotFound.
func (db *DB) GetGroup(ctx context.Context, name string) (Group, error) {
	n, err := normGroup(name)
	if err != nil {
		return Group{}, fmt.Errorf("configdb: get group: %w", err)
	}
	var (
		g       Group
		created int64
	)
	err = db.sql.QueryRowContext(ctx, `SELECT name, description, created_at FROM user_groups WHERE name = $1`, n).
		Scan(&g.Name, &g.Description, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Group{}, fmt.Errorf("configdb: group %q: %w", n, ErrNotFound)
	}
	if err != nil {
		return Group{}, fmt.Errorf("configdb: get group %q: %w", n, err)
	}
	g.CreatedAt = fromStamp(created)
	return g, nil
}

// ListGroups returns every group, ordered by name.
func (db *DB) ListGroups(ctx context.Context) ([]Group, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT name, description, created_at FROM user_groups ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("configdb: list groups: %w", err)
	}
	defer rows.Close()
	groups := []Group{}
	for rows.Next() {
		var (
			g       Group
			created int64
		)
		if err := rows.Scan(&g.Name, &g.Description, &created); err != nil {
			return nil, fmt.Errorf("configdb: list groups: %w", err)
		}
		g.CreatedAt = fromStamp(created)
		groups = append(groups, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("configdb: list groups: %w", err)
	}
	return groups, nil
}

// DeleteGroup removes a group and its policy. It fails with ErrInUse while
// users belong to the group, and with ErrNotFound for an unknown group.
func (db *DB) DeleteGroup(ctx context.Context, actor, name string) error {
	n, err := normGroup(name)
	if err != nil {
		return fmt.Errorf("configdb: %s: %w", ActionGroupDelete, err)
	}
	return db.change(ctx, actor, ActionGroupDelete, n, map[string]any{}, func(tx *sql.Tx, _ int64) error {
		var members int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE group_name = $1`, n).Scan(&members); err != nil {
			return err
		}
		if members > 0 {
			return fmt.Errorf("%w: %d users belong to it", ErrInUse, members)
		}
		// Explicit rather than relying on ON DELETE CASCADE, which SQLite
		// applies only with foreign keys switched on.
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_policies WHERE group_name = $1`, n); err != nil {
			return err
		}
		return updateOne(ctx, tx, `DELETE FROM user_groups WHERE name = $1`, n)
	})
}
