package sttest

import (
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// relay connects a channel of the creator's session with the channel the
// server opened towards the recipient.
type relay struct {
	service   stproto.ServiceID
	creator   *session
	creatorID uint32
	target    *session
	targetID  uint32
	accepted  bool
}

// other returns the session and channel id on the far side of channel id
// of session s (both ends may be the same session).
func (r *relay) other(s *session, id uint32) (*session, uint32) {
	if s == r.creator && id == r.creatorID {
		return r.target, r.targetID
	}
	return r.creator, r.creatorID
}

// newServerChannelID returns the next id with the top bit set for s.
func (s *session) newServerChannelID() uint32 {
	for {
		s.nextID = (s.nextID + 1) &^ stproto.ServerChannelBit
		if s.nextID == 0 {
			continue
		}
		id := stproto.ServerChannelBit | s.nextID
		if _, used := s.channels[id]; !used {
			return id
		}
	}
}

// acceptService accepts a login-time service channel with enc_mode 0 and
// no cipher, which is what meanwhile requires (spec §4.4).
func (s *session) acceptService(c *stproto.ChannelCreate, kind channelKind) {
	s.channels[c.ID] = &channel{id: c.ID, kind: kind}
	s.send(&stproto.Message{Channel: c.ID, Body: &stproto.ChannelAccept{
		Service: c.Service, ProtoType: c.ProtoType, ProtoVer: c.ProtoVer,
	}})
}

func (s *session) onChannelCreate(c *stproto.ChannelCreate) {
	if stproto.IsServerChannel(c.ID) || c.ID == 0 {
		s.destroy(c.ID, stproto.ReasonRequestInvalid)
		return
	}
	if _, exists := s.channels[c.ID]; exists {
		s.destroy(c.ID, stproto.ReasonChannelExists)
		return
	}
	switch c.Service {
	case stproto.ServiceAware:
		s.acceptService(c, kindAware)
	case stproto.ServiceResolve:
		s.acceptService(c, kindResolve)
	case stproto.ServiceStorage:
		s.acceptService(c, kindStorage)
	case stproto.ServiceIM:
		s.relayCreate(c)
	case stproto.ServiceFileTransfer:
		offer, err := stproto.UnmarshalFTOffer(c.Addtl)
		if err != nil {
			s.log.Warn("bad file offer", "error", err)
			s.destroy(c.ID, stproto.ReasonBadData)
			return
		}
		if int64(offer.Size) > s.srv.cfg.maxFileBytes {
			s.srv.stats.fileOffersRefused.Add(1)
			s.log.Info("file offer refused", "to", c.Target.User, "declared_bytes", offer.Size, "max_bytes", s.srv.cfg.maxFileBytes)
			s.destroy(c.ID, s.srv.cfg.refusalReason)
			return
		}
		s.relayCreate(c)
	case stproto.ServiceConference:
		s.srv.createConference(s, c)
	default:
		s.destroy(c.ID, stproto.ReasonServiceNotSupported)
	}
}

// relayCreate forwards an IM or file-transfer create to the target user's
// session (spec §7.3): new top-bit id, creator LoginInfo, the rest as is.
func (s *session) relayCreate(c *stproto.ChannelCreate) {
	target := s.srv.sessionOf(c.Target.User)
	if target == nil {
		s.log.Debug("channel to offline user refused", "service", c.Service.String())
		s.destroy(c.ID, stproto.ReasonUserNotOnline)
		return
	}
	r := &relay{service: c.Service, creator: s, creatorID: c.ID, target: target}
	r.targetID = target.newServerChannelID()
	s.channels[c.ID] = &channel{id: c.ID, kind: kindRelay, relay: r}
	target.channels[r.targetID] = &channel{id: r.targetID, kind: kindRelay, relay: r}
	fwd := *c
	fwd.Reserved = 0
	fwd.ID = r.targetID
	fwd.Target = stproto.IDBlock{User: target.acct.ID}
	fwd.Creator = s.peerInfo()
	target.send(&stproto.Message{Body: &fwd})
	s.srv.stats.channelsRelayed.Add(1)
	s.log.Debug("channel relayed", "service", c.Service.String(), "to", target.acct.ID, "id", c.ID, "peer_id", r.targetID)
}

func (s *session) onChannelAccept(id uint32, a *stproto.ChannelAccept) {
	ch := s.channels[id]
	if ch == nil {
		s.log.Debug("accept for unknown channel ignored", "channel", id)
		return
	}
	switch ch.kind {
	case kindRelay:
		r := ch.relay
		if s != r.target || id != r.targetID || r.accepted {
			s.destroy(id, stproto.ReasonRequestInvalid)
			return
		}
		r.accepted = true
		fwd := *a
		fwd.Acceptor = s.peerInfo()
		r.creator.send(&stproto.Message{Channel: r.creatorID, Body: &fwd})
	case kindConference:
		s.srv.acceptInvitation(s, ch)
	}
}

func (s *session) onChannelSend(m *stproto.Message, msg *stproto.ChannelSend) {
	ch := s.channels[m.Channel]
	if ch == nil {
		s.log.Debug("send on unknown channel dropped", "channel", m.Channel)
		return
	}
	switch ch.kind {
	case kindAware:
		s.onAware(m.Channel, msg)
	case kindStorage:
		s.onStorage(m.Channel, msg)
	case kindResolve:
		s.onResolve(m.Channel, msg)
	case kindConference:
		s.srv.onConferenceSend(s, ch, msg)
	case kindRelay:
		peer, peerID := ch.relay.other(s, m.Channel)
		fwd := *m
		fwd.Channel = peerID
		peer.send(&fwd)
		s.srv.stats.messagesRelayed.Add(1)
		if ch.relay.service == stproto.ServiceFileTransfer && msg.Type == stproto.FTMsgData {
			s.srv.stats.bytes.Add(int64(len(msg.Data)))
		}
	}
}

func (s *session) onChannelDestroy(id uint32, d *stproto.ChannelDestroy) {
	ch := s.channels[id]
	if ch == nil {
		return
	}
	delete(s.channels, id)
	switch ch.kind {
	case kindRelay:
		peer, peerID := ch.relay.other(s, id)
		if _, open := peer.channels[peerID]; open {
			delete(peer.channels, peerID)
			peer.send(&stproto.Message{Channel: peerID, Body: d})
		}
	case kindConference:
		s.srv.leaveConference(ch.conf, s)
	}
}
