// Package gwclient is a Novell GroupWise Messenger protocol client: it dials
// the server over TLS, logs one user in per connection, issues the requests
// of the protocol (status, details, conferences, messages, typing, invites,
// contact-list editing, keepalive) and turns the server's unsolicited pushes
// into typed Go events.
//
// A Client owns exactly one TLS connection and one user session, as the
// original service did. A single reader goroutine parses the server stream
// (with gwproto), matches responses to requests by transaction id and queues
// events; while events are queued, a delivery goroutine looks up unknown
// senders with getdetails and then hands events to the caller in arrival
// order, through Events or a Handler (Deliver). An idle connection runs
// only its reader: the keepalive ping is driven by a runtime timer.
//
// Requests go out in the order of their transaction ids, several at the
// server at once if the callers do not wait (as libpurple, spec §1.6).
// StartSendMessage sends a message without waiting for its answer and
// reports it through a callback; requests queued while a write runs share
// the next write, so a burst of them costs one TLS record and one syscall.
// The server reads the stream as a byte stream (spec §1.3); the rule of
// one message per record (§1.7) binds only the server's side.
//
// Every request is bounded by Config.RequestTimeout. A server that does not
// answer in time is treated as dead: the request fails with ErrTimeout and
// the connection is closed with the same error, so a stalled server is
// noticed by the keepalive ping even when the caller is idle. Done and Err
// report the end of the connection, whoever ended it.
package gwclient
