package stclient

import (
	"context"
	"fmt"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

type chanState int

const (
	chanPending chanState = iota // created, not yet accepted
	chanOpen
	chanClosed
)

// channel is one Sametime channel (spec §4).
type channel struct {
	id       uint32
	service  stproto.ServiceID
	proto    stproto.ChannelProtocol
	incoming bool                 // created by the server (id has the top bit set)
	offer    stproto.EncryptOffer // what the creator offered
	handler  channelHandler
	ready    chan struct{} // closed when the channel opens or closes
	gone     chan struct{} // closed when the channel closes

	// Guarded by Client.mu.
	state  chanState
	reason stproto.ReasonError // why it closed
	peer   stproto.LoginInfo   // creator (incoming) or acceptor (outgoing)
	cipher *stproto.ChannelCipher
}

// closeReason returns why the channel closed; valid once gone is closed.
func (ch *channel) closeReason() stproto.ReasonError { return ch.reason }

// channelHandler is a service's view of its channels. Its methods run on
// the reader goroutine.
type channelHandler interface {
	// opened runs when the peer accepted an outgoing channel.
	opened(ch *channel)
	// received runs for every CHANNEL_SEND, already decrypted.
	received(ch *channel, msgType uint16, data []byte)
	// closed runs when the server or peer destroyed the channel.
	closed(ch *channel, reason stproto.ReasonError)
}

// channelSpec describes an outgoing channel.
type channelSpec struct {
	service stproto.ServiceID
	target  string
	addtl   []byte
	encrypt bool // offer ciphers (IM and file transfer)
	handler channelHandler
}

// newChannelLocked registers a new outgoing channel; callers hold c.mu
// and then call writeCreate.
func (c *Client) newChannelLocked(spec channelSpec) *channel {
	proto, _ := stproto.ProtocolOf(spec.service)
	ch := &channel{
		service: spec.service,
		proto:   proto,
		handler: spec.handler,
		ready:   make(chan struct{}),
		gone:    make(chan struct{}),
	}
	if spec.encrypt && !c.cfg.DisableEncryption {
		ch.offer = c.encryptOffer()
	}
	for {
		id := c.nextID
		c.nextID++
		if c.nextID >= stproto.ServerChannelBit {
			c.nextID = 1
		}
		if _, used := c.channels[id]; !used {
			ch.id = id
			break
		}
	}
	c.channels[ch.id] = ch
	return ch
}

// writeCreate sends the CHANNEL_CREATE for an outgoing channel.
func (c *Client) writeCreate(ch *channel, spec channelSpec) error {
	return c.writeMessage(&stproto.Message{Body: &stproto.ChannelCreate{
		ID:        ch.id,
		Target:    stproto.IDBlock{User: spec.target},
		Service:   ch.service,
		ProtoType: ch.proto.Type,
		ProtoVer:  ch.proto.Version,
		Addtl:     spec.addtl,
		Encrypt:   ch.offer,
	}})
}

// waitOpen waits until ch is accepted; a destroy instead is a *ServerError.
func (c *Client) waitOpen(ctx context.Context, op string, ch *channel) error {
	return c.waitOpenFor(ctx, op, ch, c.cfg.RequestTimeout)
}

func (c *Client) waitOpenFor(ctx context.Context, op string, ch *channel, limit time.Duration) error {
	if err := c.awaitFor(ctx, op, ch.ready, limit); err != nil {
		return err
	}
	select {
	case <-ch.gone:
		return channelError(op, ch.closeReason())
	default:
		return nil
	}
}

// abandon closes a channel the caller gave up waiting for.
func (c *Client) abandon(ch *channel) {
	select {
	case <-c.done:
	default:
		_ = c.destroyChannel(ch, stproto.ReasonSuccess)
	}
}

// encryptOffer is what IM and file channels offer: RC2/40 and RC2/128 as
// meanwhile does, without RC2/40 if the login id is too short to key it.
func (c *Client) encryptOffer() stproto.EncryptOffer {
	o := stproto.OfferAll(c.dh)
	if _, err := stproto.RC2_40ChannelKey(c.self.LoginID); err != nil {
		items := o.Items[:0]
		for _, it := range o.Items {
			if it.Cipher != stproto.CipherRC2_40 {
				items = append(items, it)
			}
		}
		o.Items = items
	}
	return o
}

// answerOffer picks the cipher for an incoming channel: the one the policy
// names, otherwise RC2/128 before RC2/40; none if encryption is disabled
// or nothing usable was offered (meanwhile peers accept that).
func (c *Client) answerOffer(offer *stproto.EncryptOffer, peerLoginID string) (stproto.EncryptAnswer, *stproto.ChannelCipher) {
	none := stproto.EncryptAnswer{Mode: stproto.PolicyNone}
	if c.cfg.DisableEncryption || offer.Mode == stproto.PolicyNone || len(offer.Items) == 0 {
		return none, nil
	}
	order := []stproto.CipherID{stproto.CipherRC2_128, stproto.CipherRC2_40}
	switch offer.Mode {
	case stproto.PolicyRC2_40:
		order = order[1:]
	case stproto.PolicyRC2_128:
		order = order[:1]
	}
	for _, id := range order {
		var ans stproto.EncryptAnswer
		var err error
		if id == stproto.CipherRC2_128 {
			ans, err = stproto.AnswerRC2_128(offer, c.dh)
		} else {
			ans, err = stproto.AnswerRC2_40(offer)
		}
		if err != nil {
			continue
		}
		ciph, err := stproto.AcceptorCipher(offer, &ans, c.dh, c.self.LoginID, peerLoginID)
		if err != nil {
			c.log.Debug("cannot use offered cipher", "cipher", id, "error", err)
			continue
		}
		return ans, ciph
	}
	return none, nil
}

// newIncoming registers a channel the server created.
func (c *Client) newIncoming(b *stproto.ChannelCreate, h channelHandler) *channel {
	ch := &channel{
		id:       b.ID,
		service:  b.Service,
		proto:    stproto.ChannelProtocol{Type: b.ProtoType, Version: b.ProtoVer},
		incoming: true,
		offer:    b.Encrypt,
		handler:  h,
		ready:    make(chan struct{}),
		gone:     make(chan struct{}),
	}
	if b.Creator != nil {
		ch.peer = *b.Creator
	}
	c.mu.Lock()
	c.channels[ch.id] = ch
	c.mu.Unlock()
	return ch
}

// accept answers an incoming channel with CHANNEL_ACCEPT, choosing a
// cipher from the creator's offer. The write happens under the write lock
// before anyone can send on the now open channel.
func (c *Client) accept(ch *channel, addtl []byte) error {
	answer, ciph := c.answerOffer(&ch.offer, ch.peer.LoginID)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	switch ch.state {
	case chanClosed:
		r := ch.reason
		c.mu.Unlock()
		return channelError("accept", r)
	case chanOpen:
		c.mu.Unlock()
		return ErrAlreadyAnswered
	}
	ch.cipher = ciph
	ch.state = chanOpen
	close(ch.ready)
	c.mu.Unlock()
	m := &stproto.Message{Channel: ch.id, Body: &stproto.ChannelAccept{
		Service:   ch.service,
		ProtoType: ch.proto.Type,
		ProtoVer:  ch.proto.Version,
		Addtl:     addtl,
		Encrypt:   answer,
	}}
	b, err := m.MarshalFrame()
	if err != nil {
		return fmt.Errorf("stclient: encode accept: %w", err)
	}
	return c.writeLocked(b)
}

// closeLocal marks ch closed. It reports false if it already was.
func (c *Client) closeLocal(ch *channel, reason stproto.ReasonError) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.state == chanClosed {
		return false
	}
	pending := ch.state == chanPending
	ch.state = chanClosed
	ch.reason = reason
	// gone before ready: whoever sees ready closed also sees gone.
	close(ch.gone)
	if pending {
		close(ch.ready)
	}
	if c.channels[ch.id] == ch {
		delete(c.channels, ch.id)
	}
	if im, ok := ch.handler.(*imChannel); ok && c.convs[im.peer] == ch {
		delete(c.convs, im.peer)
	}
	if c.services[ch.service] == ch {
		delete(c.services, ch.service)
	}
	return true
}

