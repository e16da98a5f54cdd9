package configdb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// ListAudit returns audit entries, newest first.
func (db *DB) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = defaultAuditLimit
	case limit < 0 || limit > maxAuditLimit:
		return nil, fmt.Errorf("configdb: list audit: %w: limit %d is not from 1 to %d", ErrInvalid, q.Limit, maxAuditLimit)
	}
	var (
		where []string
		args  []any
	)
	if q.Target != "" {
		args = append(args, strings.ToLower(q.Target))
		where = append(where, fmt.Sprintf("target = $%d", len(args)))
	}
	if q.BeforeID > 0 {
		args = append(args, q.BeforeID)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	query := `SELECT id, created_at, actor, action, target, details FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))

	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("configdb: list audit: %w", err)
	}
	defer rows.Close()
	entries := []AuditEntry{}
	for rows.Next() {
		var (
			e       AuditEntry
			at      int64
			details string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &details); err != nil {
			return nil, fmt.Errorf("configdb: list audit: %w", err)
		}
		e.At = fromStamp(at)
		e.Details = json.RawMessage(details)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("configdb: list audit: %w", err)
	}
	return entries, nil
}
