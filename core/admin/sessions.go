package admin

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/parleygw/parley/core/session"
)

// SessionManager adapts the daemon's session cache to Sessions. A kick
// ends the session as Manager.End does: the backend session is logged out
// and the user's devices are told the session is over.
func SessionManager(m *session.Manager) Sessions { return managerSessions{m} }

type managerSessions struct{ m *session.Manager }

func (s managerSessions) List() []SessionInfo {
	all := s.m.Sessions()
	out := make([]SessionInfo, 0, len(all))
	for _, sess := range all {
		total, attached := sess.Devices()
		out = append(out, SessionInfo{ID: sess.ID, User: sess.User, Backend: sess.Backend, Login: sess.Login,
			DevicesAttached: attached, DevicesTotal: total, PendingEvents: sess.Pending()})
	}
	return out
}

func (s managerSessions) Kick(user, reason string) int {
	n := 0
	for _, sess := range s.m.Sessions() {
		if strings.EqualFold(sess.User, user) {
			s.m.End(sess, reason)
			n++
		}
	}
	return n
}

// listSessions lists live sessions ordered by user; ?user= selects one
// user's.
func (a *api) listSessions(r *http.Request) (int, any, error) {
	user := r.URL.Query().Get("user")
	all := a.sessions.List()
	out := SessionList{Sessions: make([]SessionInfo, 0, len(all))}
	for _, s := range all {
		if user == "" || strings.EqualFold(s.User, user) {
			out.Sessions = append(out.Sessions, s)
		}
	}
	slices.SortFunc(out.Sessions, func(x, y SessionInfo) int {
		return cmp.Or(cmp.Compare(x.User, y.User), cmp.Compare(x.ID, y.ID))
	})
	return http.StatusOK, out, nil
}
