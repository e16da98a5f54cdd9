package admin

import (
	"cmp"
	"net/http"
	"slices"
)

func (a *api) listPlugins(*http.Request) (int, any, error) {
	return http.StatusOK, PluginList{Plugins: a.pluginStatus()}, nil
}

// reloadPlugins rescans the plugin directory and answers with the plugins'
// state afterwards.
func (a *api) reloadPlugins(r *http.Request) (int, any, error) {
	if a.plugins == nil {
		return 0, nil, &APIError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "this daemon runs no plugin host"}
	}
	if err := a.plugins.Reload(r.Context()); err != nil {
		a.log.Warn("plugin reload failed", "actor", actor(r), "error", err)
		return 0, nil, &APIError{Status: http.StatusInternalServerError, Code: CodeReloadFailed, Message: err.Error()}
	}
	a.log.Info("plugins reloaded", "actor", actor(r))
	return http.StatusOK, PluginList{Plugins: a.pluginStatus()}, nil
}

func (a *api) pluginStatus() []PluginStatus {
	if a.plugins == nil {
		return []PluginStatus{}
	}
	out := slices.Clone(a.plugins.Status())
	if out == nil {
		out = []PluginStatus{}
	}
	slices.SortFunc(out, func(x, y PluginStatus) int { return cmp.Compare(x.Backend, y.Backend) })
	return out
}
