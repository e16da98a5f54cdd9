package groupwise

import (
	"context"

	"github.com/parleygw/parley/plugins/sdk"
)

// SendMessage implements sdk.Backend. A message goes to its conversation
// (a conference GUID); without one, or when the client no longer knows the
// conversation (the other side left), it goes to the 1-to-1 conference
// with To, which is created on the server if needed. A key seen before is
// answered with the earlier conversation and not sent again.
func (b *Backend) SendMessage(ctx context.Context, msg sdk.OutgoingMessage) (string, error) {
	s, err := b.session(msg.SessionID)
	if err != nil {
		return "", err
	}
	if msg.IdempotencyKey == "" {
		return s.sendMessage(ctx, msg)
	}
	conv, dup, err := s.sent.begin(ctx, msg.IdempotencyKey)
	if err != nil {
		return "", requestError(err)
	}
	if dup {
		return conv, nil
	}
	conv, err = s.sendMessage(ctx, msg)
	s.sent.finish(msg.IdempotencyKey, conv, err == nil)
	return conv, err
}

func (s *session) sendMessage(ctx context.Context, msg sdk.OutgoingMessage) (string, error) {
	guid, err := s.conversation(ctx, msg.ConversationID, msg.To)
	if err != nil {
		return "", err
	}
	if err := s.client.SendMessage(ctx, guid, msg.Text); err != nil {
		return "", requestError(err)
	}
	return guid, nil
}

// conversation picks the conference a message goes to.
func (s *session) conversation(ctx context.Context, convID, to string) (string, error) {
	if convID != "" {
		if _, known := s.client.Participants(convID); known {
			return convID, nil
		}
		if to == "" {
			return "", sdk.Errorf(sdk.ReasonNotFound, "groupwise: no conversation %q", convID)
		}
	}
	if to == "" {
		return "", sdk.Errorf(sdk.ReasonInvalidArgument, "groupwise: a message needs a recipient or a conversation")
	}
	dn, err := s.dnOf(ctx, to)
	if err != nil {
		return "", err
	}
	guid, err := s.client.OpenIM(ctx, dn)
	if err != nil {
		return "", requestError(err)
	}
	s.noteIM(guid, dn)
	return guid, nil
}

// SendTyping implements sdk.TypingSender. As in libpurple, typing only
// goes to a conference that exists: typing to a user no conversation has
// been opened with yet is dropped without an error.
func (b *Backend) SendTyping(ctx context.Context, sessionID string, t sdk.Typing) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	guid := t.ConversationID
	if _, known := s.client.Participants(guid); guid == "" || !known {
		if t.To == "" {
			if guid == "" {
				return sdk.Errorf(sdk.ReasonInvalidArgument, "groupwise: typing needs a recipient or a conversation")
			}
			return sdk.Errorf(sdk.ReasonNotFound, "groupwise: no conversation %q", guid)
		}
		dn, err := s.dnOf(ctx, t.To)
		if err != nil {
			return err
		}
		var open bool
		if guid, open = s.imWith(dn); !open {
			return nil
		}
	}
	return requestError(s.client.SendTyping(ctx, guid, t.Typing))
}

// SetPresence implements sdk.PresenceSetter the way Pidgin sets a
// GroupWise status: away and busy also publish the note as the automatic
// reply, and "offline" appears offline while staying connected.
func (b *Backend) SetPresence(ctx context.Context, sessionID string, p sdk.Presence) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	st, ok := gwStatus(p.Status)
	if !ok {
		return sdk.Errorf(sdk.ReasonInvalidArgument, "groupwise: cannot publish status %s", p.Status)
	}
	note, autoReply := p.Note, ""
	switch p.Status {
	case sdk.StatusAway, sdk.StatusBusy:
		autoReply = p.Note
	case sdk.StatusOffline:
		note = ""
	}
	return requestError(s.client.SetStatus(ctx, st, note, autoReply))
}
