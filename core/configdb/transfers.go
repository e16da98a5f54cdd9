package configdb

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TransferRecord is one file transfer that ended on the gateway: refused
// by a rule, declined by the recipient, delivered, cancelled or failed.
type TransferRecord struct {
	// ID increases with every record; set by RecordTransfer.
	ID int64
	// At is when the transfer ended; set by RecordTransfer.
	At time.Time
	// TransferID is the gateway's (or, for incoming files, the
	// backend's) id of the transfer.
	TransferID string
	// Direction is TransferSend or TransferReceive, seen from User.
	Direction string
	// User is the gateway user on this side of the transfer.
	User string
	// Backend is the backend the transfer went through.
	Backend string
	// Sender and Recipient are who sent the file to whom, as the IM
	// server names them (the recipient of a file sent into a
	// conversation is the conversation id).
	Sender, Recipient string
	// Name is the file name, Size its announced size in bytes, Bytes how
	// many went through before the transfer ended.
	Name  string
	Size  int64
	Bytes int64
	// Outcome is one of the Outcome constants; Rule names the rule that
	// refused a file (one of the Rule constants), "" otherwise.
	Outcome string
	Rule    string
	// Detail is a short human-readable explanation.
	Detail string
	// SHA256 is the file's hex sha256 when the gateway knows it.
	SHA256 string
}

// Directions of a transfer record.
const (
	TransferSend    = "send"
	TransferReceive = "receive"
)

// Outcomes of a transfer.
const (
	OutcomeDelivered = "delivered"
	OutcomeRefused   = "refused"
	OutcomeDeclined  = "declined"
	OutcomeCancelled = "cancelled"
	OutcomeFailed    = "failed"
)

// Rules that refuse a transfer.
const (
	RuleDisabled      = "disabled"        // the policy switches file transfer off
	RuleGatewayLimit  = "gateway_limit"   // larger than the policy's maximum
	RuleTypeBlocked   = "type_blocked"    // the extension is blocked
	RuleIMServerLimit = "im_server_limit" // the IM server's maximum
	RuleUnsupported   = "unsupported"     // the backend has no file transfer
)

// TransferQuery selects transfer records, newest first.
type TransferQuery struct {
	// User, when not empty, selects the records of one gateway user.
	User string
	// Outcome, when not empty, selects one outcome.
	Outcome string
	// BeforeID, when positive, selects records older than that ID.
	BeforeID int64
	// Limit caps the number of records: 1 to 1000; 0 means 100.
	Limit int
}

// Text fields of a record are cut to these many bytes.
const (
	maxTransferText   = 256
	maxTransferDetail = 512
)

// RecordTransfer appends a record to the transfer log and returns it with
// its ID and time. Text from IM servers is not trusted: fields are cut to
// a bounded length and control characters replaced, so that a record is
// never refused for its content.
func (db *DB) RecordTransfer(ctx context.Context, r TransferRecord) (TransferRecord, error) {
	if r.Direction != TransferSend && r.Direction != TransferReceive {
		return TransferRecord{}, fmt.Errorf("configdb: record transfer: %w: direction %q", ErrInvalid, r.Direction)
	}
	if r.Size < 0 || r.Bytes < 0 {
		return TransferRecord{}, fmt.Errorf("configdb: record transfer: %w: negative size", ErrInvalid)
	}
	r.TransferID = cleanText(r.TransferID, maxTransferText)
	r.User = strings.ToLower(cleanText(r.User, maxNameBytes))
	r.Backend = cleanText(r.Backend, maxTransferText)
	r.Sender = cleanText(r.Sender, maxTransferText)
	r.Recipient = cleanText(r.Recipient, maxTransferText)
	r.Name = cleanText(r.Name, maxTransferText)
	r.Outcome = cleanText(r.Outcome, maxTransferText)
	r.Rule = cleanText(r.Rule, maxTransferText)
	r.Detail = cleanText(r.Detail, maxTransferDetail)
	r.SHA256 = cleanText(r.SHA256, maxTransferText)

	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return TransferRecord{}, fmt.Errorf("configdb: record transfer: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	now := db.stamp()
	_, err = tx.ExecContext(ctx, `INSERT INTO id_counters (name, value) VALUES ('file_transfers', 0) ON CONFLICT (name) DO NOTHING`)
	if err != nil {
		return TransferRecord{}, fmt.Errorf("configdb: record transfer: id counter: %w", err)
	}
	err = tx.QueryRowContext(ctx,
		`UPDATE id_counters SET value = value + 1 WHERE name = 'file_transfers' RETURNING value`).Scan(&r.ID)
	if err != nil {
		return TransferRecord{}, fmt.Errorf("configdb: record transfer: next id: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO file_transfers (`+transferColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		r.ID, now, r.TransferID, r.Direction, r.User, r.Backend, r.Sender, r.Recipient, r.Name, r.Size, r.Bytes,
		r.Outcome, r.Rule, r.Detail, r.SHA256)
	if err != nil {
		return TransferRecord{}, fmt.Errorf("configdb: record transfer: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return TransferRecord{}, fmt.Errorf("configdb: record transfer: %w", err)
	}
	r.At = fromStamp(now)
	return r, nil
}

const transferColumns = `id, ended_at, transfer_id, direction, user_login, backend, sender, recipient, name, size, bytes,
    outcome, rule, detail, sha256`

// ListTransfers returns transfer records, newest first.
func (db *DB) ListTransfers(ctx context.Context, q TransferQuery) ([]TransferRecord, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = defaultAuditLimit
	case limit < 0 || limit > maxAuditLimit:
		return nil, fmt.Errorf("configdb: list transfers: %w: limit %d is not from 1 to %d", ErrInvalid, q.Limit, maxAuditLimit)
	}
	var (
		where []string
		args  []any
	)
	if q.User != "" {
		args = append(args, strings.ToLower(q.User))
		where = append(where, fmt.Sprintf("user_login = $%d", len(args)))
	}
	if q.Outcome != "" {
		args = append(args, q.Outcome)
		where = append(where, fmt.Sprintf("outcome = $%d", len(args)))
	}
	if q.BeforeID > 0 {
		args = append(args, q.BeforeID)
		where = append(where, fmt.Sprintf("id < $%d", len(args)))
	}
	query := `SELECT ` + transferColumns + ` FROM file_transfers`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))

	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("configdb: list transfers: %w", err)
	}
	defer rows.Close()
	out := []TransferRecord{}
	for rows.Next() {
		var (
			r  TransferRecord
			at int64
		)
		if err := rows.Scan(&r.ID, &at, &r.TransferID, &r.Direction, &r.User, &r.Backend, &r.Sender, &r.Recipient,
			&r.Name, &r.Size, &r.Bytes, &r.Outcome, &r.Rule, &r.Detail, &r.SHA256); err != nil {
			return nil, fmt.Errorf("configdb: list transfers: %w", err)
		}
		r.At = fromStamp(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("configdb: list transfers: %w", err)
	}
	return out, nil
}

// cleanText makes untrusted text storable: invalid UTF-8 and control
// characters become U+FFFD and spaces, and the result is cut to at most
// max bytes on a character boundary.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