// destroyChannel closes ch from our side with reason.
func (c *Client) destroyChannel(ch *channel, reason stproto.ReasonError) error {
	if !c.closeLocal(ch, reason) {
		return nil
	}
	return c.writeDestroy(ch.id, reason)
}

// sendOn sends a CHANNEL_SEND on ch, encrypted if asked and the channel
// has a cipher. Encryption happens under the write lock so that the CBC
// chain follows the order on the wire.
func (c *Client) sendOn(ch *channel, msgType uint16, data []byte, encrypt bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	state, reason, ciph := ch.state, ch.reason, ch.cipher
	c.mu.Unlock()
	if state == chanClosed {
		return channelError("send", reason)
	}
	var opts stproto.Options
	if encrypt && ciph != nil {
		data = ciph.Seal(data)
		opts = stproto.OptEncrypt
	}
	m := &stproto.Message{Options: opts, Channel: ch.id, Body: &stproto.ChannelSend{Type: msgType, Data: data}}
	b, err := m.MarshalFrame()
	if err != nil {
		return fmt.Errorf("stclient: encode send: %w", err)
	}
	return c.writeLocked(b)
}

// onCreate handles a CHANNEL_CREATE from the server (spec §4.3).
func (c *Client) onCreate(b *stproto.ChannelCreate) {
	if !stproto.IsServerChannel(b.ID) {
		c.log.Warn("server created a channel with a client id", "channel", b.ID)
		_ = c.writeDestroy(b.ID, stproto.ReasonRequestInvalid)
		return
	}
	c.mu.Lock()
	_, dup := c.channels[b.ID]
	c.mu.Unlock()
	if dup {
		c.log.Warn("ignoring create for an existing channel", "channel", b.ID)
		return
	}
	switch b.Service {
	case stproto.ServiceIM:
		c.onIMCreate(b)
	case stproto.ServiceFileTransfer:
		c.onFileOffer(b)
	case stproto.ServiceConference:
		c.onConferenceInvite(b)
	default:
		c.log.Debug("refusing channel for unsupported service", "service", b.Service)
		_ = c.writeDestroy(b.ID, stproto.ReasonServiceNotSupported)
	}
}

