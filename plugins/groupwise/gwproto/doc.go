// Package gwproto implements the Novell GroupWise Messenger wire format in the
// dialect spoken by libpurple's "novell" plugin: the text-encoded requests a
// client sends (POST line plus &tag=…&cmd=…&val=…&type=… pieces), the binary
// responses and events a server sends back, streaming parsers for both
// directions that work across arbitrary read boundaries, the field model
// shared by both, the tag dictionary, status values, event numbers, result
// codes, and the RTF wrapping and stripping used for message bodies.
//
// Every parser is bounded by Limits: each length and count read from the wire
// is checked before anything is allocated for it. Malformed input gives an
// error that wraps one of the Err* sentinels (or an *UnknownEventError), never
// a panic.
//
// The package has no I/O of its own beyond reading from an io.Reader; callers
// write the byte slices produced by the Append* methods, one message per
// Write call (libpurple needs one message per TLS record).
package gwproto
