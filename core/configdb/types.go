package configdb

import (
	"encoding/json"
	"time"
)

// User is a person allowed (or not) to use the gateway.
type User struct {
	// Login is the name the user logs in to the gateway with. It is
	// matched case-insensitively and stored in lower case.
	Login string
	// Enabled says whether the user may use the collaboration gateway.
	Enabled bool
	// Backend names the configuration's backend block the user logs in
	// to, e.g. "groupwise".
	Backend string
	// BackendLogin is the user's login name on the IM server; when empty
	// at AddUser it is Login.
	BackendLogin string
	// Group is the user's group, or "" for none.
	Group string
	// DisplayName is for admins' listings; it is optional.
	DisplayName string
	// CreatedAt and UpdatedAt are set by the database.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Group is a set of users sharing a policy.
type Group struct {
	// Name is lower-case letters, digits, '.', '-' and '_', at most 63
	// characters, starting with a letter or digit.
	Name        string
	Description string
	CreatedAt   time.Time
}

// AuditEntry is one recorded admin change.
type AuditEntry struct {
	// ID increases with every entry.
	ID int64
	// At is when the change was made.
	At time.Time
	// Actor is who made it, as the admin API identified them.
	Actor string
	// Action is what was done, e.g. "user.add", "policy.set".
	Action string
	// Target is the user login or group name changed.
	Target string
	// Details is a JSON object with the values set.
	Details json.RawMessage
}

// Audit actions.
const (
	ActionUserAdd      = "user.add"
	ActionUserUpdate   = "user.update"
	ActionUserEnable   = "user.enable"
	ActionUserDisable  = "user.disable"
	ActionUserSetGroup = "user.set_group"
	ActionUserDelete   = "user.delete"
	ActionGroupAdd     = "group.add"
	ActionGroupDelete  = "group.delete"
	ActionPolicySet    = "policy.set"
	ActionPolicyDelete = "policy.delete"
)

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	// Target, when not empty, selects the entries about one user or group.
	Target string
	// BeforeID, when positive, selects entries older than that ID (for
	// paging: pass the last ID of the previous page).
	BeforeID int64
	// Limit caps the number of entries: 1 to 1000; 0 means 100.
	Limit int
}
