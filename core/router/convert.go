package router

import (
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

func contactToDevice(c sdk.Contact) *devicev1.Contact {
	return &devicev1.Contact{UserId: c.UserID, DisplayName: c.DisplayName, FolderId: c.FolderID,
		Status: devicev1.PresenceStatus(c.Status), Note: c.Note, AcceptsFiles: c.AcceptsFiles}
}

func snapshotToDevice(s sdk.Snapshot) *devicev1.Snapshot {
	out := &devicev1.Snapshot{Self: contactToDevice(s.Self)}
	for _, f := range s.Folders {
		out.Folders = append(out.Folders, &devicev1.Folder{Id: f.ID, Name: f.Name})
	}
	for _, c := range s.Contacts {
		out.Contacts = append(out.Contacts, contactToDevice(c))
	}
	return out
}

func capsToDevice(c sdk.Capabilities) *devicev1.BackendCapabilities {
	return &devicev1.BackendCapabilities{FileTransfer: c.FileTransfer, MaxFileBytes: c.MaxFileBytes,
		Typing: c.Typing, GroupChat: c.GroupChat, Presence: c.Presence, ContactManagement: c.ContactManagement}
}

var reasonToEnded = map[sdk.Reason]devicev1.ErrorCode{
	sdk.ReasonKicked:             devicev1.ErrorCode_RELOGIN_REQUIRED,
	sdk.ReasonBackendUnavailable: devicev1.ErrorCode_BACKEND_UNAVAILABLE,
	sdk.ReasonUnauthenticated:    devicev1.ErrorCode_UNAUTHENTICATED,
}

// eventToDevice converts a plugin event; ok is false for events the router
// handles itself (resync) or does not know.
func eventToDevice(e sdk.Event) (*devicev1.Event, bool) {
	if k, ok := e.Kind.(sdk.MessageEvent); ok {
		return messageEvent(e.Time.UnixMilli(), k), true
	}
	out := &devicev1.Event{TimeUnixMs: e.Time.UnixMilli()}
	switch k := e.Kind.(type) {
	case sdk.PresenceEvent:
		out.Kind = &devicev1.Event_Presence{Presence: &devicev1.PresenceChanged{UserId: k.UserID, Status: devicev1.PresenceStatus(k.Status), Note: k.Note}}
	case sdk.TypingEvent:
		out.Kind = &devicev1.Event_Typing{Typing: &devicev1.TypingChanged{ConversationId: k.ConversationID, From: k.From, Typing: k.Typing}}
	case sdk.ContactEvent:
		out.Kind = &devicev1.Event_Contact{Contact: &devicev1.ContactChanged{Change: devicev1.ContactChanged_Change(k.Change), Contact: contactToDevice(k.Contact)}}
	case sdk.ConversationEvent:
		out.Kind = &devicev1.Event_Conversation{Conversation: &devicev1.ConversationChanged{Change: devicev1.ConversationChanged_Change(k.Change),
			ConversationId: k.ConversationID, UserId: k.UserID, Text: k.Text}}
	case sdk.FileOfferEvent:
		out.Kind = &devicev1.Event_FileInvitation{FileInvitation: &devicev1.FileInvitation{TransferId: k.TransferID, From: k.From,
			Name: k.Name, Size: k.Size, ConversationId: k.ConversationID}}
	case sdk.FileProgressEvent:
		out.Kind = &devicev1.Event_FileProgress{FileProgress: &devicev1.FileProgress{TransferId: k.TransferID,
			State: devicev1.FileProgress_State(k.State), Bytes: k.Bytes}}
	case sdk.SessionEndedEvent:
		code, ok := reasonToEnded[k.Reason]
		if !ok {
			code = devicev1.ErrorCode_BACKEND_UNAVAILABLE
		}
		out.Kind = &devicev1.Event_SessionEnded{SessionEnded: &devicev1.SessionEnded{Reason: code, Message: k.Message}}
	default:
		return nil, false
	}
	return out, true
}

// messageEventAlloc is a chat message event in one allocation rather than
// three: there is one per chat message relayed.
type messageEventAlloc struct {
	event devicev1.Event
	kind  devicev1.Event_Message
	msg   devicev1.MessageReceived
}

func messageEvent(timeUnixMs int64, k sdk.MessageEvent) *devicev1.Event {
	a := new(messageEventAlloc)
	a.msg.ConversationId, a.msg.From, a.msg.Text = k.ConversationID, k.From, k.Text
	a.kind.Message = &a.msg
	a.event.TimeUnixMs, a.event.Kind = timeUnixMs, &a.kind
	return &a.event
}