// onAccept handles the peer's CHANNEL_ACCEPT of an outgoing channel (spec §4.4).
func (c *Client) onAccept(id uint32, b *stproto.ChannelAccept) {
	c.mu.Lock()
	ch := c.channels[id]
	if ch == nil {
		c.mu.Unlock()
		return
	}
	if ch.incoming || ch.state != chanPending {
		c.mu.Unlock()
		c.log.Warn("unexpected channel accept", "channel", id)
		c.rejectChannel(ch, stproto.ReasonRequestInvalid)
		return
	}
	if b.Acceptor != nil {
		ch.peer = *b.Acceptor
	}
	ciph, err := stproto.CreatorCipher(&ch.offer, &b.Encrypt, c.dh, c.self.LoginID, ch.peer.LoginID)
	if err != nil {
		c.mu.Unlock()
		c.log.Warn("channel accepted with an unusable cipher", "channel", id, "error", err)
		c.rejectChannel(ch, stproto.ReasonRequestInvalid)
		return
	}
	ch.cipher = ciph
	ch.state = chanOpen
	close(ch.ready)
	c.mu.Unlock()
	c.log.Debug("channel open", "channel", id, "service", ch.service, "encrypted", ciph != nil)
	ch.handler.opened(ch)
}

// rejectChannel destroys ch with reason and tells its service.
func (c *Client) rejectChannel(ch *channel, reason stproto.ReasonError) {
	if c.closeLocal(ch, reason) {
		_ = c.writeDestroy(ch.id, reason)
		ch.handler.closed(ch, reason)
	}
}

// onDestroy handles the server's CHANNEL_DESTROY of a channel.
func (c *Client) onDestroy(id uint32, reason stproto.ReasonError) {
	c.mu.Lock()
	ch := c.channels[id]
	c.mu.Unlock()
	if ch == nil {
		return
	}
	if c.closeLocal(ch, reason) {
		c.log.Debug("channel closed by peer", "channel", id, "service", ch.service, "reason", uint32(reason))
		ch.handler.closed(ch, reason)
	}
}

// onSend handles a CHANNEL_SEND, decrypting it when flagged.
func (c *Client) onSend(m *stproto.Message, b *stproto.ChannelSend) {
	c.mu.Lock()
	ch := c.channels[m.Channel]
	var ciph *stproto.ChannelCipher
	if ch != nil {
		ciph = ch.cipher
	}
	c.mu.Unlock()
	if ch == nil {
		return
	}
	data := b.Data
	if m.Options&stproto.OptEncrypt != 0 {
		if ciph == nil {
			c.log.Warn("dropping encrypted data on a plaintext channel", "channel", ch.id)
			return
		}
		var err error
		if data, err = ciph.Open(data); err != nil {
			c.log.Warn("dropping undecryptable data", "channel", ch.id, "error", err)
			return
		}
	}
	ch.handler.received(ch, b.Type, data)
}
