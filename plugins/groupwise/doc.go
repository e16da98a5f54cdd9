// Package groupwise is the Parley backend for Novell GroupWise Messenger.
//
// It adapts the protocol client gwclient to the plugin SDK: every gateway
// session gets its own gwclient.Client, that is one dedicated TLS
// connection to the GroupWise server, as the original service had. The
// server's pushes are translated into SDK events by the client's delivery
// goroutine, which runs only while pushes wait, so an idle session holds
// just the connection's reader goroutine. Devices only ever see plain user ids (the server's auth
// attribute, e.g. "bob"); the DNs the protocol speaks in stay inside the
// session, which keeps a map between the two.
//
// The backend is an sdk.MessagePipeliner: a session's messages are written
// to its connection one after another without waiting for the server's
// answers, which gwclient matches by transaction id, so a busy session is
// not held to one message per round trip.
//
// GroupWise Messenger has no file transfer (spec §8), so the backend does
// not implement sdk.FileTransfer and the gateway answers file offers with
// "unsupported". cmd/parley-backend-groupwise serves it; README.md lists
// its settings.
package groupwise
