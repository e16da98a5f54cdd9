package sttest

import (
	"fmt"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// conference is a group chat hosted by the server (spec §5.6).
type conference struct {
	name, title string
	members     map[*session]*member
	invited     map[*session]uint32 // channel id of a pending invitation
	nextMember  uint16
}

type member struct {
	id   uint16
	chID uint32
}

func confProtocol() stproto.ChannelProtocol {
	p, _ := stproto.ProtocolOf(stproto.ServiceConference)
	return p
}

// createConference accepts a client's conference channel and welcomes the
// creator as its first member.
func (srv *Server) createConference(s *session, c *stproto.ChannelCreate) {
	a, err := stproto.UnmarshalConfCreateAddtl(c.Addtl)
	if err != nil {
		s.log.Warn("bad conference create", "error", err)
		s.destroy(c.ID, stproto.ReasonBadData)
		return
	}
	if a.Name == "" {
		srv.confSeq++
		a.Name = fmt.Sprintf("%s(conference-%d)", s.acct.ID, srv.confSeq)
	}
	if _, exists := srv.confs[a.Name]; exists {
		s.destroy(c.ID, stproto.ReasonChannelExists)
		return
	}
	conf := &conference{name: a.Name, title: a.Title, members: map[*session]*member{}, invited: map[*session]uint32{}}
	srv.confs[a.Name] = conf
	s.channels[c.ID] = &channel{id: c.ID, kind: kindConference, conf: conf}
	s.send(&stproto.Message{Channel: c.ID, Body: &stproto.ChannelAccept{Service: c.Service, ProtoType: c.ProtoType, ProtoVer: c.ProtoVer}})
	srv.joinConference(conf, s, c.ID)
	s.log.Debug("conference created", "conference", a.Name)
}

// joinConference adds s as a member: WELCOME to it, JOIN to the others.
func (srv *Server) joinConference(conf *conference, s *session, chID uint32) {
	if _, already := conf.members[s]; already {
		return
	}
	delete(conf.invited, s)
	conf.nextMember++
	m := &member{id: conf.nextMember, chID: chID}
	conf.members[s] = m
	w := stproto.ConfWelcome{Name: conf.name, Title: conf.title}
	for ms, mm := range conf.members {
		w.Members = append(w.Members, stproto.ConfMember{ID: mm.id, Login: *ms.peerInfo()})
	}
	s.sendData(chID, stproto.ConfMsgWelcome, w)
	join, err := stproto.MarshalConfJoin(stproto.ConfMember{ID: m.id, Login: *s.peerInfo()})
	if err != nil {
		return
	}
	for ms, mm := range conf.members {
		if ms != s {
			ms.send(&stproto.Message{Channel: mm.chID, Body: &stproto.ChannelSend{Type: stproto.ConfMsgJoin, Data: join}})
		}
	}
}

// acceptInvitation handles an invitee's CHANNEL_ACCEPT; the member joins
// with its JOIN message, which meanwhile sends right after.
func (srv *Server) acceptInvitation(s *session, ch *channel) {
	if _, ok := ch.conf.invited[s]; !ok {
		s.destroy(ch.id, stproto.ReasonRequestInvalid)
	}
}

// leaveConference removes s (member or invitee) and tells the others.
func (srv *Server) leaveConference(conf *conference, s *session) {
	delete(conf.invited, s)
	if m, ok := conf.members[s]; ok {
		delete(conf.members, s)
		part, err := stproto.MarshalConfPart(m.id)
		if err == nil {
			for ms, mm := range conf.members {
				ms.send(&stproto.Message{Channel: mm.chID, Body: &stproto.ChannelSend{Type: stproto.ConfMsgPart, Data: part}})
			}
		}
	}
	if len(conf.members) == 0 {
		for inv, id := range conf.invited {
			inv.destroy(id, stproto.ReasonSuccess)
			delete(inv.channels, id)
		}
		delete(srv.confs, conf.name)
	}
}

func (srv *Server) onConferenceSend(s *session, ch *channel, msg *stproto.ChannelSend) {
	conf := ch.conf
	switch msg.Type {
	case stproto.ConfMsgJoin:
		if _, ok := conf.invited[s]; ok {
			srv.joinConference(conf, s, ch.id)
		}
	case stproto.ConfMsgInvite:
		m := conf.members[s]
		if m == nil {
			return
		}
		inv, err := stproto.UnmarshalConfInvite(msg.Data)
		if err != nil {
			s.log.Warn("bad conference invite", "error", err)
			return
		}
		srv.invite(conf, s, inv)
	case stproto.ConfMsgMessage:
		m := conf.members[s]
		if m == nil {
			return
		}
		text, err := stproto.UnmarshalConfTextClient(msg.Data)
		if err != nil {
			s.log.Warn("bad conference message", "error", err)
			return
		}
		text.MemberID = m.id
		out, err := text.MarshalServer()
		if err != nil {
			return
		}
		for ms, mm := range conf.members {
			// Text goes to every member including the sender, typing
			// notices only to the others.
			if text.Kind != stproto.IMKindText && ms == s {
				continue
			}
			ms.send(&stproto.Message{Channel: mm.chID, Body: &stproto.ChannelSend{Type: stproto.ConfMsgMessage, Data: out}})
		}
		if text.Kind == stproto.IMKindText {
			srv.stats.confTexts.Add(1)
		}
	}
}

// invite opens an invitation channel to the invited user's session.
func (srv *Server) invite(conf *conference, from *session, inv stproto.ConfInvite) {
	target := srv.sessionOf(inv.Who.User)
	if target == nil {
		from.log.Debug("conference invite to offline user ignored")
		return
	}
	if _, member := conf.members[target]; member {
		return
	}
	if _, pending := conf.invited[target]; pending {
		return
	}
	addtl, err := stproto.ConfInvitation{Name: conf.name, Title: conf.title, Inviter: *from.peerInfo(), Text: inv.Text}.Marshal()
	if err != nil {
		return
	}
	id := target.newServerChannelID()
	p := confProtocol()
	conf.invited[target] = id
	target.channels[id] = &channel{id: id, kind: kindConference, conf: conf}
	target.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: id, Target: stproto.IDBlock{User: target.acct.ID},
		Service: stproto.ServiceConference, ProtoType: p.Type, ProtoVer: p.Version,
		Addtl: addtl, Creator: from.peerInfo(),
	}})
}
