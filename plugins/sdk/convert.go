package sdk

import (
	"time"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
)

func serverToPB(s ServerAddress) *pb.ServerAddress {
	return &pb.ServerAddress{Host: s.Host, Port: uint32(s.Port), Tls: s.TLS, CaPem: s.CAPEM,
		InsecureSkipVerify: s.InsecureSkipVerify, ServerName: s.ServerName}
}

func serverFromPB(s *pb.ServerAddress) ServerAddress {
	if s == nil {
		return ServerAddress{}
	}
	return ServerAddress{Host: s.Host, Port: uint16(s.Port), TLS: s.Tls, CAPEM: s.CaPem,
		InsecureSkipVerify: s.InsecureSkipVerify, ServerName: s.ServerName}
}

func capsToPB(c Capabilities) *pb.Capabilities {
	return &pb.Capabilities{FileTransfer: c.FileTransfer, MaxFileBytes: c.MaxFileBytes, Typing: c.Typing,
		GroupChat: c.GroupChat, Presence: c.Presence, ContactManagement: c.ContactManagement}
}

func capsFromPB(c *pb.Capabilities) Capabilities {
	if c == nil {
		return Capabilities{}
	}
	return Capabilities{FileTransfer: c.FileTransfer, MaxFileBytes: c.MaxFileBytes, Typing: c.Typing,
		GroupChat: c.GroupChat, Presence: c.Presence, ContactManagement: c.ContactManagement}
}

func contactToPB(c Contact) *pb.Contact {
	return &pb.Contact{UserId: c.UserID, DisplayName: c.DisplayName, FolderId: c.FolderID,
		Status: pb.PresenceStatus(c.Status), Note: c.Note, AcceptsFiles: c.AcceptsFiles}
}

func contactFromPB(c *pb.Contact) Contact {
	if c == nil {
		return Contact{}
	}
	return Contact{UserID: c.UserId, DisplayName: c.DisplayName, FolderID: c.FolderId,
		Status: PresenceStatus(c.Status), Note: c.Note, AcceptsFiles: c.AcceptsFiles}
}

func snapshotToPB(s Snapshot) *pb.Snapshot {
	out := &pb.Snapshot{Self: contactToPB(s.Self)}
	for _, f := range s.Folders {
		out.Folders = append(out.Folders, &pb.Folder{Id: f.ID, Name: f.Name})
	}
	for _, c := range s.Contacts {
		out.Contacts = append(out.Contacts, contactToPB(c))
	}
	return out
}

func snapshotFromPB(s *pb.Snapshot) Snapshot {
	if s == nil {
		return Snapshot{}
	}
	out := Snapshot{Self: contactFromPB(s.Self)}
	for _, f := range s.Folders {
		out.Folders = append(out.Folders, Folder{ID: f.Id, Name: f.Name})
	}
	for _, c := range s.Contacts {
		out.Contacts = append(out.Contacts, contactFromPB(c))
	}
	return out
}

func eventToPB(e Event) *pb.Event {
	out := &pb.Event{SessionId: e.SessionID, TimeUnixMs: e.Time.UnixMilli()}
	switch k := e.Kind.(type) {
	case MessageEvent:
		out.Kind = &pb.Event_Message{Message: &pb.Message{ConversationId: k.ConversationID, From: k.From, Text: k.Text}}
	case PresenceEvent:
		out.Kind = &pb.Event_Presence{Presence: &pb.PresenceChanged{UserId: k.UserID, Status: pb.PresenceStatus(k.Status), Note: k.Note}}
	case TypingEvent:
		out.Kind = &pb.Event_Typing{Typing: &pb.Typing{ConversationId: k.ConversationID, From: k.From, Typing: k.Typing}}
	case ContactEvent:
		out.Kind = &pb.Event_Contact{Contact: &pb.ContactChanged{Change: pb.ContactChanged_Change(k.Change), Contact: contactToPB(k.Contact)}}
	case ConversationEvent:
		out.Kind = &pb.Event_Conversation{Conversation: &pb.ConversationChanged{Change: pb.ConversationChanged_Change(k.Change),
			ConversationId: k.ConversationID, UserId: k.UserID, Text: k.Text}}
	case FileOfferEvent:
		out.Kind = &pb.Event_FileOffer{FileOffer: &pb.FileOffer{TransferId: k.TransferID, From: k.From, Name: k.Name,
			Size: k.Size, ConversationId: k.ConversationID}}
	case FileProgressEvent:
		out.Kind = &pb.Event_FileProgress{FileProgress: &pb.FileProgress{TransferId: k.TransferID,
			State: pb.FileProgress_State(k.State), Bytes: k.Bytes, Reason: string(k.Reason)}}
	case SessionEndedEvent:
		out.Kind = &pb.Event_SessionEnded{SessionEnded: &pb.SessionEnded{Reason: string(k.Reason), Message: k.Message}}
	case ResyncEvent:
		out.Kind = &pb.Event_Resync{Resync: &pb.Resync{Dropped: k.Dropped}}
	}
	return out
}

// eventFromPB converts a wire event; ok is false for a kind this SDK does
// not know (a newer plugin), which the host skips.
func eventFromPB(e *pb.Event) (Event, bool) {
	out := Event{SessionID: e.SessionId, Time: time.UnixMilli(e.TimeUnixMs)}
	switch k := e.Kind.(type) {
	case *pb.Event_Message:
		out.Kind = MessageEvent{ConversationID: k.Message.ConversationId, From: k.Message.From, Text: k.Message.Text}
	case *pb.Event_Presence:
		out.Kind = PresenceEvent{UserID: k.Presence.UserId, Status: PresenceStatus(k.Presence.Status), Note: k.Presence.Note}
	case *pb.Event_Typing:
		out.Kind = TypingEvent{ConversationID: k.Typing.ConversationId, From: k.Typing.From, Typing: k.Typing.Typing}
	case *pb.Event_Contact:
		out.Kind = ContactEvent{Change: ContactChange(k.Contact.Change), Contact: contactFromPB(k.Contact.Contact)}
	case *pb.Event_Conversation:
		c := k.Conversation
		out.Kind = ConversationEvent{Change: ConversationChange(c.Change), ConversationID: c.ConversationId, UserID: c.UserId, Text: c.Text}
	case *pb.Event_FileOffer:
		f := k.FileOffer
		out.Kind = FileOfferEvent{TransferID: f.TransferId, From: f.From, Name: f.Name, Size: f.Size, ConversationID: f.ConversationId}
	case *pb.Event_FileProgress:
		f := k.FileProgress
		out.Kind = FileProgressEvent{TransferID: f.TransferId, State: FileState(f.State), Bytes: f.Bytes, Reason: Reason(f.Reason)}
	case *pb.Event_SessionEnded:
		out.Kind = SessionEndedEvent{Reason: Reason(k.SessionEnded.Reason), Message: k.SessionEnded.Message}
	case *pb.Event_Resync:
		out.Kind = ResyncEvent{Dropped: k.Resync.Dropped}
	default:
		return out, false
	}
	return out, true
}
