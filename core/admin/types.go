package admin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/parleygw/parley/core/configdb"
)

// User is a user as the API shows it.
type User struct {
	ID           string    `json:"id"`
	Enabled      bool      `json:"enabled"`
	Backend      string    `json:"backend"`
	BackendLogin string    `json:"backend_login"`
	Group        string    `json:"group"`
	DisplayName  string    `json:"display_name"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func userFromDB(u configdb.User) User {
	return User{ID: u.Login, Enabled: u.Enabled, Backend: u.Backend, BackendLogin: u.BackendLogin,
		Group: u.Group, DisplayName: u.DisplayName, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// NewUser is the body of POST /v1/users. BackendLogin defaults to ID;
// Enabled defaults to true.
type NewUser struct {
	ID           string `json:"id"`
	Backend      string `json:"backend"`
	BackendLogin string `json:"backend_login,omitempty"`
	Group        string `json:"group,omitempty"`
	DisplayName  string `json:"display_name,omitempty"`
	Enabled      *bool  `json:"enabled,omitempty"`
}

// UserList is the answer of GET /v1/users.
type UserList struct {
	Users []User `json:"users"`
}

// UserChange is the answer of the calls that change a user: the user as
// it is now (absent after a delete) and how many live sessions the change
// ended.
type UserChange struct {
	User    *User  `json:"user,omitempty"`
	Deleted string `json:"deleted,omitempty"`
	Kicked  int    `json:"kicked"`
}

// SetGroup is the body of PUT /v1/users/{id}/group; "" takes the user out
// of any group.
type SetGroup struct {
	Group string `json:"group"`
}

// Deleted is the answer of DELETE /v1/groups/{name}.
type Deleted struct {
	Deleted string `json:"deleted"`
}

// Group is a group as the API shows it.
type Group struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Users       int       `json:"users"`
	HasPolicy   bool      `json:"has_policy"`
	CreatedAt   time.Time `json:"created_at"`
}

// NewGroup is the body of POST /v1/groups.
type NewGroup struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// GroupList is the answer of GET /v1/groups.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// Policy sources: a group's own policy, or the configuration file's
// default for groups (and users) without one.
const (
	SourceGroup   = "group"
	SourceDefault = "default"
)

// Policy is a file transfer policy as the API shows it.
type Policy struct {
	// Group is the group the policy is shown for ("" for a user without
	// a group).
	Group string `json:"group"`
	// Source is SourceGroup or SourceDefault.
	Source            string     `json:"source"`
	FileTransfer      bool       `json:"file_transfer"`
	MaxFileBytes      int64      `json:"max_file_bytes"`
	BlockedExtensions Extensions `json:"blocked_extensions"`
	OptimizeAllowed   bool       `json:"optimize_allowed"`
	UpdatedAt         *time.Time `json:"updated_at,omitempty"`
}

func policyFromDB(p configdb.Policy, group, source string) Policy {
	out := Policy{Group: group, Source: source, FileTransfer: p.FileTransfer, MaxFileBytes: p.MaxFileBytes,
		BlockedExtensions: Extensions(p.BlockedExtensions), OptimizeAllowed: p.OptimizeAllowed}
	if out.BlockedExtensions == nil {
		out.BlockedExtensions = Extensions{}
	}
	if !p.UpdatedAt.IsZero() {
		t := p.UpdatedAt
		out.UpdatedAt = &t
	}
	return out
}

// UserPolicy is the answer of GET /v1/users/{id}/policy: the policy that
// applies to the user.
type UserPolicy struct {
	User   string `json:"user"`
	Policy Policy `json:"policy"`
}

// PolicyList is the answer of GET /v1/policies: every group's own policy.
type PolicyList struct {
	Policies []Policy `json:"policies"`
	Default  Policy   `json:"default"`
}

// PolicyChange is the body of PATCH /v1/groups/{name}/policy. Fields left
// out keep their value: the group's current policy, or the default policy
// for a group that has none yet.
type PolicyChange struct {
	FileTransfer      *bool      `json:"file_transfer,omitempty"`
	MaxFileBytes      *int64     `json:"max_file_bytes,omitempty"`
	BlockedExtensions Extensions `json:"blocked_extensions,omitzero"`
	OptimizeAllowed   *bool      `json:"optimize_allowed,omitempty"`
}

// Extensions is a list of blocked file extensions. In JSON it is an array
// of strings; a request may also give one string, either "*" (block every
// file) or a comma-separated list ("exe,bat"). An empty array blocks
// nothing.
type Extensions []string

// UnmarshalJSON accepts an array of strings or one string.
func (e *Extensions) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as for other types: null leaves the value alone
	}
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*e = append(Extensions{}, list...)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("blocked_extensions: want an array of strings or one string")
	}
	*e = SplitExtensions(s)
	return nil
}

// SplitExtensions splits a comma-separated extension list; spaces around
// the items and empty items are dropped.
func SplitExtensions(s string) Extensions {
	out := Extensions{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// AuditEntry is one recorded admin change.
type AuditEntry struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Target  string          `json:"target"`
	Details json.RawMessage `json:"details"`
}

// AuditList is the answer of GET /v1/audit, newest entry first.
type AuditList struct {
	Entries []AuditEntry `json:"entries"`
}

// AuditQuery selects audit entries: Limit (1 to 1000, 0 means 100), an
// optional Target (user or group) and, for paging, BeforeID.
type AuditQuery struct {
	Limit    int
	Target   string
	BeforeID int64
}

// SessionInfo describes one live session.
type SessionInfo struct {
	ID      string `json:"id"`
	User    string `json:"user"`
	Backend string `json:"backend"`
	// Login is the user's login name on the backend.
	Login string `json:"login"`
	// DevicesAttached of DevicesTotal devices have a live link.
	DevicesAttached int `json:"devices_attached"`
	DevicesTotal    int `json:"devices_total"`
	// PendingEvents are events held for devices that have not
	// acknowledged them.
	PendingEvents int `json:"pending_events"`
}

// SessionList is the answer of GET /v1/sessions.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

// Kicked is the answer of DELETE /v1/users/{id}/sessions.
type Kicked struct {
	User   string `json:"user"`
	Kicked int    `json:"kicked"`
}

// PluginStatus describes one backend's plugin.
type PluginStatus struct {
	Backend string `json:"backend"`
	// Name is the plugin's name, Version its version.
	Name    string `json:"name"`
	Version string `json:"version"`
	// State is "starting", "up", "down", "failed", "missing" or "stopped".
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// PID is the plugin process, 0 when it is not running.
	PID int `json:"pid"`
	// Restarts counts restarts after crashes or failed health checks.
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
}

// PluginState "up" is the one state in which a backend serves sessions.
const PluginStateUp = "up"

// PluginList is the answer of GET /v1/plugins and POST /v1/plugins/reload.
type PluginList struct {
	Plugins []PluginStatus `json:"plugins"`
}

// Health is the answer of GET /v1/health. Status is "ok", or "degraded"
// when a plugin is not up.
type Health struct {
	Status          string `json:"status"`
	Users           int    `json:"users"`
	UsersEnabled    int    `json:"users_enabled"`
	Groups          int    `json:"groups"`
	Sessions        int    `json:"sessions"`
	DevicesAttached int    `json:"devices_attached"`
	Plugins         int    `json:"plugins"`
	PluginsUp       int    `json:"plugins_up"`
}

// Health statuses.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
)
