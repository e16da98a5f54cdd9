// Package configdb is the gateway's configuration database: which users may
// use the collaboration gateway and through which backend, their groups,
// each group's file transfer policy, and an audit log of every change an
// admin makes.
//
// One schema serves SQLite (embedded, the default, one node) and PostgreSQL
// (production, several nodes): the migrations in migrations/ are written in
// SQL both run unchanged, and are applied in order at Open, each in its own
// transaction. Every method that changes data writes its audit row in the
// same transaction as the change.
//
// At login the core calls Authorize before it contacts any IM server: an
// unknown or disabled user gets an error matching ErrPermissionDenied.
package configdb
