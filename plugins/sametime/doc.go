// Package sametime is Parley's backend for IBM Lotus Sametime: it adapts
// the protocol client in stclient to the plugin contract of plugins/sdk.
// cmd/parley-backend-sametime serves it as a plugin process.
//
// Every gateway session is one stclient.Client, that is one login to the
// Sametime community server. A goroutine per session reads the client's
// events and translates them into sdk events:
//
//   - contacts come from the buddy list the server stores (storage key 0),
//     each buddy group a folder; presence comes from watching every buddy;
//   - a 1:1 conversation is "im:<peer user id>"; a group chat is a
//     Sametime conference and its conversation id is the conference name;
//   - incoming HTML and MIME messages (what libpurple sends) are turned
//     into plain text;
//   - files go through the server's file-transfer service, streamed in
//     acknowledged 8 KiB chunks, never held in memory.
//
// Errors map to sdk reasons: a refused login is ReasonUnauthenticated, an
// unreachable or vanished server ReasonBackendUnavailable, a declined file
// ReasonDeclined and a file over the server's limit ReasonFileTooLarge with
// the configured limit, because Sametime refuses an oversized offer without
// saying what its limit is.
package sametime
