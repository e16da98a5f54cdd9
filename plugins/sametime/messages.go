package sametime

import (
	"context"
	"slices"
	"strings"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// dedupeWindow bounds the idempotency keys remembered per session.
const dedupeWindow = 1024

// sentKeys remembers the conversation of recently sent idempotency keys,
// the oldest forgotten first.
type sentKeys struct {
	conv  map[string]string
	order []string
	max   int
}

func newSentKeys(max int) sentKeys { return sentKeys{conv: map[string]string{}, max: max} }

// claim records key for conv unless it is known; it returns the
// conversation of a known key.
func (k *sentKeys) claim(key, conv string) (string, bool) {
	if c, ok := k.conv[key]; ok {
		return c, true
	}
	k.conv[key] = conv
	k.order = append(k.order, key)
	if len(k.order) > k.max {
		delete(k.conv, k.order[0])
		k.order = k.order[1:]
	}
	return "", false
}

// release forgets key, so that a failed send can be retried.
func (k *sentKeys) release(key string) {
	delete(k.conv, key)
	if i := slices.Index(k.order, key); i >= 0 {
		k.order = slices.Delete(k.order, i, i+1)
	}
}

// target is where a message or typing notice goes: a peer or a conference.
type target struct {
	peer string
	conf *stclient.Conference
	conv string
}

// target resolves a conversation id, or else a user id. A conference still
// being joined is waited for.
func (s *session) target(ctx context.Context, conversationID, to string) (target, error) {
	switch {
	case conversationID == "" && to == "":
		return target{}, sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: no recipient and no conversation")
	case conversationID == "":
		return target{peer: to, conv: imPrefix + to}, nil
	case strings.HasPrefix(conversationID, imPrefix):
		peer := strings.TrimPrefix(conversationID, imPrefix)
		if peer == "" {
			return target{}, sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: conversation %q names no user", conversationID)
		}
		return target{peer: peer, conv: conversationID}, nil
	}
	s.mu.Lock()
	c := s.confs[conversationID]
	s.mu.Unlock()
	if c == nil {
		return target{}, sdk.Errorf(sdk.ReasonNotFound, "sametime: no conversation %q", conversationID)
	}
	if err := c.awaitJoin(ctx); err != nil {
		return target{}, err
	}
	return target{conf: c.cf, conv: conversationID}, nil
}

// SendMessage implements sdk.Backend. A message to a user goes out as
// plain text on the IM channel to that user (encrypted unless disabled);
// a message to a conference goes to its members. A repeated idempotency
// key is answered without sending again.
func (b *Backend) SendMessage(ctx context.Context, msg sdk.OutgoingMessage) (string, error) {
	s, err := b.session(msg.SessionID)
	if err != nil {
		return "", err
	}
	t, err := s.target(ctx, msg.ConversationID, msg.To)
	if err != nil {
		return "", err
	}
	if key := msg.IdempotencyKey; key != "" {
		s.mu.Lock()
		conv, seen := s.sent.claim(key, t.conv)
		s.mu.Unlock()
		if seen {
			return conv, nil
		}
	}
	if t.conf != nil {
		err = t.conf.SendText(ctx, msg.Text)
	} else {
		err = s.client.SendText(ctx, t.peer, msg.Text)
	}
	if err != nil {
		if msg.IdempotencyKey != "" {
			s.mu.Lock()
			s.sent.release(msg.IdempotencyKey)
			s.mu.Unlock()
		}
		return "", requestError("send message", err, s.limit)
	}
	return t.conv, nil
}

// SendTyping implements sdk.TypingSender.
func (b *Backend) SendTyping(ctx context.Context, sessionID string, typing sdk.Typing) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	t, err := s.target(ctx, typing.ConversationID, typing.To)
	if err != nil {
		return err
	}
	if t.conf != nil {
		err = t.conf.SendTyping(ctx, typing.Typing)
	} else {
		err = s.client.SendTyping(ctx, t.peer, typing.Typing)
	}
	if err != nil {
		return requestError("send typing", err, s.limit)
	}
	return nil
}

// SetPresence implements sdk.PresenceSetter: available, away, busy (do
// not disturb) and idle, with a status message.
func (b *Backend) SetPresence(ctx context.Context, sessionID string, p sdk.Presence) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	code, err := sametimeStatus(p.Status)
	if err != nil {
		return err
	}
	if err := s.client.SetStatus(ctx, code, p.Note); err != nil {
		return requestError("set status", err, s.limit)
	}
	s.mu.Lock()
	s.status = p
	s.mu.Unlock()
	return nil
}
