// Package gwtest is a fake GroupWise Messenger server for tests, in the
// httptest style: NewServer starts it on 127.0.0.1 with TLS and registers
// Close with t.Cleanup.
//
// It relays between logged-in users like a real server: login with the
// accounts it was given, contact lists with folders and user details,
// presence (event 103) to every online user who has the changed user as a
// contact, conferences (createconf, sendmessage → 108, sendtyping →
// 112/113, joinconf/leaveconf/rejectconf, sendinvite → 117/118), contact
// list changes and ping. Every response and every event is written with its
// own Write call, because libpurple processes only one message per TLS
// record (spec §1.7). It speaks the dialect of the real libpurple 2.14.12
// client (see specs/groupwise-protocol.md §10) and is also what the
// standalone cmd/parley-fake-groupwise serves.
//
// The package builds only on gwproto; it never imports a GroupWise client.
package gwtest
