// Package sttest is a fake IBM Lotus Sametime community server for tests,
// in the style of net/http/httptest: NewServer starts it on 127.0.0.1:0
// and closes it when the test ends.
//
// It implements the server side of the protocol in
// plugins/sametime/stproto as libpurple/meanwhile needs it: handshake with
// a 64-byte Diffie-Hellman key, RC2/128 and RC2/40 login verification,
// optional redirect, awareness with attribute relay, storage of the buddy
// list, resolve, conferences, and relaying of IM and file-transfer
// channels between logged-in users with channel ids translated and
// payloads (encrypted or not) passed through unchanged. File offers larger
// than the configured limit are refused before anything reaches the
// recipient.
//
// The fake never imports the Sametime client package; tests drive it with
// a real client or with raw stproto messages.
package sttest
