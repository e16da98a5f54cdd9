package gwproto

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// EventType is the number that starts an event (NMEVT_*, spec §5.1).
type EventType uint32

// Event types. 110, 111, 116 and 120 exist in the protocol but libpurple
// drops the connection on them; EventConferenceRename is listed for
// completeness and cannot be encoded or parsed.
const (
	EventInvalidRecipient       EventType = 101
	EventUndeliverableStatus    EventType = 102
	EventStatusChange           EventType = 103
	EventContactAdd             EventType = 104
	EventConferenceClosed       EventType = 105
	EventConferenceJoined       EventType = 106
	EventConferenceLeft         EventType = 107
	EventReceiveMessage         EventType = 108
	EventReceiveFile            EventType = 109
	EventUserTyping             EventType = 112
	EventUserNotTyping          EventType = 113
	EventUserDisconnect         EventType = 114
	EventServerDisconnect       EventType = 115
	EventConferenceRename       EventType = 116
	EventConferenceInvite       EventType = 117
	EventConferenceInviteNotify EventType = 118
	EventConferenceReject       EventType = 119
	EventReceiveAutoReply       EventType = 121
)

// payload describes what follows the source of an event.
type payload uint8

const (
	payloadNone          payload = iota + 1
	payloadGUID                  // LPSTR guid
	payloadStatus                // uint16 status, LPSTR text
	payloadGUIDFlags             // LPSTR guid, uint32 flags
	payloadGUIDFlagsText         // LPSTR guid, uint32 flags, LPSTR message
	payloadGUIDText              // LPSTR guid, LPSTR message
)

func (t EventType) payload() payload {
	switch t {
	case EventInvalidRecipient, EventContactAdd, EventReceiveFile, EventUserDisconnect, EventServerDisconnect:
		return payloadNone
	case EventUndeliverableStatus, EventConferenceClosed, EventUserTyping, EventUserNotTyping,
		EventConferenceInviteNotify, EventConferenceReject:
		return payloadGUID
	case EventStatusChange:
		return payloadStatus
	case EventConferenceJoined, EventConferenceLeft:
		return payloadGUIDFlags
	case EventReceiveMessage, EventReceiveAutoReply:
		return payloadGUIDFlagsText
	case EventConferenceInvite:
		return payloadGUIDText
	}
	return 0
}

// Known reports whether events of this type can be parsed and encoded.
func (t EventType) Known() bool { return t.payload() != 0 }

var eventNames = map[EventType]string{
	EventInvalidRecipient:       "INVALID_RECIPIENT",
	EventUndeliverableStatus:    "UNDELIVERABLE_STATUS",
	EventStatusChange:           "STATUS_CHANGE",
	EventContactAdd:             "CONTACT_ADD",
	EventConferenceClosed:       "CONFERENCE_CLOSED",
	EventConferenceJoined:       "CONFERENCE_JOINED",
	EventConferenceLeft:         "CONFERENCE_LEFT",
	EventReceiveMessage:         "RECEIVE_MESSAGE",
	EventReceiveFile:            "RECEIVE_FILE",
	EventUserTyping:             "USER_TYPING",
	EventUserNotTyping:          "USER_NOT_TYPING",
	EventUserDisconnect:         "USER_DISCONNECT",
	EventServerDisconnect:       "SERVER_DISCONNECT",
	EventConferenceRename:       "CONFERENCE_RENAME",
	EventConferenceInvite:       "CONFERENCE_INVITE",
	EventConferenceInviteNotify: "CONFERENCE_INVITE_NOTIFY",
	EventConferenceReject:       "CONFERENCE_REJECT",
	EventReceiveAutoReply:       "RECEIVE_AUTOREPLY",
}

// String returns the NMEVT_ name without prefix, or "EVENT(n)".
func (t EventType) String() string {
	if n, ok := eventNames[t]; ok {
		return n
	}
	return "EVENT(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// Event is a server→client push (spec §1.5, §5). Which members are used
// depends on Type:
//
//	101 104 109 114 115   Source only
//	102 105 112 113 118 119   GUID
//	103                   Status, Text (status text)
//	106 107               GUID, Flags
//	108 121               GUID, Flags, Text (108: RTF, 121: plain text)
//	117                   GUID, Text (invitation text)
type Event struct {
	Type   EventType
	Source string // DN of the user the event is about
	GUID   string // conference id
	Flags  uint32 // conference flags (libpurple stores and ignores them)
	Status Status
	Text   string
}

// Limits libpurple applies to event strings (lengths count the NUL).
const (
	maxEventSource     = 1000000
	maxEventGUID       = 1000
	maxEventMessage    = 100000
	maxEventStatusText = 10000
)

// AppendTo appends the event's wire form to dst. Strings are sent
// NUL-terminated with the NUL counted, as libpurple requires for the source.
func (e *Event) AppendTo(dst []byte) ([]byte, error) {
	p := e.Type.payload()
	if p == 0 {
		return dst, &UnknownEventError{Type: e.Type}
	}
	if err := checkEventString("source", e.Source, maxEventSource); err != nil {
		return dst, err
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(e.Type))
	dst = appendLPSTR(dst, e.Source)
	if p == payloadNone {
		return dst, nil
	}
	if p == payloadStatus {
		if err := checkEventString("status text", e.Text, maxEventStatusText); err != nil {
			return dst, err
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(e.Status))
		return appendLPSTR(dst, e.Text), nil
	}
	if err := checkEventString("guid", e.GUID, maxEventGUID); err != nil {
		return dst, err
	}
	dst = appendLPSTR(dst, e.GUID)
	switch p {
	case payloadGUIDFlags:
		dst = binary.LittleEndian.AppendUint32(dst, e.Flags)
	case payloadGUIDFlagsText:
		if err := checkEventString("message", e.Text, maxEventMessage); err != nil {
			return dst, err
		}
		dst = binary.LittleEndian.AppendUint32(dst, e.Flags)
		dst = appendLPSTR(dst, e.Text)
	case payloadGUIDText:
		if err := checkEventString("message", e.Text, maxEventMessage); err != nil {
			return dst, err
		}
		dst = appendLPSTR(dst, e.Text)
	}
	return dst, nil
}

func checkEventString(what, s string, max int) error {
	if len(s)+1 > max {
		return fmt.Errorf("gwproto: event %s: %d bytes: %w", what, len(s), ErrValueTooLong)
	}
	return nil
}
