package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/parleygw/parley/core/configdb"
)

func (a *api) listGroups(r *http.Request) (int, any, error) {
	ctx := r.Context()
	groups, err := a.store.ListGroups(ctx)
	if err != nil {
		return 0, nil, err
	}
	users, err := a.store.ListUsers(ctx)
	if err != nil {
		return 0, nil, err
	}
	policies, err := a.store.ListPolicies(ctx)
	if err != nil {
		return 0, nil, err
	}
	members := map[string]int{}
	for _, u := range users {
		members[u.Group]++
	}
	hasPolicy := map[string]bool{}
	for _, p := range policies {
		hasPolicy[p.Group] = true
	}
	out := GroupList{Groups: make([]Group, 0, len(groups))}
	for _, g := range groups {
		out.Groups = append(out.Groups, Group{Name: g.Name, Description: g.Description, Users: members[g.Name],
			HasPolicy: hasPolicy[g.Name], CreatedAt: g.CreatedAt})
	}
	return http.StatusOK, out, nil
}

func (a *api) addGroup(r *http.Request) (int, any, error) {
	var req NewGroup
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	g, err := a.store.AddGroup(r.Context(), actor(r), configdb.Group{Name: req.Name, Description: req.Description})
	if err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no group %q", req.Name))
	}
	a.log.Info("group added", "group", g.Name, "actor", actor(r))
	return http.StatusCreated, Group{Name: g.Name, Description: g.Description, CreatedAt: g.CreatedAt}, nil
}

func (a *api) deleteGroup(r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	if err := a.store.DeleteGroup(r.Context(), actor(r), name); err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no group %q", name))
	}
	a.log.Info("group deleted", "group", name, "actor", actor(r))
	return http.StatusOK, Deleted{Deleted: strings.ToLower(name)}, nil
}

// groupPolicy shows a group's own policy, or the default one the group's
// users get while it has none.
func (a *api) groupPolicy(r *http.Request) (int, any, error) {
	p, source, err := a.currentPolicy(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, policyFromDB(p, strings.ToLower(r.PathValue("name")), source), nil
}

// currentPolicy returns a group's own policy or, if it has none, the
// default policy.
func (a *api) currentPolicy(r *http.Request, group string) (configdb.Policy, string, error) {
	ctx := r.Context()
	if _, err := a.store.GetGroup(ctx, group); err != nil {
		return configdb.Policy{}, "", storeError(err, fmt.Sprintf("no group %q", group))
	}
	p, err := a.store.GetPolicy(ctx, group)
	switch {
	case errors.Is(err, configdb.ErrNotFound):
		return a.defaultPolicy, SourceDefault, nil
	case err != nil:
		return configdb.Policy{}, "", storeError(err, fmt.Sprintf("no group %q", group))
	}
	return p, SourceGroup, nil
}

// setPolicy changes the fields given and keeps the others.
func (a *api) setPolicy(r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	var req PolicyChange
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	p, _, err := a.currentPolicy(r, name)
	if err != nil {
		return 0, nil, err
	}
	p.Group = name
	if req.FileTransfer != nil {
		p.FileTransfer = *req.FileTransfer
	}
	if req.MaxFileBytes != nil {
		p.MaxFileBytes = *req.MaxFileBytes
	}
	if req.BlockedExtensions != nil {
		p.BlockedExtensions = req.BlockedExtensions
	}
	if req.OptimizeAllowed != nil {
		p.OptimizeAllowed = *req.OptimizeAllowed
	}
	set, err := a.store.SetPolicy(r.Context(), actor(r), p)
	if err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no group %q", name))
	}
	a.log.Info("policy set", "group", set.Group, "actor", actor(r))
	return http.StatusOK, policyFromDB(set, set.Group, SourceGroup), nil
}

// deletePolicy drops a group's own policy; its users get the default one.
func (a *api) deletePolicy(r *http.Request) (int, any, error) {
	name := r.PathValue("name")
	if _, err := a.store.GetGroup(r.Context(), name); err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("no group %q", name))
	}
	if err := a.store.DeletePolicy(r.Context(), actor(r), name); err != nil {
		return 0, nil, storeError(err, fmt.Sprintf("group %q has no policy of its own", name))
	}
	a.log.Info("policy deleted", "group", name, "actor", actor(r))
	return http.StatusOK, policyFromDB(a.defaultPolicy, strings.ToLower(name), SourceDefault), nil
}

func (a *api) listPolicies(r *http.Request) (int, any, error) {
	policies, err := a.store.ListPolicies(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := PolicyList{Policies: make([]Policy, 0, len(policies)), Default: policyFromDB(a.defaultPolicy, "", SourceDefault)}
	for _, p := range policies {
		out.Policies = append(out.Policies, policyFromDB(p, p.Group, SourceGroup))
	}
	return http.StatusOK, out, nil
}
