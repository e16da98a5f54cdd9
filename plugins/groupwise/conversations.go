package groupwise

import (
	"context"
	"fmt"

	"github.com/parleygw/parley/plugins/sdk"
)

// CreateConversation implements sdk.Conversations as libpurple's
// "Initiate Chat": an empty conference, then an invitation to each
// participant. Invitees who use Parley join at once (see acceptInvitation);
// the creator sees a ConversationJoined event for each, and messages reach
// a participant once they have joined. If an invitation fails (the user is
// offline or blocks the sender) the conference is left again and the error
// returned.
func (b *Backend) CreateConversation(ctx context.Context, sessionID string, participants []string) (string, error) {
	s, err := b.session(sessionID)
	if err != nil {
		return "", err
	}
	if len(participants) == 0 {
		return "", sdk.Errorf(sdk.ReasonInvalidArgument, "groupwise: a conversation needs participants")
	}
	dns := make([]string, 0, len(participants))
	for _, p := range participants {
		dn, err := s.dnOf(ctx, p)
		if err != nil {
			return "", err
		}
		dns = append(dns, dn)
	}
	guid, err := s.client.CreateConference(ctx)
	if err != nil {
		return "", requestError(err)
	}
	for i, dn := range dns {
		if err := s.client.Invite(ctx, guid, dn, ""); err != nil {
			if lerr := s.client.LeaveConference(ctx, guid); lerr != nil {
				s.log.Debug("cannot leave a conference after a failed invitation", "guid", guid, "error", lerr)
			}
			return "", &sdk.Error{Reason: sdk.ReasonOf(requestError(err)),
				Message: fmt.Sprintf("groupwise: inviting %s: %v", participants[i], err)}
		}
	}
	return guid, nil
}

// LeaveConversation implements sdk.Conversations.
func (b *Backend) LeaveConversation(ctx context.Context, sessionID, conversationID string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	if !s.client.KnowsConference(conversationID) {
		return sdk.Errorf(sdk.ReasonNotFound, "groupwise: no conversation %q", conversationID)
	}
	return requestError(s.client.LeaveConference(ctx, conversationID))
}

// InviteToConversation implements sdk.Conversations: the user gets the
// invitation (with text) and, through Parley, joins at once; the
// participants see ConversationJoined.
func (b *Backend) InviteToConversation(ctx context.Context, sessionID, conversationID, userID, text string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	if !s.client.KnowsConference(conversationID) {
		return sdk.Errorf(sdk.ReasonNotFound, "groupwise: no conversation %q", conversationID)
	}
	dn, err := s.dnOf(ctx, userID)
	if err != nil {
		return err
	}
	return requestError(s.client.Invite(ctx, conversationID, dn, text))
}
