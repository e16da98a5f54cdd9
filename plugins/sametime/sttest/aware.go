package sttest

import (
	"strings"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// snapshotOf is the presence record of a user id as watchers see it.
// Callers hold srv.mu.
func (srv *Server) snapshotOf(id stproto.AwareIDBlock) stproto.AwareSnapshot {
	snap := stproto.AwareSnapshot{ID: id}
	if id.Type != stproto.AwareUser {
		return snap
	}
	if s := srv.sessionOf(id.User); s != nil {
		snap.Online = true
		snap.AltID = s.acct.ID
		snap.Status = s.status
		snap.Name = s.acct.FullName
	}
	return snap
}

// publishPresence sends AWARE_UPDATE about acct to every session watching
// it. Callers hold srv.mu.
func (srv *Server) publishPresence(acct *account) {
	key := strings.ToLower(acct.ID)
	for w := range srv.sessions {
		ch, ok := w.awareChannel()
		if !ok || !w.watching[key] {
			continue
		}
		upd, err := stproto.MarshalAwareUpdate(srv.snapshotOf(stproto.AwareIDBlock{Type: stproto.AwareUser, User: acct.ID}))
		if err != nil {
			continue
		}
		w.send(&stproto.Message{Channel: ch, Body: &stproto.ChannelSend{Type: stproto.AwareMsgUpdate, Data: upd}})
	}
}

// publishAttr relays a user's attribute change to its watchers: value nil
// means unset. Callers hold srv.mu.
func (srv *Server) publishAttr(acct *account, key uint32, value []byte, set bool) {
	who := stproto.AwareIDBlock{Type: stproto.AwareUser, User: acct.ID}
	lk := strings.ToLower(acct.ID)
	for w := range srv.sessions {
		ch, ok := w.awareChannel()
		if !ok || !w.watching[lk] {
			continue
		}
		if set {
			w.sendData(ch, stproto.AwareMsgOptGotSet, stproto.AttrGotSet{Who: who, Key: key, Value: value})
		} else {
			w.sendData(ch, stproto.AwareMsgOptGotUnset, stproto.AttrGotUnset{Who: who, Key: key})
		}
	}
}

// awareChannel returns the session's open aware channel.
func (s *session) awareChannel() (uint32, bool) {
	for id, ch := range s.channels {
		if ch.kind == kindAware {
			return id, true
		}
	}
	return 0, false
}

// attrsOf returns the attributes published by the user's newest session.
func (srv *Server) attrsOf(id string) map[uint32][]byte {
	if s := srv.sessionOf(id); s != nil {
		return s.attrs
	}
	return nil
}

func (s *session) onAware(ch uint32, msg *stproto.ChannelSend) {
	srv := s.srv
	switch msg.Type {
	case stproto.AwareMsgAdd:
		l, err := stproto.UnmarshalAwareIDList(msg.Data)
		if err != nil {
			s.log.Warn("bad AWARE_ADD", "error", err)
			return
		}
		snaps := stproto.AwareSnapshots{}
		for _, id := range l.IDs {
			if id.Type == stproto.AwareUser {
				s.watching[strings.ToLower(id.User)] = true
			}
			snaps.Snapshots = append(snaps.Snapshots, srv.snapshotOf(id))
		}
		s.sendData(ch, stproto.AwareMsgSnapshot, snaps)
		for _, id := range l.IDs {
			if id.Type != stproto.AwareUser {
				continue
			}
			for key, v := range srv.attrsOf(id.User) {
				s.sendData(ch, stproto.AwareMsgOptGotSet, stproto.AttrGotSet{Who: id, Key: key, Value: v})
			}
		}
	case stproto.AwareMsgRemove:
		l, err := stproto.UnmarshalAwareIDList(msg.Data)
		if err != nil {
			s.log.Warn("bad AWARE_REMOVE", "error", err)
			return
		}
		for _, id := range l.IDs {
			delete(s.watching, strings.ToLower(id.User))
		}
	case stproto.AwareMsgOptDoSet:
		a, err := stproto.UnmarshalAttrDoSet(msg.Data)
		if err != nil {
			s.log.Warn("bad OPT_DO_SET", "error", err)
			return
		}
		s.attrs[a.Key] = append([]byte(nil), a.Value...)
		srv.publishAttr(s.acct, a.Key, a.Value, true)
	case stproto.AwareMsgOptDoUnset:
		a, err := stproto.UnmarshalAttrDoUnset(msg.Data)
		if err != nil {
			s.log.Warn("bad OPT_DO_UNSET", "error", err)
			return
		}
		if _, had := s.attrs[a.Key]; had {
			delete(s.attrs, a.Key)
			srv.publishAttr(s.acct, a.Key, nil, false)
		}
	case stproto.AwareMsgOptWatch:
		// Every attribute is relayed; meanwhile keeps those it watches.
	default:
		s.log.Debug("aware message ignored", "msg_type", msg.Type)
	}
}
