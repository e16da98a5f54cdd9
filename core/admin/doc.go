// Package admin is the daemon's admin API and its client.
//
// The API is HTTP with JSON bodies under /v1, served on its own listener:
// a loopback TCP address or a unix socket (Listen refuses anything else).
// Every request, health included, carries "Authorization: Bearer <token>";
// the token is a random value kept in a file (EnsureToken) that parleyd
// creates at start and parleyctl reads. Errors are JSON objects
// {"error":{"code":"not_found","message":"..."}} with a matching HTTP
// status; Client turns them into *APIError.
//
// Changes go to the configuration database (configdb.Store), which records
// each in its audit log with the admin's identity. A change that takes a
// user's permission away applies at once: disabling or deleting a user
// ends the user's live sessions through Sessions.
package admin
