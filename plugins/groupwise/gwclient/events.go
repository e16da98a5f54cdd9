package gwclient

import (
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// Event is a server push (spec §5) turned into a Go value. The concrete
// types are the structs in this file; use a type switch.
type Event interface {
	// EventHeader returns the fields every event has.
	EventHeader() Header
}

// Header is embedded in every event.
type Header struct {
	// Source is the DN of the user the event is about (the sender, the
	// typist, the user who joined, …).
	Source string
	// Received is the client's local time of arrival; events carry no
	// timestamp of their own.
	Received time.Time
}

// EventHeader implements Event.
func (h Header) EventHeader() Header { return h }

// MessageReceived is an instant message (event 108), or an automatic reply
// from an away user (event 121, AutoReply set). Text is plain UTF-8: the
// RTF body of 108 has been stripped.
type MessageReceived struct {
	Header
	GUID      string
	Flags     uint32
	Text      string
	AutoReply bool
}

// Typing reports that Source started (Typing true, event 112) or stopped
// (event 113) typing in conference GUID.
type Typing struct {
	Header
	GUID   string
	Typing bool
}

// StatusChanged is a presence change of Source (event 103).
type StatusChanged struct {
	Header
	Status gwproto.Status
	Text   string
}

// ConferenceJoined reports that Source joined conference GUID (event 106).
type ConferenceJoined struct {
	Header
	GUID  string
	Flags uint32
}

// ConferenceLeft reports that Source left conference GUID (event 107).
type ConferenceLeft struct {
	Header
	GUID  string
	Flags uint32
}

// ConferenceClosed reports that conference GUID was closed (event 105).
type ConferenceClosed struct {
	Header
	GUID string
}

// Invited is an invitation from Source to join conference GUID (event
// 117). Answer it with JoinConference or RejectConference.
type Invited struct {
	Header
	GUID    string
	Message string
}

// ParticipantInvited reports that Source has been invited to conference
// GUID, which this user takes part in (event 118).
type ParticipantInvited struct {
	Header
	GUID string
}

// InviteRejected reports that Source declined the invitation to
// conference GUID (event 119).
type InviteRejected struct {
	Header
	GUID string
}

// Undeliverable reports that Source is offline and did not receive the
// message just sent to conference GUID (event 102).
type Undeliverable struct {
	Header
	GUID string
}

// InvalidRecipient reports that Source cannot receive messages (event 101).
type InvalidRecipient struct{ Header }

// ContactAdded reports that Source added this user as a contact (event 104).
type ContactAdded struct{ Header }

// FileOffered is event 109. GroupWise Messenger has no file transfer in
// this protocol dialect; the event carries nothing but its source.
type FileOffered struct{ Header }

// ConnectedElsewhere reports that the same user logged in from another
// location (event 114). The client closes the connection after it, with
// Err returning ErrConnectedElsewhere; do not reconnect automatically.
type ConnectedElsewhere struct{ Header }

// ServerDisconnected reports that the server is ending the session (event
// 115). The client closes the connection after it, with Err returning
// ErrServerDisconnect.
type ServerDisconnected struct{ Header }
