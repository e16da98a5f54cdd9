package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/parleygw/parley/core/configdb"
)

// TransferLog is the configuration database's file transfer log; the
// admin API serves /v1/transfers when its Store has one (*configdb.DB
// does).
type TransferLog interface {
	ListTransfers(ctx context.Context, q configdb.TransferQuery) ([]configdb.TransferRecord, error)
}

// Transfer is one file transfer that ended on the gateway.
type Transfer struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	TransferID string    `json:"transfer_id"`
	// Direction is "send" or "receive", seen from User.
	Direction string `json:"direction"`
	User      string `json:"user"`
	Backend   string `json:"backend"`
	Sender    string `json:"sender"`
	Recipient string `json:"recipient"`
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	Bytes     int64  `json:"bytes"`
	// Outcome is delivered, refused, declined, cancelled or failed; Rule
	// names the rule that refused a file.
	Outcome string `json:"outcome"`
	Rule    string `json:"rule,omitempty"`
	Detail  string `json:"detail,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// TransferList is the answer of GET /v1/transfers, newest first.
type TransferList struct {
	Transfers []Transfer `json:"transfers"`
}

// TransferQuery selects transfers: Limit (1 to 1000, 0 means 100), an
// optional User and Outcome and, for paging, BeforeID.
type TransferQuery struct {
	Limit    int
	User     string
	Outcome  string
	BeforeID int64
}

// transfers lists the file transfer log, newest first. Query: limit (1 to
// 1000, default 100), user, outcome, before (a record id, for paging).
func (a *api) transfers(r *http.Request) (int, any, error) {
	log, ok := a.store.(TransferLog)
	if !ok {
		return 0, nil, &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "this daemon keeps no file transfer log"}
	}
	qs := r.URL.Query()
	q := configdb.TransferQuery{User: qs.Get("user"), Outcome: qs.Get("outcome")}
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditLimit {
			return 0, nil, badRequest("limit %q: want a number from 1 to %d", s, maxAuditLimit)
		}
		q.Limit = n
	}
	if s := qs.Get("before"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 1 {
			return 0, nil, badRequest("before %q: want a transfer record id", s)
		}
		q.BeforeID = id
	}
	switch q.Outcome {
	case "", configdb.OutcomeDelivered, configdb.OutcomeRefused, configdb.OutcomeDeclined, configdb.OutcomeCancelled, configdb.OutcomeFailed:
	default:
		return 0, nil, badRequest("outcome %q: want delivered, refused, declined, cancelled or failed", q.Outcome)
	}
	recs, err := log.ListTransfers(r.Context(), q)
	if err != nil {
		return 0, nil, storeError(err, "no transfers")
	}
	out := TransferList{Transfers: make([]Transfer, 0, len(recs))}
	for _, t := range recs {
		out.Transfers = append(out.Transfers, Transfer{ID: t.ID, At: t.At, TransferID: t.TransferID, Direction: t.Direction,
			User: t.User, Backend: t.Backend, Sender: t.Sender, Recipient: t.Recipient, Name: t.Name, Size: t.Size, Bytes: t.Bytes,
			Outcome: t.Outcome, Rule: t.Rule, Detail: t.Detail, SHA256: t.SHA256})
	}
	return http.StatusOK, out, nil
}

// Transfers lists the file transfer log, newest first.
func (c *Client) Transfers(ctx context.Context, q TransferQuery) (TransferList, error) {
	v := url.Values{}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.User != "" {
		v.Set("user", q.User)
	}
	if q.Outcome != "" {
		v.Set("outcome", q.Outcome)
	}
	if q.BeforeID != 0 {
		v.Set("before", strconv.FormatInt(q.BeforeID, 10))
	}
	path := "/v1/transfers"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return call[TransferList](ctx, c, http.MethodGet, path, nil)
}
