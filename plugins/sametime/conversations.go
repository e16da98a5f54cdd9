package sametime

import (
	"context"
	"errors"
	"strings"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// maxTitle bounds the topic of a conference this backend creates.
const maxTitle = 200

// conference is a conference the session takes part in or is joining.
type conference struct {
	cf     *stclient.Conference
	joined chan struct{} // closed when the join ended; err says how
	err    error
}

// joinedAlready is the joined channel of a conference we created.
var joinedAlready = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// awaitJoin waits until the conference is joined, so that a device can
// write to a conversation as soon as it was invited.
func (c *conference) awaitJoin(ctx context.Context) error {
	select {
	case <-c.joined:
		return c.err
	case <-ctx.Done():
		return requestError("join conference", ctx.Err(), 0)
	}
}

// CreateConversation implements sdk.Conversations: it starts a Sametime
// conference and invites the participants, each looked up in the
// directory first. The conversation id is the conference name. Invitees'
// joins arrive as ConversationJoined events. If an invitation cannot be
// sent, the conference is left again and the error returned.
func (b *Backend) CreateConversation(ctx context.Context, sessionID string, participants []string) (string, error) {
	s, err := b.session(sessionID)
	if err != nil {
		return "", err
	}
	if len(participants) == 0 {
		return "", sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: a conversation needs participants")
	}
	ids := make([]string, 0, len(participants))
	for _, p := range participants {
		m, err := s.resolveUser(ctx, p)
		if err != nil {
			return "", err
		}
		ids = append(ids, m.ID)
	}
	title := conferenceTitle(s.self.UserName, ids)
	cf, err := s.client.CreateConference(ctx, title)
	if err != nil {
		return "", requestError("create conference", err, s.limit)
	}
	name := cf.Name()
	s.mu.Lock()
	s.confs[name] = &conference{cf: cf, joined: joinedAlready}
	s.mu.Unlock()
	for _, id := range ids {
		if err := cf.Invite(ctx, id, title); err != nil {
			s.mu.Lock()
			delete(s.confs, name)
			s.mu.Unlock()
			if lerr := cf.Leave(context.WithoutCancel(ctx)); lerr != nil {
				s.log.Debug("leaving a conference after a failed invitation", "error", lerr)
			}
			return "", requestError("invite to conference", err, s.limit)
		}
	}
	s.log.Debug("conference created", "conference", name, "invited", len(ids))
	return name, nil
}

func conferenceTitle(self string, ids []string) string {
	title := "Chat with " + strings.Join(ids, ", ")
	if self != "" {
		title = self + ": " + title
	}
	if len(title) > maxTitle {
		title = strings.ToValidUTF8(title[:maxTitle], "") + "…"
	}
	return title
}

// LeaveConversation implements sdk.Conversations: it leaves a conference,
// or closes the IM channel of a 1:1 conversation.
func (b *Backend) LeaveConversation(ctx context.Context, sessionID, conversationID string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	t, err := s.target(ctx, conversationID, "")
	if err != nil {
		return err
	}
	if t.conf == nil {
		if err := s.client.CloseConversation(ctx, t.peer); err != nil {
			return requestError("close conversation", err, s.limit)
		}
		return nil
	}
	s.mu.Lock()
	delete(s.confs, conversationID)
	s.mu.Unlock()
	if err := t.conf.Leave(ctx); err != nil {
		return requestError("leave conference", err, s.limit)
	}
	return nil
}

// InviteToConversation implements sdk.Conversations for conferences; a
// 1:1 conversation cannot grow (create a conversation with both users).
func (b *Backend) InviteToConversation(ctx context.Context, sessionID, conversationID, userID, text string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	t, err := s.target(ctx, conversationID, "")
	if err != nil {
		return err
	}
	if t.conf == nil {
		return sdk.Errorf(sdk.ReasonInvalidArgument,
			"sametime: %q is a 1:1 conversation; create a conversation with every participant instead", conversationID)
	}
	m, err := s.resolveUser(ctx, userID)
	if err != nil {
		return err
	}
	if err := t.conf.Invite(ctx, m.ID, text); err != nil {
		return requestError("invite to conference", err, s.limit)
	}
	return nil
}

// onConferenceInvite reports an invitation and joins the conference: the
// device protocol has no answer to an invitation, so the user is in the
// conversation until they leave it. The join waits for the server, so it
// runs beside the event loop; requests for the conversation wait for it.
func (s *session) onConferenceInvite(inv *stclient.ConferenceInvitation) {
	name := inv.Conference.Name()
	c := &conference{cf: inv.Conference, joined: make(chan struct{})}
	s.mu.Lock()
	s.confs[name] = c
	s.mu.Unlock()
	s.emit(sdk.ConversationEvent{Change: sdk.ConversationInvited, ConversationID: name, UserID: inv.From.UserID, Text: inv.Text})
	s.helpers.Add(1)
	go func() {
		defer s.helpers.Done()
		// Join is bounded by the request timeout and ends with the session.
		_, err := inv.Join(context.Background())
		if err != nil {
			c.err = requestError("join conference", err, s.limit)
			s.mu.Lock()
			if s.confs[name] == c {
				delete(s.confs, name)
			}
			s.mu.Unlock()
		}
		close(c.joined)
		if err != nil && !errors.Is(err, stclient.ErrClosed) {
			s.log.Warn("joining a conference", "conference", name, "error", err)
			s.emit(sdk.ConversationEvent{Change: sdk.ConversationLeft, ConversationID: name, UserID: s.self.UserID})
		}
	}()
}
