package stclient

import (
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// Event is a value delivered on Client.Events. It is one of the *Event
// struct types of this package (received by value).
type Event interface{ isEvent() }

// MessageFormat says how a MessageEvent's Text is to be read.
type MessageFormat int

// Message formats.
const (
	FormatText MessageFormat = iota // plain text
	FormatHTML                      // HTML (libpurple: non-ASCII as &#NNNN; entities)
	FormatMIME                      // a MIME document (HTML with inline images)
)

// MessageEvent is an instant message from another user.
type MessageEvent struct {
	From     string // the sender's user id
	FromName string // the sender's display name, when the server sent it
	Format   MessageFormat
	Text     string
}

// TypingEvent says a user started or stopped typing to us.
type TypingEvent struct {
	From   string
	Typing bool
}

// PresenceEvent is the state of a watched user (a snapshot after Watch or
// a later change).
type PresenceEvent struct {
	User    string
	Name    string // display name, when online
	Online  bool
	Status  stproto.StatusCode // StatusActive, StatusAway, ...; StatusOffline when !Online
	Message string             // the user's status message
}

// AttributeEvent reports an awareness attribute of a watched user being
// set (Set) or withdrawn. Key stproto.AttrFileTransfer says whether the
// user can receive files.
type AttributeEvent struct {
	User  string
	Key   uint32
	Value []byte
	Set   bool
}

// Bool decodes the attribute as a boolean the way meanwhile does.
func (e AttributeEvent) Bool() bool { return e.Set && stproto.AttrBool(e.Value) }

// StatusEvent is the server telling us our own status.
type StatusEvent struct {
	Status stproto.UserStatus
}

// AdminEvent is an administrator broadcast.
type AdminEvent struct {
	Text string
}

// AnnouncementEvent is an announcement sent to us by a user.
type AnnouncementEvent struct {
	From     string
	Text     string
	MayReply bool
}

// FileOfferEvent is a file another user wants to send us. Call
// Offer.Accept or Offer.Decline.
type FileOfferEvent struct {
	Offer *FileOffer
}

// FileProgressEvent reports the bytes moved so far in a transfer. It is
// dropped rather than queued when the event queue is full.
type FileProgressEvent struct {
	Transfer uint32 // the transfer's channel id
	Peer     string
	Name     string
	Incoming bool
	Bytes    int64
	Size     int64
}

// ConferenceInviteEvent is an invitation to a conference. Call
// Invitation.Join or Invitation.Decline.
type ConferenceInviteEvent struct {
	Invitation *ConferenceInvitation
}

// ConferenceMemberEvent says a member joined (Joined) or left a conference.
type ConferenceMemberEvent struct {
	Conference *Conference
	Member     Member
	Joined     bool
}

// ConferenceMessageEvent is a text sent to a conference.
type ConferenceMessageEvent struct {
	Conference *Conference
	From       Member
	Text       string
}

// ConferenceTypingEvent says a conference member started or stopped typing.
type ConferenceTypingEvent struct {
	Conference *Conference
	From       Member
	Typing     bool
}

// ConferenceClosedEvent says the server or the last peer closed a
// conference we were in (not sent after our own Leave).
type ConferenceClosedEvent struct {
	Conference *Conference
	Reason     stproto.ReasonError
}

// DisconnectEvent is the last event of a session: Err says why it ended.
// It is dropped if the queue is full at that moment; Done, Err and the
// closing of the Events channel always report the end.
type DisconnectEvent struct {
	Err error
}

func (MessageEvent) isEvent()           {}
func (TypingEvent) isEvent()            {}
func (PresenceEvent) isEvent()          {}
func (AttributeEvent) isEvent()         {}
func (StatusEvent) isEvent()            {}
func (AdminEvent) isEvent()             {}
func (AnnouncementEvent) isEvent()      {}
func (FileOfferEvent) isEvent()         {}
func (FileProgressEvent) isEvent()      {}
func (ConferenceInviteEvent) isEvent()  {}
func (ConferenceMemberEvent) isEvent()  {}
func (ConferenceMessageEvent) isEvent() {}
func (ConferenceTypingEvent) isEvent()  {}
func (ConferenceClosedEvent) isEvent()  {}
func (DisconnectEvent) isEvent()        {}

// emit queues ev for the consumer. It runs on the reader goroutine only.
// When the queue is full, progress events are dropped and every other
// event waits up to Config.EventTimeout before the session is ended with
// ErrSlowConsumer.
func (c *Client) emit(ev Event) {
	select {
	case c.events <- ev:
		return
	case <-c.done:
		return
	default:
	}
	if _, lossy := ev.(FileProgressEvent); lossy {
		return
	}
	t := time.NewTimer(c.cfg.EventTimeout)
	defer t.Stop()
	select {
	case c.events <- ev:
	case <-c.done:
	case <-t.C:
		c.log.Error("event queue full, ending session", "capacity", cap(c.events))
		c.fail(ErrSlowConsumer)
	}
}
