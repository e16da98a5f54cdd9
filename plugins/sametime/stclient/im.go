package stclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// imChannel is the IM service's state of one conversation channel
// (spec §5.1).
type imChannel struct {
	c          *Client
	peer       string
	clientType stproto.IMClientType
	sendMu     sync.Mutex // keeps the parts of a multi-part message together
	multipart  *multipart // reassembly; reader goroutine only
}

// multipart collects an HTML or MIME message sent in segments.
type multipart struct {
	dataType stproto.IMDataType
	buf      []byte
	overflow bool
}

func (*imChannel) opened(*channel) {}

func (im *imChannel) received(ch *channel, msgType uint16, data []byte) {
	c := im.c
	if msgType != stproto.IMMessageType {
		return
	}
	m, err := stproto.UnmarshalIMMessage(data)
	if err != nil {
		c.log.Warn("bad IM message", "channel", ch.id, "error", err)
		return
	}
	switch m.Kind {
	case stproto.IMKindText:
		im.deliver(ch, FormatText, m.Text)
	case stproto.IMKindData:
		im.receivedData(ch, m)
	}
}

func (im *imChannel) receivedData(ch *channel, m stproto.IMMessage) {
	c := im.c
	switch m.DataType {
	case stproto.IMDataTyping:
		c.emit(TypingEvent{From: im.peer, Typing: m.IsTyping()})
	case stproto.IMDataMultipartStart:
		im.multipart = &multipart{}
	case stproto.IMDataMultipartStop:
		mp := im.multipart
		im.multipart = nil
		if mp != nil && !mp.overflow && mp.dataType != 0 {
			im.deliver(ch, formatOf(mp.dataType), string(mp.buf))
		}
	case stproto.IMDataHTML, stproto.IMDataMIME:
		mp := im.multipart
		if mp == nil {
			im.deliver(ch, formatOf(m.DataType), string(m.Data))
			return
		}
		if mp.dataType == 0 {
			mp.dataType = m.DataType
		}
		if mp.overflow || len(mp.buf)+len(m.Data) > c.cfg.MaxMessageSize {
			if !mp.overflow {
				c.log.Warn("dropping multi-part message over the size limit", "channel", ch.id, "limit", c.cfg.MaxMessageSize)
			}
			mp.overflow, mp.buf = true, nil
			return
		}
		mp.buf = append(mp.buf, m.Data...)
	}
}

func formatOf(t stproto.IMDataType) MessageFormat {
	if t == stproto.IMDataMIME {
		return FormatMIME
	}
	return FormatHTML
}

func (im *imChannel) deliver(ch *channel, f MessageFormat, text string) {
	c := im.c
	c.mu.Lock()
	name := ch.peer.UserName
	c.mu.Unlock()
	c.emit(MessageEvent{From: im.peer, FromName: name, Format: f, Text: text})
}

func (im *imChannel) closed(*channel, stproto.ReasonError) { im.multipart = nil }

// onIMCreate accepts a conversation another user opened (spec §5.1.1).
func (c *Client) onIMCreate(b *stproto.ChannelCreate) {
	proto, _ := stproto.ProtocolOf(stproto.ServiceIM)
	if b.ProtoType != proto.Type || b.ProtoVer != proto.Version {
		_ = c.writeDestroy(b.ID, stproto.ReasonServiceNotSupported)
		return
	}
	addtl, err := stproto.UnmarshalIMCreateAddtl(b.Addtl)
	switch {
	case errors.Is(err, stproto.ErrIMAddtl):
		_ = c.writeDestroy(b.ID, stproto.ReasonIMTypeNotRegistered)
		return
	case err != nil:
		_ = c.writeDestroy(b.ID, stproto.ReasonFailure)
		return
	case addtl.ClientType != stproto.IMClientPlain && addtl.ClientType != stproto.IMClientNotesBuddy:
		// Place invitations (pre-conference) and unknown feature sets.
		_ = c.writeDestroy(b.ID, stproto.ReasonIMTypeNotRegistered)
		return
	case b.Creator == nil || b.Creator.UserID == "":
		_ = c.writeDestroy(b.ID, stproto.ReasonRequestInvalid)
		return
	}
	im := &imChannel{c: c, peer: b.Creator.UserID, clientType: addtl.ClientType}
	ch := c.newIncoming(b, im)
	c.mu.Lock()
	status := c.status
	c.convs[im.peer] = ch
	c.mu.Unlock()
	data, err := stproto.IMAcceptAddtl{ClientType: addtl.ClientType, Status: status}.Marshal()
	if err != nil {
		c.log.Warn("cannot encode IM accept", "error", err)
		c.rejectChannel(ch, stproto.ReasonFailure)
		return
	}
	if err := c.accept(ch, data); err != nil {
		c.log.Warn("cannot accept IM channel", "channel", ch.id, "error", err)
	}
}

