package configdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const policyColumns = `group_name, file_transfer, max_file_bytes, blocked_extensions, optimize_allowed, updated_at`

func scanPolicy(r rowScanner) (Policy, error) {
	var (
		p       Policy
		exts    string
		updated int64
	)
	if err := r.Scan(&p.Group, &p.FileTransfer, &p.MaxFileBytes, &exts, &p.OptimizeAllowed, &updated); err != nil {
		return Policy{}, err
	}
	p.BlockedExtensions = splitExtensions(exts)
	p.UpdatedAt = fromStamp(updated)
	return p, nil
}

// SetPolicy creates or replaces the policy of p.Group. It fails with
// ErrNotFound for an unknown group.
func (db *DB) SetPolicy(ctx context.Context, actor string, p Policy) (Policy, error) {
	g, err := normGroup(p.Group)
	if err != nil {
		return Policy{}, fmt.Errorf("configdb: %s: %w", ActionPolicySet, err)
	}
	p.Group = g
	if p, err = p.normalize(); err != nil {
		return Policy{}, fmt.Errorf("configdb: %s: %w", ActionPolicySet, err)
	}
	details := map[string]any{
		"file_transfer":      p.FileTransfer,
		"max_file_bytes":     p.MaxFileBytes,
		"blocked_extensions": p.BlockedExtensions,
		"optimize_allowed":   p.OptimizeAllowed,
	}
	err = db.change(ctx, actor, ActionPolicySet, g, details, func(tx *sql.Tx, now int64) error {
		if err := groupExists(ctx, tx, g); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO group_policies (`+policyColumns+`)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (group_name) DO UPDATE SET
    file_transfer = excluded.file_transfer,
    max_file_bytes = excluded.max_file_bytes,
    blocked_extensions = excluded.blocked_extensions,
    optimize_allowed = excluded.optimize_allowed,
    updated_at = excluded.updated_at`,
			g, p.FileTransfer, p.MaxFileBytes, joinExtensions(p.BlockedExtensions), p.OptimizeAllowed, now)
		p.UpdatedAt = fromStamp(now)
		return err
	})
	if err != nil {
		return Policy{}, err
	}
	return p, nil
}

// GetPolicy returns a group's own policy, or ErrNotFound if it has none.
func (db *DB) GetPolicy(ctx context.Context, group string) (Policy, error) {
	g, err := normGroup(group)
	if err != nil {
		return Policy{}, fmt.Errorf("configdb: get policy: %w", err)
	}
	p, err := scanPolicy(db.sql.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM group_policies WHERE group_name = $1`, g))
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, fmt.Errorf("configdb: policy of group %q: %w", g, ErrNotFound)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("configdb: get policy %q: %w", g, err)
	}
	return p, nil
}

// ListPolicies returns every group policy, ordered by group.
func (db *DB) ListPolicies(ctx context.Context) ([]Policy, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+policyColumns+` FROM group_policies ORDER BY group_name`)
	if err != nil {
		return nil, fmt.Errorf("configdb: list policies: %w", err)
	}
	defer rows.Close()
	policies := []Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("configdb: list policies: %w", err)
		}
		policies = append(policies, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("configdb: list policies: %w", err)
	}
	return policies, nil
}

// DeletePolicy removes a group's policy, so that its users get the default
// one. It fails with ErrNotFound if the group has no policy.
func (db *DB) DeletePolicy(ctx context.Context, actor, group string) error {
	g, err := normGroup(group)
	if err != nil {
		return fmt.Errorf("configdb: %s: %w", ActionPolicyDelete, err)
	}
	return db.change(ctx, actor, ActionPolicyDelete, g, map[string]any{}, func(tx *sql.Tx, _ int64) error {
		return updateOne(ctx, tx, `DELETE FROM group_policies WHERE group_name = $1`, g)
	})
}

// EffectivePolicy returns the policy that applies to a user: their group's
// policy if it has one, otherwise fallback (the configuration file's
// file_policy) with Group "". It fails with ErrNotFound for an unknown
// login.
func (db *DB) EffectivePolicy(ctx context.Context, login string, fallback Policy) (Policy, error) {
	l, err := normLogin(login)
	if err != nil {
		return Policy{}, fmt.Errorf("configdb: effective policy: %w", err)
	}
	var (
		known              string
		group, exts        sql.NullString
		transfer, optimize sql.NullBool
		maxBytes, updated  sql.NullInt64
	)
	err = db.sql.QueryRowContext(ctx, `SELECT u.login, p.group_name, p.file_transfer, p.max_file_bytes,
    p.blocked_extensions, p.optimize_allowed, p.updated_at
FROM users u LEFT JOIN group_policies p ON p.group_name = u.group_name
WHERE u.login = $1`, l).Scan(&known, &group, &transfer, &maxBytes, &exts, &optimize, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, fmt.Errorf("configdb: effective policy: user %q: %w", l, ErrNotFound)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("configdb: effective policy of %q: %w", l, err)
	}
	if !group.Valid {
		fallback.Group = ""
		return fallback, nil
	}
	return Policy{
		Group:             group.String,
		FileTransfer:      transfer.Bool,
		MaxFileBytes:      maxBytes.Int64,
		BlockedExtensions: splitExtensions(exts.String),
		OptimizeAllowed:   optimize.Bool,
		UpdatedAt:         fromStamp(updated.Int64),
	}, nil
}
