package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/parleygw/parley/core/configdb"
)

func (a *api) listUsers(r *http.Request) (int, any, error) {
	users, err := a.store.ListUsers(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := UserList{Users: make([]User, 0, len(users))}
	for _, u := range users {
		out.Users = append(out.Users, userFromDB(u))
	}
	return http.StatusOK, out, nil
}

func (a *api) getUser(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	u, err := a.store.GetUser(r.Context(), id)
	if err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no user %q", id))
	}
	return http.StatusOK, userFromDB(u), nil
}

func (a *api) addUser(r *http.Request) (int, any, error) {
	var req NewUser
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if len(a.backends) > 0 && !slices.Contains(a.backends, req.Backend) {
		return 0, nil, &APIError{Status: http.StatusBadRequest, Code: CodeInvalidArgument,
			Message: fmt.Sprintf("no backend %q is configured (backends: %s)", req.Backend, strings.Join(a.backends, ", "))}
	}
	enabled := req.Enabled == nil || *req.Enabled
	u, err := a.store.AddUser(r.Context(), actor(r), configdb.User{Login: req.ID, Enabled: enabled, Backend: req.Backend,
		BackendLogin: req.BackendLogin, Group: req.Group, DisplayName: req.DisplayName})
	if err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no group %q", req.Group))
	}
	a.log.Info("user added", "user", u.Login, "backend", u.Backend, "group", u.Group, "enabled", u.Enabled, "actor", actor(r))
	return http.StatusCreated, userFromDB(u), nil
}

func (a *api) enableUser(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	if err := a.store.EnableUser(r.Context(), actor(r), id); err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no user %q", id))
	}
	a.log.Info("user enabled", "user", id, "actor", actor(r))
	return a.changedUser(r, id, 0)
}

// disableUser disables the user first, so that no new login gets in, then
// ends the sessions the user has.
func (a *api) disableUser(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	if err := a.store.DisableUser(r.Context(), actor(r), id); err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no user %q", id))
	}
	kicked := a.sessions.Kick(id, ReasonUserDisable)
	a.log.Info("user disabled", "user", id, "sessions_ended", kicked, "actor", actor(r))
	return a.changedUser(r, id, kicked)
}

func (a *api) deleteUser(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	if err := a.store.DeleteUser(r.Context(), actor(r), id); err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no user %q", id))
	}
	kicked := a.sessions.Kick(id, ReasonUserDelete)
	a.log.Info("user deleted", "user", id, "sessions_ended", kicked, "actor", actor(r))
	return http.StatusOK, UserChange{Deleted: strings.ToLower(id), Kicked: kicked}, nil
}

func (a *api) setUserGroup(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	var req SetGroup
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Group != "" {
		// Told apart here only for the message: the store checks again
		// in its transaction.
		if _, err := a.store.GetGroup(r.Context(), req.Group); err != nil {
			return 0, nil, storeError(err, fmt.Sprintf("no group %q", req.Group))
		}
	}
	if err := a.store.SetUserGroup(r.Context(), actor(r), id, req.Group); err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no user %q", id))
	}
	a.log.Info("user group set", "user", id, "group", req.Group, "actor", actor(r))
	return a.changedUser(r, id, 0)
}

// changedUser answers a change with the user's record as it is now.
func (a *api) changedUser(r *http.Request, id string, kicked int) (int, any, error) {
	u, err := a.store.GetUser(r.Context(), id)
	if errors.Is(err, configdb.ErrNotFound) {
		// Deleted by someone else right after the change.
		return http.StatusOK, UserChange{Kicked: kicked}, nil
	}
	if err != nil {
		return 0, nil, err
	}
	out := userFromDB(u)
	return http.StatusOK, UserChange{User: &out, Kicked: kicked}, nil
}

func (a *api) userPolicy(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	u, err := a.store.GetUser(r.Context(), id)
	if err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no user %q", id))
	}
	p, err := a.store.EffectivePolicy(r.Context(), id, a.defaultPolicy)
	if err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no user %q", id))
	}
	source := SourceGroup
	if p.Group == "" {
		source = SourceDefault
	}
	return http.StatusOK, UserPolicy{User: u.Login, Policy: policyFromDB(p, u.Group, source)}, nil
}

func (a *api) kickUser(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	kicked := a.sessions.Kick(id, ReasonKicked)
	a.log.Info("sessions kicked", "user", id, "sessions_ended", kicked, "actor", actor(r))
	return http.StatusOK, Kicked{User: strings.ToLower(id), Kicked: kicked}, nil
}
