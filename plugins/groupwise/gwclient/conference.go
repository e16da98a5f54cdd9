package gwclient

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// conference is the client's view of a conversation: its GUID and the other
// participants (never the user's own DN), as libpurple keeps it.
type conference struct {
	guid         string
	participants []string
}

// confKey is the map key of a conference: libpurple compares GUIDs on
// their first 27 characters only, case-insensitively (spec §3).
func confKey(guid string) string {
	if len(guid) > gwproto.GUIDCompareLen {
		guid = guid[:gwproto.GUIDCompareLen]
	}
	return strings.ToUpper(guid)
}

func conversationField(guid string, extra ...gwproto.Field) gwproto.Field {
	return gwproto.NewArray(gwproto.TagFaConversation,
		append([]gwproto.Field{gwproto.NewString(gwproto.TagSzObjectID, guid)}, extra...)...)
}

// CreateConference creates a conference on the server with the given
// participants (DNs; none for an empty chat) and returns its GUID.
func (c *Client) CreateConference(ctx context.Context, participants ...string) (string, error) {
	fs := gwproto.Fields{conversationField(gwproto.BlankGUID)}
	for _, dn := range participants {
		fs = append(fs, gwproto.NewDN(gwproto.TagSzDN, dn))
	}
	if self := c.Self(); self.DN != "" {
		fs = append(fs, gwproto.NewDN(gwproto.TagSzDN, self.DN))
	}
	resp, err := c.call(ctx, gwproto.CmdCreateConf, fs)
	if err != nil {
		return "", err
	}
	// The GUID is in the NM_A_FA_CONVERSATION list, which libpurple
	// expects first; accept it anywhere.
	conv, ok := resp.Fields.List(gwproto.TagFaConversation)
	guid, _ := conv.String(gwproto.TagSzObjectID)
	if !ok || guid == "" {
		return "", fmt.Errorf("gwclient: %s: no conference id: %w", gwproto.CmdCreateConf, ErrBadResponse)
	}
	c.mu.Lock()
	conf := &conference{guid: guid}
	for _, dn := range participants {
		conf.add(dn, c.self.DN)
	}
	c.confs[confKey(guid)] = conf
	c.mu.Unlock()
	return guid, nil
}

// OpenIM returns the GUID of the 1-to-1 conference with dn: an existing one
// (learned from an incoming message or created earlier) or, if there is
// none, a new one created on the server.
func (c *Client) OpenIM(ctx context.Context, dn string) (string, error) {
	c.mu.Lock()
	for _, conf := range c.confs {
		if len(conf.participants) == 1 && sameDN(conf.participants[0], dn) {
			c.mu.Unlock()
			return conf.guid, nil
		}
	}
	c.mu.Unlock()
	return c.CreateConference(ctx, dn)
}

// Participants returns the other participants of conference guid as this
// client knows them.
func (c *Client) Participants(guid string) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conf, ok := c.confs[confKey(guid)]
	if !ok {
		return nil, false
	}
	return slices.Clone(conf.participants), true
}

// SendMessage sends text (plain UTF-8, at most gwproto.MaxMessageText bytes)
// to conference guid: as the RTF body of spec §7.1 plus the plain copy,
// addressed to every participant the client knows.
func (c *Client) SendMessage(ctx context.Context, guid, text string) error {
	fs, err := c.messageFields(guid, text)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, gwproto.CmdSendMessage, fs)
	return err
}

// StartSendMessage is SendMessage without waiting for the server's answer:
// the request is queued for writing behind those started before it on this
// connection, and done is called exactly once with SendMessage's result,
// when the answer arrives, ctx ends or the connection fails. Several
// messages can so be at the server at once, still in order. done runs on
// the client's reader goroutine, a timer's goroutine, or before
// StartSendMessage returns; it must not block.
func (c *Client) StartSendMessage(ctx context.Context, guid, text string, done func(error)) {
	fs, err := c.messageFields(guid, text)
	if err != nil {
		done(err)
		return
	}
	c.start(ctx, gwproto.CmdSendMessage, fs, func(_ *gwproto.Response, err error) { done(err) })
}

// messageFields are the fields of a sendmessage request.
func (c *Client) messageFields(guid, text string) (gwproto.Fields, error) {
	if len(text) > gwproto.MaxMessageText {
		return nil, fmt.Errorf("gwclient: %s: %d bytes: %w", gwproto.CmdSendMessage, len(text), ErrMessageTooLong)
	}
	body := gwproto.RTFWrap(text)
	c.mu.Lock()
	defer c.mu.Unlock()
	conf, ok := c.confs[confKey(guid)]
	if !ok {
		return nil, fmt.Errorf("gwclient: %s: %s: %w", gwproto.CmdSendMessage, guid, ErrUnknownConference)
	}
	fs := make(gwproto.Fields, 0, 2+len(conf.participants))
	fs = append(fs,
		conversationField(guid),
		gwproto.NewArray(gwproto.TagFaMessage,
			gwproto.NewString(gwproto.TagSzMessageBody, body),
			gwproto.NewNumber(gwproto.TagUdMessageType, gwproto.TypeUDWord, 0),
			gwproto.NewString(gwproto.TagSzMessageText, text),
		),
	)
	for _, dn := range conf.participants {
		fs = append(fs, gwproto.NewDN(gwproto.TagSzDN, dn))
	}
	return fs, nil
}

