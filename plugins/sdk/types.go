package sdk

import (
	"time"

	"github.com/hashicorp/go-hclog"
)

// APIVersion is the major version of the plugin protocol this SDK speaks.
const APIVersion = 1

// Info describes a backend. Name must match the binary's file name
// (parley-backend-<name>).
type Info struct {
	Name         string
	Version      string // semver
	APIVersions  []uint32
	Capabilities Capabilities
}

// Capabilities tells the gateway what the backend supports. The gateway
// answers requests for anything not listed with a typed "unsupported".
type Capabilities struct {
	FileTransfer      bool
	MaxFileBytes      uint64 // the IM server's limit, 0 if unknown
	Typing            bool
	GroupChat         bool
	Presence          bool
	ContactManagement bool
}

// ServerAddress says where the IM server is and how to reach it.
type ServerAddress struct {
	Host               string
	Port               uint16
	TLS                bool
	CAPEM              []byte // PEM bundle to verify the server; empty means system roots
	InsecureSkipVerify bool   // tests only
	ServerName         string
}

// Config is handed to Backend.Configure once, before any session call.
type Config struct {
	// Settings is the backend block's opaque settings as JSON.
	Settings []byte
	// APIVersion is the negotiated plugin API major.
	APIVersion uint32
	// DefaultServer is the server address from the gateway's config.
	DefaultServer ServerAddress
	// Events is where the backend reports events for its sessions.
	Events EventSink
	// Logger writes to the gateway's log (JSON on stderr).
	Logger hclog.Logger
}

// Credentials open a session.
type Credentials struct {
	SessionID string // chosen by the gateway, unique per plugin process
	Login     string
	Password  string
	Server    ServerAddress
}

// PresenceStatus is a user's availability.
type PresenceStatus int

// Presence values, in the order of the wire enum.
const (
	StatusUnknown PresenceStatus = iota
	StatusOffline
	StatusAvailable
	StatusAway
	StatusBusy
	StatusIdle
)

var statusNames = [...]string{"unknown", "offline", "available", "away", "busy", "idle"}

func (s PresenceStatus) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "unknown"
	}
	return statusNames[s]
}

// ParseStatus maps a name from String back to a status.
func ParseStatus(name string) (PresenceStatus, bool) {
	for i, n := range statusNames {
		if n == name {
			return PresenceStatus(i), true
		}
	}
	return StatusUnknown, false
}

// Contact is one entry of a contact list (or the user themself).
type Contact struct {
	UserID       string
	DisplayName  string
	FolderID     string
	Status       PresenceStatus
	Note         string
	AcceptsFiles bool
}

// Folder groups contacts.
type Folder struct {
	ID   string
	Name string
}

// Snapshot is a session's contact list and presence at one moment.
type Snapshot struct {
	Self     Contact
	Folders  []Folder
	Contacts []Contact
}

// OutgoingMessage is a message a device sends. Either ConversationID or To
// is set. IdempotencyKey is the device's client message id: a backend that
// sees the same key twice for a session must not send the message again.
type OutgoingMessage struct {
	SessionID      string
	ConversationID string
	To             string
	Text           string
	IdempotencyKey string
}

// Presence is what a user publishes about themself.
type Presence struct {
	Status PresenceStatus
	Note   string
}

// Typing is a typing notification.
type Typing struct {
	ConversationID string
	To             string
	Typing         bool
}

// FileHeader describes an outgoing file.
type FileHeader struct {
	SessionID      string
	TransferID     string
	To             string
	ConversationID string
	Name           string
	Extension      string
	Size           uint64
	SHA256         []byte
}

// Event is something that happened in a session. Kind is one of the *Event
// types below.
type Event struct {
	SessionID string
	Time      time.Time
	Kind      EventKind
}

// EventKind is implemented by the event payload types of this package only.
type EventKind interface{ isEventKind() }

// MessageEvent is an incoming chat message.
type MessageEvent struct {
	ConversationID string
	From           string
	Text           string
}

// PresenceEvent is a contact's presence change.
type PresenceEvent struct {
	UserID string
	Status PresenceStatus
	Note   string
}

// TypingEvent is a contact starting or stopping typing.
type TypingEvent struct {
	ConversationID string
	From           string
	Typing         bool
}

// ContactChange says how a contact list entry changed.
type ContactChange int

// Contact list changes.
const (
	ContactAdded ContactChange = iota + 1
	ContactRemoved
	ContactMoved
	ContactUpdated
)

// ContactEvent is a change to the session's contact list.
type ContactEvent struct {
	Change  ContactChange
	Contact Contact
}

// ConversationChange says what happened in a conversation.
type ConversationChange int

// Conversation changes.
const (
	ConversationJoined ConversationChange = iota + 1
	ConversationLeft
	ConversationInvited
	ConversationDeclined
)

// ConversationEvent is a participant change or an invitation.
type ConversationEvent struct {
	Change         ConversationChange
	ConversationID string
	UserID         string
	Text           string
}

// FileOfferEvent is a file someone offers to the session's user.
type FileOfferEvent struct {
	TransferID     string
	From           string
	Name           string
	Size           uint64
	ConversationID string
}

// FileState is the state of a file transfer.
type FileState int

// File transfer states.
const (
	FileAccepted FileState = iota + 1
	FileDeclined
	FileTransferring
	FileCompleted
	FileCancelled
	FileFailed
)

// FileProgressEvent reports the progress or end of a transfer.
type FileProgressEvent struct {
	TransferID string
	State      FileState
	Bytes      uint64
	Reason     Reason
}

// SessionEndedEvent says the backend session is over (kicked, server gone).
type SessionEndedEvent struct {
	Reason  Reason
	Message string
}

// ResyncEvent says events of the session were dropped; the gateway fetches
// a fresh snapshot.
type ResyncEvent struct {
	Dropped uint64
}

func (MessageEvent) isEventKind()      {}
func (PresenceEvent) isEventKind()     {}
func (TypingEvent) isEventKind()       {}
func (ContactEvent) isEventKind()      {}
func (ConversationEvent) isEventKind() {}
func (FileOfferEvent) isEventKind()    {}
func (FileProgressEvent) isEventKind() {}
func (SessionEndedEvent) isEventKind() {}
func (ResyncEvent) isEventKind()       {}

// EventSink receives a backend's events. Emit never blocks: events are
// queued, and if the queue overflows the affected session gets a
// ResyncEvent instead of the lost events.
type EventSink interface {
	Emit(Event)
}
