package configdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const userColumns = `login, enabled, backend, backend_login, group_name, display_name, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner) (User, error) {
	var (
		u                User
		group            sql.NullString
		created, updated int64
	)
	err := r.Scan(&u.Login, &u.Enabled, &u.Backend, &u.BackendLogin, &group, &u.DisplayName, &created, &updated)
	if err != nil {
		return User{}, err
	}
	u.Group = group.String
	u.CreatedAt, u.UpdatedAt = fromStamp(created), fromStamp(updated)
	return u, nil
}

// nullable stores "" as NULL (no group).
func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// normUser validates a user record and returns it in canonical form.
func normUser(u User) (User, error) {
	var err error
	if u.Login, err = normLogin(u.Login); err != nil {
		return u, err
	}
	if err := checkBackend(u.Backend); err != nil {
		return u, err
	}
	if u.BackendLogin == "" {
		u.BackendLogin = u.Login
	}
	if err := checkText("backend login", u.BackendLogin, maxNameBytes, true); err != nil {
		return u, err
	}
	if u.Group != "" {
		if u.Group, err = normGroup(u.Group); err != nil {
			return u, err
		}
	}
	if err := checkText("display name", u.DisplayName, maxNameBytes, false); err != nil {
		return u, err
	}
	return u, nil
}

// userDetails is what the audit log records of a user change.
func userDetails(u User) map[string]any {
	return map[string]any{
		"enabled":       u.Enabled,
		"backend":       u.Backend,
		"backend_login": u.BackendLogin,
		"group":         u.Group,
		"display_name":  u.DisplayName,
	}
}

func groupExists(ctx context.Context, tx *sql.Tx, name string) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_groups WHERE name = $1`, name).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("group %q: %w", name, ErrNotFound)
	}
	return nil
}

// AddUser adds a user. It fails with ErrExists if the login is taken and
// ErrNotFound if the user's group does not exist.
func (db *DB) AddUser(ctx context.Context, actor string, u User) (User, error) {
	u, err := normUser(u)
	if err != nil {
		return User{}, fmt.Errorf("configdb: %s: %w", ActionUserAdd, err)
	}
	err = db.change(ctx, actor, ActionUserAdd, u.Login, userDetails(u), func(tx *sql.Tx, now int64) error {
		if u.Group != "" {
			if err := groupExists(ctx, tx, u.Group); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (login) DO NOTHING`,
			u.Login, u.Enabled, u.Backend, u.BackendLogin, nullable(u.Group), u.DisplayName, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(ErrExists, err)
		}
		u.CreatedAt, u.UpdatedAt = fromStamp(now), fromStamp(now)
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// GetUser returns a user or ErrNotFound.
func (db *DB) GetUser(ctx context.Context, login string) (User, error) {
	l, err := normLogin(login)
	if err != nil {
		return User{}, fmt.Errorf("configdb: get user: %w", err)
	}
	u, err := scanUser(db.sql.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE login = $1`, l))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("configdb: user %q: %w", l, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("configdb: get user %q: %w", l, err)
	}
	return u, nil
}

// ListUsers returns every user, ordered by login.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY login`)
	if err != nil {
		return nil, fmt.Errorf("configdb: list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("configdb: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("configdb: list users: %w", err)
	}
	return users, nil
}

// UpdateUser replaces a user's enabled flag, backend, backend login, group
// and display name. It fails with ErrNotFound for an unknown login or
// group.
func (db *DB) UpdateUser(ctx context.Context, actor string, u User) (User, error) {
	u, err := normUser(u)
	if err != nil {
		return User{}, fmt.Errorf("configdb: %s: %w", ActionUserUpdate, err)
	}
	err = db.change(ctx, actor, ActionUserUpdate, u.Login, userDetails(u), func(tx *sql.Tx, now int64) error {
		if u.Group != "" {
			if err := groupExists(ctx, tx, u.Group); err != nil {
				return err
			}
		}
		row := tx.QueryRowContext(ctx, `UPDATE users
SET enabled = $2, backend = $3, backend_login = $4, group_name = $5, display_name = $6, updated_at = $7
WHERE login = $1 RETURNING `+userColumns,
			u.Login, u.Enabled, u.Backend, u.BackendLogin, nullable(u.Group), u.DisplayName, now)
		updated, err := scanUser(row)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		u = updated
		return err
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// EnableUser allows a user to use the gateway.
func (db *DB) EnableUser(ctx context.Context, actor, login string) error {
	return db.setEnabled(ctx, actor, login, true)
}

// DisableUser stops a user from logging in. Sessions the user already has
// are not touched here: the caller ends them.
func (db *DB) DisableUser(ctx context.Context, actor, login string) error {
	return db.setEnabled(ctx, actor, login, false)
}

func (db *DB) setEnabled(ctx context.Context, actor, login string, enabled bool) error {
	action := ActionUserDisable
	if enabled {
		action = ActionUserEnable
	}
	l, err := normLogin(login)
	if err != nil {
		return fmt.Errorf("configdb: %s: %w", action, err)
	}
	return db.change(ctx, actor, action, l, map[string]any{"enabled": enabled}, func(tx *sql.Tx, now int64) error {
		return updateOne(ctx, tx, `UPDATE users SET enabled = $2, updated_at = $3 WHERE login = $1`, l, enabled, now)
	})
}

// SetUserGroup moves a user to a group; "" removes the user from any
// group. It fails with ErrNotFound for an unknown login or group.
func (db *DB) SetUserGroup(ctx context.Context, actor, login, group string) error {
	l, err := normLogin(login)
	if err != nil {
		return fmt.Errorf("configdb: %s: %w", ActionUserSetGroup, err)
	}
	if group != "" {
		if group, err = normGroup(group); err != nil {
			return fmt.Errorf("configdb: %s: %w", ActionUserSetGroup, err)
		}
	}
	return db.change(ctx, actor, ActionUserSetGroup, l, map[string]any{"group": group}, func(tx *sql.Tx, now int64) error {
		if group != "" {
			if err := groupExists(ctx, tx, group); err != nil {
				return err
			}
		}
		return updateOne(ctx, tx, `UPDATE users SET group_name = $2, updated_at = $3 WHERE login = $1`, l, nullable(group), now)
	})
}

// DeleteUser removes a user. It fails with ErrNotFound for an unknown
// login.
func (db *DB) DeleteUser(ctx context.Context, actor, login string) error {
	l, err := normLogin(login)
	if err != nil {
		return fmt.Errorf("configdb: %s: %w", ActionUserDelete, err)
	}
	return db.change(ctx, actor, ActionUserDelete, l, map[string]any{}, func(tx *sql.Tx, _ int64) error {
		return updateOne(ctx, tx, `DELETE FROM users WHERE login = $1`, l)
	})
}

// updateOne runs a statement that must change exactly one row; none is
// ErrNotFound.
func updateOne(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Authorize is called at login before any IM server is contacted. It
// returns the user's record if the user exists and is enabled, and a
// *DeniedError (matching ErrPermissionDenied) otherwise.
func (db *DB) Authorize(ctx context.Context, login string) (User, error) {
	l, err := normLogin(login)
	if err != nil {
		return User{}, &DeniedError{Login: login, Reason: DenyUnknownUser}
	}
	u, err := scanUser(db.sql.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE login = $1`, l))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, &DeniedError{Login: l, Reason: DenyUnknownUser}
	case err != nil:
		return User{}, fmt.Errorf("configdb: authorize %q: %w", l, err)
	case !u.Enabled:
		return User{}, &DeniedError{Login: l, Reason: DenyDisabled}
	}
	return u, nil
}
