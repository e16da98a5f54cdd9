package stclient

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// Member is a conference participant.
type Member struct {
	ID      uint16 // the server's member id within the conference
	UserID  string
	Name    string
	LoginID string
}

func memberOf(m stproto.ConfMember) Member {
	return Member{ID: m.ID, UserID: m.Login.UserID, Name: m.Login.UserName, LoginID: m.Login.LoginID}
}

// Conference is a group chat (spec §5.6). Conference messages are never
// encrypted.
type Conference struct {
	c       *Client
	ch      *channel
	welcome chan struct{} // closed when the server's WELCOME arrived

	// Guarded by Client.mu.
	name     string
	title    string
	members  map[uint16]Member
	welcomed bool
}

func newConference(c *Client, name, title string) *Conference {
	return &Conference{c: c, welcome: make(chan struct{}), name: name, title: title, members: make(map[uint16]Member)}
}

// Name returns the server's identifier of the conference.
func (cf *Conference) Name() string {
	cf.c.mu.Lock()
	defer cf.c.mu.Unlock()
	return cf.name
}

// Title returns the conference's topic.
func (cf *Conference) Title() string {
	cf.c.mu.Lock()
	defer cf.c.mu.Unlock()
	return cf.title
}

// Members returns the current participants, ourselves included, ordered
// by member id.
func (cf *Conference) Members() []Member {
	cf.c.mu.Lock()
	defer cf.c.mu.Unlock()
	ms := make([]Member, 0, len(cf.members))
	for _, m := range cf.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	return ms
}

func (*Conference) opened(*channel) {}

func (cf *Conference) received(ch *channel, msgType uint16, data []byte) {
	c := cf.c
	switch msgType {
	case stproto.ConfMsgWelcome:
		w, err := stproto.UnmarshalConfWelcome(data)
		if err != nil {
			c.log.Warn("bad conference welcome", "channel", ch.id, "error", err)
			return
		}
		c.mu.Lock()
		cf.name, cf.title = w.Name, w.Title
		for _, m := range w.Members {
			cf.members[m.ID] = memberOf(m)
		}
		first := !cf.welcomed
		cf.welcomed = true
		c.mu.Unlock()
		if first {
			close(cf.welcome)
		}
	case stproto.ConfMsgJoin:
		m, err := stproto.UnmarshalConfJoin(data)
		if err != nil {
			c.log.Warn("bad conference join", "channel", ch.id, "error", err)
			return
		}
		c.mu.Lock()
		// meanwhile: the server announces our own join before the
		// welcome, which lists us anyway.
		welcomed := cf.welcomed
		if welcomed {
			cf.members[m.ID] = memberOf(m)
		}
		c.mu.Unlock()
		if welcomed {
			c.emit(ConferenceMemberEvent{Conference: cf, Member: memberOf(m), Joined: true})
		}
	case stproto.ConfMsgPart:
		id, err := stproto.UnmarshalConfPart(data)
		if err != nil {
			return
		}
		c.mu.Lock()
		m, known := cf.members[id]
		delete(cf.members, id)
		c.mu.Unlock()
		if known {
			c.emit(ConferenceMemberEvent{Conference: cf, Member: m})
		}
	case stproto.ConfMsgMessage:
		if len(data) == 0 {
			return
		}
		t, err := stproto.UnmarshalConfTextServer(data)
		if err != nil {
			c.log.Warn("bad conference message", "channel", ch.id, "error", err)
			return
		}
		c.mu.Lock()
		from, known := cf.members[t.MemberID]
		c.mu.Unlock()
		if !known {
			from = Member{ID: t.MemberID}
		}
		switch t.Kind {
		case stproto.IMKindText:
			c.emit(ConferenceMessageEvent{Conference: cf, From: from, Text: t.Text})
		case stproto.IMKindData:
			c.emit(ConferenceTypingEvent{Conference: cf, From: from, Typing: t.Typing})
		}
	}
}

func (cf *Conference) closed(_ *channel, reason stproto.ReasonError) {
	cf.c.emit(ConferenceClosedEvent{Conference: cf, Reason: reason})
}

// CreateConference starts a new conference with the given topic and
// returns once the server welcomed us; then Invite other users.
func (c *Client) CreateConference(ctx context.Context, title string) (*Conference, error) {
	const op = "create conference"
	var rnd [2]byte
	if _, err := io.ReadFull(c.cfg.Rand, rnd[:]); err != nil {
		return nil, fmt.Errorf("stclient: %s: %w", op, err)
	}
	// meanwhile's naming: user(time,random).
	name := fmt.Sprintf("%s(%08x,%04x)", c.cfg.User, uint32(time.Now().Unix()), binary.BigEndian.Uint16(rnd[:]))
	addtl, err := stproto.ConfCreateAddtl{Name: name, Title: title}.Marshal()
	if err != nil {
		return nil, fmt.Errorf("stclient: %s: %w", op, err)
	}
	cf := newConference(c, name, title)
	spec := channelSpec{service: stproto.ServiceConference, addtl: addtl, handler: cf}
	c.mu.Lock()
	cf.ch = c.newChannelLocked(spec)
	c.mu.Unlock()
	if err := c.writeCreate(cf.ch, spec); err != nil {
		return nil, fmt.Errorf("stclient: %s: %w", op, err)
	}
	if err := c.waitOpen(ctx, op, cf.ch); err != nil {
		c.abandon(cf.ch)
		return nil, err
	}
	if err := cf.awaitWelcome(ctx, op); err != nil {
		return nil, err
	}
	return cf, nil
}

