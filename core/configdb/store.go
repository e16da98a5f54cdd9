package configdb

import "context"

// Authorizer is what the core needs at login and for file transfers.
type Authorizer interface {
	// Authorize returns the user's record if the user may use the
	// gateway; otherwise an error matching ErrPermissionDenied.
	Authorize(ctx context.Context, login string) (User, error)
	// EffectivePolicy returns the policy of the user's group, or fallback
	// (the configuration's default policy) if the user's group has none.
	EffectivePolicy(ctx context.Context, login string, fallback Policy) (Policy, error)
}

// Store is the whole configuration database as the admin API uses it.
// Every method that changes data takes the actor (who asked for the
// change) and writes an audit entry in the same transaction.
type Store interface {
	Authorizer

	AddUser(ctx context.Context, actor string, u User) (User, error)
	GetUser(ctx context.Context, login string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, actor string, u User) (User, error)
	EnableUser(ctx context.Context, actor, login string) error
	DisableUser(ctx context.Context, actor, login string) error
	SetUserGroup(ctx context.Context, actor, login, group string) error
	DeleteUser(ctx context.Context, actor, login string) error

	AddGroup(ctx context.Context, actor string, g Group) (Group, error)
	GetGroup(ctx context.Context, name string) (Group, error)
	ListGroups(ctx context.Context) ([]Group, error)
	DeleteGroup(ctx context.Context, actor, name string) error

	SetPolicy(ctx context.Context, actor string, p Policy) (Policy, error)
	GetPolicy(ctx context.Context, group string) (Policy, error)
	ListPolicies(ctx context.Context) ([]Policy, error)
	DeletePolicy(ctx context.Context, actor, group string) error

	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

var _ Store = (*DB)(nil)
