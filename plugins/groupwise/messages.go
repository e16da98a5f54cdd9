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
	type result struct {
		conv string
		err  error
	}
	ch := make(chan result, 1)
	b.StartSendMessage(ctx, msg, func(conv string, err error) { ch <- result{conv, err} })
	r := <-ch
	return r.conv, r.err
}

// StartSendMessage implements sdk.MessagePipeliner: it does what
// SendMessage does up to writing the request, so a session's messages
// follow each other on its connection without waiting for the server's
// answers, which gwclient matches by transaction id. Finding the
// conversation may still wait (creating a 1-to-1 conference, or a retry
// waiting for the send with its key that is in flight).
func (b *Backend) StartSendMessage(ctx context.Context, msg sdk.OutgoingMessage, done func(string, error)) {
	s, err := b.session(msg.SessionID)
	if err != nil {
		done("", err)
		return
	}
	key := msg.IdempotencyKey
	if key == "" {
		s.startSend(ctx, msg, done)
		return
	}
	conv, dup, err := s.sent.begin(ctx, key)
	switch {
	case err != nil:
		done("", requestError(err))
	case dup:
		done(conv, nil)
	default:
		s.startSend(ctx, msg, func(conv string, err error) {
			s.sent.finish(key, conv, err == nil)
			done(conv, err)
		})
	}
}

// startSend sends msg to its conversation and calls done with the result.
func (s *session) startSend(ctx context.Context, msg sdk.OutgoingMessage, done func(string, error)) {
	guid, err := s.conversation(ctx, msg.ConversationID, msg.To)
	if err != nil {
		done("", err)
		return
	}
	s.client.StartSendMessage(ctx, guid, msg.Text, func(err error) {
		if err != nil {
			done("", requestError(err))
			return
		}
		done(guid, nil)
	})
}

// conversation picks the conference a message goes to.
func (s *session) conversation(ctx context.Context, convID, to string) (string, error) {
	if convID != "" {
		if s.client.KnowsConference(convID) {
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
	if guid == "" || !s.client.KnowsConference(guid) {
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
