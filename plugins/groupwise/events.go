package groupwise

import (
	"context"
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/sdk"
)

// autoReplyPrefix marks an automatic answer of an away or busy user
// (event 121), which the SDK has no flag for; Pidgin marks it too.
const autoReplyPrefix = "(auto-reply) "

// handle translates one server push into SDK events. It runs on the
// session's own goroutine; the look-ups it may make are bounded by the
// client's request timeout.
func (s *session) handle(ev gwclient.Event) {
	ctx := context.Background()
	h := ev.EventHeader()
	var kind sdk.EventKind
	switch e := ev.(type) {
	case gwclient.MessageReceived:
		text := e.Text
		if e.AutoReply {
			text = autoReplyPrefix + text
		}
		s.noteIM(e.GUID, h.Source)
		kind = sdk.MessageEvent{ConversationID: e.GUID, From: s.idOf(ctx, h.Source), Text: text}
	case gwclient.Typing:
		kind = sdk.TypingEvent{ConversationID: e.GUID, From: s.idOf(ctx, h.Source), Typing: e.Typing}
	case gwclient.StatusChanged:
		p := sdk.PresenceEvent{UserID: s.idOf(ctx, h.Source), Status: sdkStatus(e.Status), Note: e.Text}
		if s.presenceChanged(h.Source, p) {
			kind = p
		}
	case gwclient.ConferenceJoined:
		kind = sdk.ConversationEvent{Change: sdk.ConversationJoined, ConversationID: e.GUID, UserID: s.idOf(ctx, h.Source)}
	case gwclient.ConferenceLeft:
		kind = sdk.ConversationEvent{Change: sdk.ConversationLeft, ConversationID: e.GUID, UserID: s.idOf(ctx, h.Source)}
	case gwclient.ConferenceClosed:
		kind = sdk.ConversationEvent{Change: sdk.ConversationLeft, ConversationID: e.GUID, UserID: s.self}
	case gwclient.InviteRejected:
		kind = sdk.ConversationEvent{Change: sdk.ConversationDeclined, ConversationID: e.GUID, UserID: s.idOf(ctx, h.Source)}
	case gwclient.Invited:
		kind = s.acceptInvitation(ctx, e)
	default:
		// 101 invalid recipient, 102 undeliverable, 104 added as a
		// contact by someone, 109 file (no payload in this protocol),
		// 118 someone else invited, and 114/115, which end the
		// connection and are reported when it is over: nothing a device
		// is told about.
		s.log.Debug("server event not forwarded", "event", eventName(ev), "source", h.Source)
	}
	if kind != nil {
		s.events.Emit(sdk.Event{SessionID: s.id, Time: h.Received, Kind: kind})
	}
}

// acceptInvitation joins the conference a user was invited to and
// reports the invitation. The device protocol has no accept step: a
// device that does not want to take part leaves the conversation.
func (s *session) acceptInvitation(ctx context.Context, e gwclient.Invited) sdk.EventKind {
	if _, err := s.client.JoinConference(ctx, e.GUID); err != nil {
		s.log.Warn("cannot join the conference the user was invited to", "guid", e.GUID, "error", err)
		return nil
	}
	return sdk.ConversationEvent{Change: sdk.ConversationInvited, ConversationID: e.GUID,
		UserID: s.idOf(ctx, e.Source), Text: e.Message}
}

// noteIM remembers guid as the 1-to-1 conference with dn when it is one,
// so that typing addressed to the user goes there.
func (s *session) noteIM(guid, dn string) {
	key := strings.ToLower(dn)
	s.mu.Lock()
	noted := s.ims[key] == guid
	s.mu.Unlock()
	if noted { // the usual case: one more message in the same conference
		return
	}
	if others, ok := s.client.Participants(guid); ok && len(others) == 1 && strings.EqualFold(others[0], dn) {
		s.mu.Lock()
		s.ims[key] = guid
		s.mu.Unlock()
	}
}

// imWith returns the 1-to-1 conference with dn the client still knows.
func (s *session) imWith(dn string) (string, bool) {
	s.mu.Lock()
	guid, ok := s.ims[strings.ToLower(dn)]
	s.mu.Unlock()
	if !ok {
		return "", false
	}
	others, known := s.client.Participants(guid)
	return guid, known && len(others) == 1 && strings.EqualFold(others[0], dn)
}

func eventName(ev gwclient.Event) string {
	switch ev.(type) {
	case gwclient.InvalidRecipient:
		return "invalid_recipient"
	case gwclient.Undeliverable:
		return "undeliverable"
	case gwclient.ContactAdded:
		return "contact_added"
	case gwclient.FileOffered:
		return "file"
	case gwclient.ParticipantInvited:
		return "participant_invited"
	case gwclient.ConnectedElsewhere:
		return "connected_elsewhere"
	case gwclient.ServerDisconnected:
		return "server_disconnect"
	}
	return "other"
}

// sdkStatus maps a GroupWise status to the SDK's.
func sdkStatus(st gwproto.Status) sdk.PresenceStatus {
	switch st {
	case gwproto.StatusOffline:
		return sdk.StatusOffline
	case gwproto.StatusAvailable:
		return sdk.StatusAvailable
	case gwproto.StatusBusy:
		return sdk.StatusBusy
	case gwproto.StatusAway:
		return sdk.StatusAway
	case gwproto.StatusAwayIdle:
		return sdk.StatusIdle
	}
	return sdk.StatusUnknown
}

// gwStatus maps an SDK status to the one to publish; "offline" is
// GroupWise's appear-offline (Pidgin's "Invisible").
func gwStatus(st sdk.PresenceStatus) (gwproto.Status, bool) {
	switch st {
	case sdk.StatusOffline:
		return gwproto.StatusOffline, true
	case sdk.StatusAvailable:
		return gwproto.StatusAvailable, true
	case sdk.StatusBusy:
		return gwproto.StatusBusy, true
	case sdk.StatusAway:
		return gwproto.StatusAway, true
	case sdk.StatusIdle:
		return gwproto.StatusAwayIdle, true
	}
	return 0, false
}
