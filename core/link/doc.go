// Package link serves one device connection: the Hello/Welcome handshake,
// Login or Resume, then a reader that turns frames into requests and a
// writer that batches responses and session events into frames. A link
// that breaks the frame format gets a typed protocol_error and is closed;
// a link that drops or misses heartbeats detaches its session, which waits
// in the session cache for the device to resume.
package link
