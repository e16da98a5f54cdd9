package admin

import (
	"net/http"
)

// health answers "ok" with counts when the configuration database answers,
// "degraded" when a plugin is not up, and 503 when the database fails.
func (a *api) health(r *http.Request) (int, any, error) {
	ctx := r.Context()
	users, err := a.store.ListUsers(ctx)
	if err != nil {
		return 0, nil, a.unavailable(err)
	}
	groups, err := a.store.ListGroups(ctx)
	if err != nil {
		return 0, nil, a.unavailable(err)
	}
	h := Health{Status: StatusOK, Users: len(users), Groups: len(groups)}
	for _, u := range users {
		if u.Enabled {
			h.UsersEnabled++
		}
	}
	for _, s := range a.sessions.List() {
		h.Sessions++
		h.DevicesAttached += s.DevicesAttached
	}
	for _, p := range a.pluginStatus() {
		h.Plugins++
		if p.State == PluginStateUp {
			h.PluginsUp++
		}
	}
	if h.PluginsUp < h.Plugins {
		h.Status = StatusDegraded
	}
	return http.StatusOK, h, nil
}

func (a *api) unavailable(err error) error {
	a.log.Error("health: configuration database", "error", err)
	return &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: "configuration database does not answer; parleyd's log has the details"}
}