// SendTyping tells the other participants of guid that the user started
// (typing true) or stopped typing.
func (c *Client) SendTyping(ctx context.Context, guid string, typing bool) error {
	kind := gwproto.EventUserNotTyping
	if typing {
		kind = gwproto.EventUserTyping
	}
	if !c.KnowsConference(guid) {
		return fmt.Errorf("gwclient: %s: %s: %w", gwproto.CmdSendTyping, guid, ErrUnknownConference)
	}
	_, err := c.call(ctx, gwproto.CmdSendTyping, gwproto.Fields{
		conversationField(guid, gwproto.NewString(gwproto.TagSzType, fmt.Sprint(uint32(kind)))),
	})
	return err
}

// JoinConference accepts an invitation (event Invited) and returns the
// conference's other participants. Their details are fetched if unknown.
func (c *Client) JoinConference(ctx context.Context, guid string) ([]string, error) {
	resp, err := c.call(ctx, gwproto.CmdJoinConf, gwproto.Fields{conversationField(guid)})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	conf := &conference{guid: guid}
	if list, ok := resp.Fields.List(gwproto.TagFaContactList); ok {
		for _, f := range list.FindAll(gwproto.TagSzDN) {
			if f.Type.IsString() {
				conf.add(f.Value, c.self.DN)
			}
		}
	}
	c.confs[confKey(guid)] = conf
	who := slices.Clone(conf.participants)
	c.mu.Unlock()
	for _, dn := range who {
		c.learnUser(dn)
	}
	return who, nil
}

// LeaveConference leaves conference guid; the client forgets it.
func (c *Client) LeaveConference(ctx context.Context, guid string) error {
	_, err := c.call(ctx, gwproto.CmdLeaveConf, gwproto.Fields{conversationField(guid)})
	if err == nil {
		c.dropConference(guid)
	}
	return err
}

// RejectConference declines an invitation to conference guid.
func (c *Client) RejectConference(ctx context.Context, guid string) error {
	_, err := c.call(ctx, gwproto.CmdRejectConf, gwproto.Fields{conversationField(guid)})
	if err == nil {
		c.dropConference(guid)
	}
	return err
}

// Invite invites dn to conference guid with an optional plain-text message.
// The invitee becomes a participant when it joins (event ConferenceJoined).
func (c *Client) Invite(ctx context.Context, guid, dn, message string) error {
	fs := gwproto.Fields{conversationField(guid), gwproto.NewDN(gwproto.TagSzDN, dn)}
	if message != "" {
		fs = append(fs, gwproto.NewString(gwproto.TagSzMessageBody, message))
	}
	_, err := c.call(ctx, gwproto.CmdSendInvite, fs)
	return err
}

// KnowsConference reports whether the client knows conference guid (it
// is Participants without the copy).
func (c *Client) KnowsConference(guid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.confs[confKey(guid)]
	return ok
}

// add appends dn unless it is the user's own DN or already present.
func (conf *conference) add(dn, self string) {
	if dn == "" || sameDN(dn, self) {
		return
	}
	for _, p := range conf.participants {
		if sameDN(p, dn) {
			return
		}
	}
	conf.participants = append(conf.participants, dn)
}

// addParticipant records dn in conference guid, creating the conference
// first if create is set.
func (c *Client) addParticipant(guid, dn string, create bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conf, ok := c.confs[confKey(guid)]
	if !ok {
		if !create {
			return
		}
		conf = &conference{guid: guid}
		c.confs[confKey(guid)] = conf
	}
	conf.add(dn, c.self.DN)
}

// removeParticipant drops dn from conference guid and forgets the
// conference once nobody else is left, as libpurple does.
func (c *Client) removeParticipant(guid, dn string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conf, ok := c.confs[confKey(guid)]
	if !ok {
		return
	}
	conf.participants = slices.DeleteFunc(conf.participants, func(p string) bool {
		return strings.EqualFold(p, dn)
	})
	if len(conf.participants) == 0 {
		delete(c.confs, confKey(guid))
	}
}

func (c *Client) ensureConference(guid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.confs[confKey(guid)]; !ok {
		c.confs[confKey(guid)] = &conference{guid: guid}
	}
}

func (c *Client) dropConference(guid string) {
	c.mu.Lock()
	delete(c.confs, confKey(guid))
	c.mu.Unlock()
}