// conversation returns the open IM channel to user, opening one if
// needed. Like libpurple it offers the NotesBuddy feature set (HTML) and
// falls back to plain text when the peer refuses it.
func (c *Client) conversation(ctx context.Context, to string) (*channel, *imChannel, error) {
	for {
		c.mu.Lock()
		ch := c.convs[to]
		var spec *channelSpec
		if ch == nil {
			typ := stproto.IMClientNotesBuddy
			if c.plainIM[to] {
				typ = stproto.IMClientPlain
			}
			addtl, err := stproto.IMCreateAddtl{ClientType: typ}.Marshal()
			if err != nil {
				c.mu.Unlock()
				return nil, nil, fmt.Errorf("stclient: im: %w", err)
			}
			spec = &channelSpec{
				service: stproto.ServiceIM,
				target:  to,
				addtl:   addtl,
				encrypt: true,
				handler: &imChannel{c: c, peer: to, clientType: typ},
			}
			ch = c.newChannelLocked(*spec)
			c.convs[to] = ch
		}
		c.mu.Unlock()
		if spec != nil {
			if err := c.writeCreate(ch, *spec); err != nil {
				return nil, nil, fmt.Errorf("stclient: im: %w", err)
			}
		}
		im := ch.handler.(*imChannel)
		err := c.waitOpen(ctx, "im", ch)
		if err == nil {
			return ch, im, nil
		}
		var se *ServerError
		if !errors.As(err, &se) {
			c.abandon(ch)
			return nil, nil, err
		}
		if im.clientType == stproto.IMClientNotesBuddy &&
			(se.Reason == stproto.ReasonIMTypeNotRegistered || se.Reason == stproto.ReasonServiceNotSupported) {
			c.mu.Lock()
			c.plainIM[to] = true
			c.mu.Unlock()
			continue
		}
		return nil, nil, err
	}
}

// SendText sends a plain-text instant message to user to, opening an
// (encrypted, if the peer agrees) conversation channel first if needed.
func (c *Client) SendText(ctx context.Context, to, text string) error {
	if len(text) > stproto.MaxString {
		return fmt.Errorf("stclient: send text: %d bytes: %w", len(text), ErrMessageTooLong)
	}
	data, err := stproto.NewIMText(text).Marshal()
	if err != nil {
		return fmt.Errorf("stclient: send text: %w", err)
	}
	ch, im, err := c.conversation(ctx, to)
	if err != nil {
		return err
	}
	im.sendMu.Lock()
	defer im.sendMu.Unlock()
	if err := c.sendOn(ch, stproto.IMMessageType, data, true); err != nil {
		return fmt.Errorf("stclient: send text: %w", err)
	}
	return nil
}

// SendHTML sends an HTML instant message. Messages longer than 2048
// bytes go out in segments as meanwhile sends them. Peers whose client
// only takes plain text yield ErrHTMLUnsupported.
func (c *Client) SendHTML(ctx context.Context, to, html string) error {
	ch, im, err := c.conversation(ctx, to)
	if err != nil {
		return err
	}
	if im.clientType != stproto.IMClientNotesBuddy {
		return fmt.Errorf("stclient: send html to %s: %w", to, ErrHTMLUnsupported)
	}
	im.sendMu.Lock()
	defer im.sendMu.Unlock()
	msgs := []stproto.IMMessage{stproto.NewIMHTML(html)}
	if len(html) > stproto.IMMultipartSegment {
		msgs = []stproto.IMMessage{{Kind: stproto.IMKindData, DataType: stproto.IMDataMultipartStart}}
		for rest := html; rest != ""; {
			n := min(len(rest), stproto.IMMultipartSegment)
			msgs = append(msgs, stproto.NewIMHTML(rest[:n]))
			rest = rest[n:]
		}
		msgs = append(msgs, stproto.IMMessage{Kind: stproto.IMKindData, DataType: stproto.IMDataMultipartStop})
	}
	for _, m := range msgs {
		data, err := m.Marshal()
		if err != nil {
			return fmt.Errorf("stclient: send html: %w", err)
		}
		if err := c.sendOn(ch, stproto.IMMessageType, data, true); err != nil {
			return fmt.Errorf("stclient: send html: %w", err)
		}
	}
	return nil
}

// SendTyping tells user to that we started (typing) or stopped typing.
// Like libpurple, "stopped" is not worth opening a conversation for.
func (c *Client) SendTyping(ctx context.Context, to string, typing bool) error {
	if !typing {
		c.mu.Lock()
		_, open := c.convs[to]
		c.mu.Unlock()
		if !open {
			return nil
		}
	}
	data, err := stproto.NewIMTyping(typing).Marshal()
	if err != nil {
		return fmt.Errorf("stclient: send typing: %w", err)
	}
	ch, im, err := c.conversation(ctx, to)
	if err != nil {
		return err
	}
	im.sendMu.Lock()
	defer im.sendMu.Unlock()
	if err := c.sendOn(ch, stproto.IMMessageType, data, true); err != nil {
		return fmt.Errorf("stclient: send typing: %w", err)
	}
	return nil
}

// CloseConversation closes the IM channel to user, if one is open.
func (c *Client) CloseConversation(ctx context.Context, user string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stclient: close conversation: %w", err)
	}
	c.mu.Lock()
	ch := c.convs[user]
	c.mu.Unlock()
	if ch == nil {
		return nil
	}
	if err := c.destroyChannel(ch, stproto.ReasonSuccess); err != nil {
		return fmt.Errorf("stclient: close conversation: %w", err)
	}
	return nil
}
