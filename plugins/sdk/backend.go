package sdk

import (
	"context"
	"io"
)

// Backend is what every plugin implements. Methods are called concurrently
// for different sessions; each call carries its own deadline. SendMessage,
// SendTyping and SetPresence of one session are called one at a time, in
// the order the gateway sent them (a MessagePipeliner's messages are
// started in that order, without waiting for each).
type Backend interface {
	// Info describes the backend. It is called before Configure.
	Info() Info
	// Configure validates and applies the backend's settings. It is called
	// once per process, before any session call.
	Configure(ctx context.Context, cfg Config) error
	// OpenSession logs a user in to the IM server and returns their
	// contact list and presence.
	OpenSession(ctx context.Context, cred Credentials) (Snapshot, error)
	// CloseSession logs the user out. Closing an unknown session is not an
	// error.
	CloseSession(ctx context.Context, sessionID string) error
	// SendMessage sends a chat message and returns the conversation id it
	// went to.
	SendMessage(ctx context.Context, msg OutgoingMessage) (conversationID string, err error)
}

// The optional interfaces below add capabilities. The gateway answers a
// request for one the backend lacks with ReasonUnsupported.

// HealthChecker reports whether the backend works (e.g. can reach its
// server). Without it, a plugin that answers at all is healthy.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// SnapshotProvider returns a session's current contact list and presence;
// the gateway uses it to resynchronise a device.
type SnapshotProvider interface {
	Snapshot(ctx context.Context, sessionID string) (Snapshot, error)
}

// PresenceSetter publishes the user's own presence.
type PresenceSetter interface {
	SetPresence(ctx context.Context, sessionID string, p Presence) error
}

// TypingSender sends typing notifications.
type TypingSender interface {
	SendTyping(ctx context.Context, sessionID string, t Typing) error
}

// ContactManager edits the user's contact list.
type ContactManager interface {
	AddContact(ctx context.Context, sessionID string, c Contact) error
	RemoveContact(ctx context.Context, sessionID, userID string) error
	MoveContact(ctx context.Context, sessionID, userID, folderID string) error
}

// Conversations manages multi-party conversations.
type Conversations interface {
	CreateConversation(ctx context.Context, sessionID string, participants []string) (string, error)
	LeaveConversation(ctx context.Context, sessionID, conversationID string) error
	InviteToConversation(ctx context.Context, sessionID, conversationID, userID, text string) error
}

// FileTransfer moves files through the IM server. Data is streamed: a
// backend must never hold a whole file in memory.
type FileTransfer interface {
	// SendFile offers a file and, once the recipient accepts, sends data
	// read from r. It returns when the transfer is complete, declined
	// (ReasonDeclined) or refused (ReasonFileTooLarge with the limit).
	SendFile(ctx context.Context, h FileHeader, r io.Reader) error
	// ReceiveFile accepts an offered file and writes its data to w.
	ReceiveFile(ctx context.Context, sessionID, transferID string, w io.Writer) error
	// DeclineFile declines an offered file.
	DeclineFile(ctx context.Context, sessionID, transferID string) error
}