// awaitWelcome waits for the server's WELCOME; if it does not come, the
// channel is closed again.
func (cf *Conference) awaitWelcome(ctx context.Context, op string) error {
	c := cf.c
	t := time.NewTimer(c.cfg.RequestTimeout)
	defer t.Stop()
	var err error
	select {
	case <-cf.welcome:
		return nil
	case <-cf.ch.gone:
		return channelError(op, cf.ch.closeReason())
	case <-ctx.Done():
		err = fmt.Errorf("stclient: %s: %w", op, ctx.Err())
	case <-c.done:
		return fmt.Errorf("stclient: %s: %w", op, c.err)
	case <-t.C:
		err = fmt.Errorf("stclient: %s: no welcome within %v: %w", op, c.cfg.RequestTimeout, ErrTimeout)
	}
	c.abandon(cf.ch)
	return err
}

// Invite asks user to join the conference with an invitation text.
func (cf *Conference) Invite(ctx context.Context, user, text string) error {
	data, err := stproto.ConfInvite{Who: stproto.IDBlock{User: user}, Text: text}.Marshal()
	if err != nil {
		return fmt.Errorf("stclient: conference invite: %w", err)
	}
	return cf.send(ctx, "conference invite", stproto.ConfMsgInvite, data)
}

// SendText sends a text to every member.
func (cf *Conference) SendText(ctx context.Context, text string) error {
	if len(text) > stproto.MaxString {
		return fmt.Errorf("stclient: conference text: %d bytes: %w", len(text), ErrMessageTooLong)
	}
	data, err := stproto.ConfText{Kind: stproto.IMKindText, Text: text}.MarshalClient()
	if err != nil {
		return fmt.Errorf("stclient: conference text: %w", err)
	}
	return cf.send(ctx, "conference text", stproto.ConfMsgMessage, data)
}

// SendTyping tells the members that we started or stopped typing.
func (cf *Conference) SendTyping(ctx context.Context, typing bool) error {
	data, err := stproto.ConfText{Kind: stproto.IMKindData, Typing: typing}.MarshalClient()
	if err != nil {
		return fmt.Errorf("stclient: conference typing: %w", err)
	}
	return cf.send(ctx, "conference typing", stproto.ConfMsgMessage, data)
}

func (cf *Conference) send(ctx context.Context, op string, msgType uint16, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stclient: %s: %w", op, err)
	}
	if err := cf.c.sendOn(cf.ch, msgType, data, false); err != nil {
		return fmt.Errorf("stclient: %s: %w", op, err)
	}
	return nil
}

// Leave leaves the conference (closes its channel).
func (cf *Conference) Leave(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stclient: leave conference: %w", err)
	}
	if err := cf.c.destroyChannel(cf.ch, stproto.ReasonSuccess); err != nil {
		return fmt.Errorf("stclient: leave conference: %w", err)
	}
	return nil
}

// ConferenceInvitation is an invitation to join a conference.
type ConferenceInvitation struct {
	Conference *Conference
	From       Member // the inviter
	Text       string
	answered   atomic.Bool
}

// onConferenceInvite handles the server's CHANNEL_CREATE that invites us.
func (c *Client) onConferenceInvite(b *stproto.ChannelCreate) {
	inv, err := stproto.UnmarshalConfInvitation(b.Addtl)
	if err != nil {
		c.log.Warn("bad conference invitation", "channel", b.ID, "error", err)
		_ = c.writeDestroy(b.ID, stproto.ReasonFailure)
		return
	}
	cf := newConference(c, inv.Name, inv.Title)
	cf.ch = c.newIncoming(b, cf)
	c.emit(ConferenceInviteEvent{Invitation: &ConferenceInvitation{
		Conference: cf,
		From:       Member{UserID: inv.Inviter.UserID, Name: inv.Inviter.UserName, LoginID: inv.Inviter.LoginID},
		Text:       inv.Text,
	}})
}

// Join accepts the invitation and returns once the server welcomed us.
func (inv *ConferenceInvitation) Join(ctx context.Context) (*Conference, error) {
	const op = "join conference"
	if !inv.answered.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("stclient: %s: %w", op, ErrAlreadyAnswered)
	}
	cf := inv.Conference
	c := cf.c
	if err := c.accept(cf.ch, nil); err != nil {
		return nil, fmt.Errorf("stclient: %s: %w", op, err)
	}
	if err := c.sendOn(cf.ch, stproto.ConfMsgJoin, nil, false); err != nil {
		return nil, fmt.Errorf("stclient: %s: %w", op, err)
	}
	if err := cf.awaitWelcome(ctx, op); err != nil {
		return nil, err
	}
	return cf, nil
}

// Decline refuses the invitation.
func (inv *ConferenceInvitation) Decline(ctx context.Context) error {
	if !inv.answered.CompareAndSwap(false, true) {
		return fmt.Errorf("stclient: decline conference: %w", ErrAlreadyAnswered)
	}
	return inv.Conference.Leave(ctx)
}
