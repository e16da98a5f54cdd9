// Package session is the gateway's session cache. A Session is one user
// logged in to one backend; every device of that user attaches to it. The
// session keeps a bounded log of events, numbered per session, that
// attached devices read from their own cursor and acknowledge
// cumulatively, so a device that drops off and resumes replays what it
// missed without a round trip to the IM server.
package session
