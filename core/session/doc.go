// Package session is the gateway's session cache. A Session is one user
// logged in to one backend; every device of that user attaches to it. The
// session keeps a bounded log of events, numbered per session, that
// attached devices read from their own cursor and acknowledge
// cumulatively, so a device that drops off and resumes replays what it
// missed without a round trip to the IM server.
//
// # Persistence
//
// While the process lives, the cache in memory is the truth: Login,
// Resume and joins are checked against it, and the Store is read only by
// Restore at start. The Store exists so that devices can resume after a
// restart, so writing it need not hold up the request that changed a
// session: login, join, resume, detach and logout mark the session
// pending, and one goroutine writes pending sessions after Config.SaveDelay
// (50 ms), up to Config.SaveBatch per transaction, each as it is at the
// time of the write, so many changes to one session cost one write. A
// session's deletion (it ended) is queued the same way and is written after
// any save of it, so an ended session never comes back. Moved
// acknowledgements are saved lazily, once a second at most per session.
//
// A clean stop loses nothing: SaveAll writes every session with its
// unacknowledged events and dedupe window, marked final, and waits; after
// it every change, a delivered event included, is written at once. A crash
// loses what had not been written yet, at most the last SaveDelay plus one
// write: sessions opened in that time are gone (their devices get
// ErrResumeExpired and log in again), and a device that logged in in that
// time cannot be checked against the restored record, so its Resume gets
// ErrReloginRequired instead of being refused outright (until every
// restored device of the session has resumed). A Resume is answered only
// once its new token is written (waiting resumes share one transaction),
// so a spent token stays spent across a crash. Events and the dedupe
// window are only saved at a clean stop.
//
// The PBKDF2 verifier a second device's password is checked against is
// derived after the first login has been answered; joins and the record's
// write wait for it.
package session
