package admin

import (
	"net/http"
	"strconv"

	"github.com/parleygw/parley/core/configdb"
)

// maxAuditLimit is the most entries one audit request returns.
const maxAuditLimit = 1000

// audit lists recorded changes, newest first. Query: limit (1 to 1000,
// default 100), target (a user or group), before (an entry id, for
// paging).
func (a *api) audit(r *http.Request) (int, any, error) {
	q := configdb.AuditQuery{Target: r.URL.Query().Get("target")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditLimit {
			return 0, nil, badRequest("limit %q: want a number from 1 to %d", s, maxAuditLimit)
		}
		q.Limit = n
	}
	if s := r.URL.Query().Get("before"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 1 {
			return 0, nil, badRequest("before %q: want an audit entry id", s)
		}
		q.BeforeID = id
	}
	entries, err := a.store.ListAudit(r.Context(), q)
	if err != nil {
		return 0, nil, storeError(err, "no audit entries")
	}
	out := AuditList{Entries: make([]AuditEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action,
			Target: e.Target, Details: e.Details})
	}
	return http.StatusOK, out, nil
}
