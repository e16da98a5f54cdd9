// Package stclient is a client for the IBM Lotus Sametime Community
// protocol: it logs in to a Sametime server the way meanwhile/libpurple do
// and exposes the session as a Go API.
//
// Dial connects (TCP, port 1533 unless configured otherwise), performs the
// handshake and the RC2/128 + Diffie-Hellman login (RC2/40 when the server's
// HANDSHAKE_ACK carries no key), follows or forces login redirects and
// starts the awareness, resolve and storage services. The returned Client
// sends instant messages (text, HTML, typing) on optionally RC2-encrypted
// channels, watches presence, loads and saves the stored buddy list,
// resolves names, takes part in conferences and sends and receives files
// with stop-and-wait flow control and bounded memory.
//
// Everything the server pushes arrives as typed values on Events. The
// event queue is bounded (Config.EventBuffer); when it is full the reader
// waits up to Config.EventTimeout for the consumer and then ends the
// session with ErrSlowConsumer, so a stuck consumer never silently loses
// messages and never blocks the connection forever. FileProgressEvent is
// the only lossy event: it is dropped when the queue is full. Done and Err
// report the end of the session; the Events channel is closed after it.
//
// Every operation that waits for the server is bounded by its context and
// by Config.RequestTimeout, and every write by Config.IOTimeout, so a
// stalled server produces ErrTimeout instead of a hang.
package stclient
