package sttest

import (
	"strings"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// initialBuddyList is the list a user has before saving one: one group
// with the user's contacts that name known users, or nil without any.
// Callers hold srv.mu.
func (srv *Server) initialBuddyList(a *account) []byte {
	g := stproto.BuddyGroup{ID: "Buddies", Type: stproto.GroupNormal, Alias: "Buddies", Open: true}
	for _, c := range a.Contacts {
		if peer := srv.account(c); peer != nil {
			g.Users = append(g.Users, stproto.BuddyUser{ID: peer.ID, Type: stproto.BuddyNormal, Name: peer.FullName})
		}
	}
	if len(g.Users) == 0 {
		return nil
	}
	v, err := stproto.StringValue(stproto.BuddyList{Version: stproto.BuddyListVersion, Groups: []stproto.BuddyGroup{g}}.String())
	if err != nil {
		return nil
	}
	return v
}

func (s *session) onStorage(ch uint32, msg *stproto.ChannelSend) {
	switch msg.Type {
	case stproto.StorageMsgLoad:
		req, err := stproto.UnmarshalStorageLoad(msg.Data)
		if err != nil {
			s.log.Warn("bad storage LOAD", "error", err)
			return
		}
		reply := stproto.StorageLoaded{RequestID: req.RequestID}
		for _, k := range req.Keys {
			v, ok := s.acct.storage[k]
			if !ok && k == stproto.StorageKeyBuddyList {
				v = s.srv.initialBuddyList(s.acct)
				ok = v != nil
			}
			if ok {
				reply.Units = append(reply.Units, stproto.StorageUnit{Key: k, Value: v})
			}
		}
		if len(reply.Units) == 0 {
			// Never an empty list with result 0: libpurple would delete
			// its local buddies.
			reply.Result = stproto.ReasonNoElement
		}
		s.sendData(ch, stproto.StorageMsgLoaded, reply)
	case stproto.StorageMsgSave:
		req, err := stproto.UnmarshalStorageSave(msg.Data)
		if err != nil {
			s.log.Warn("bad storage SAVE", "error", err)
			return
		}
		for _, u := range req.Units {
			s.acct.storage[u.Key] = append([]byte(nil), u.Value...)
		}
		s.sendData(ch, stproto.StorageMsgSaved, stproto.StorageSaved{RequestID: req.RequestID})
	default:
		s.log.Debug("storage message ignored", "msg_type", msg.Type)
	}
}

// Resolve result codes for queries without a match. The protocol defines
// none for "not found"; ERR_NO_ELEMENT is used [assumption].
const resolveNotFound = uint32(stproto.ReasonNoElement)

func (s *session) onResolve(ch uint32, msg *stproto.ChannelSend) {
	if msg.Type != stproto.ResolveMsgType {
		s.log.Debug("resolve message ignored", "msg_type", msg.Type)
		return
	}
	req, err := stproto.UnmarshalResolveRequest(msg.Data)
	if err != nil {
		s.log.Warn("bad resolve request", "error", err)
		return
	}
	resp := stproto.ResolveResponse{SearchID: req.SearchID}
	for _, q := range req.Queries {
		res := stproto.ResolveResult{Query: q}
		if a := s.srv.lookup(q); a != nil {
			res.Matches = []stproto.ResolveMatch{{ID: a.ID, Name: a.FullName, Type: stproto.ResolveMatchUser}}
		} else {
			res.Code = resolveNotFound
			resp.Code = stproto.ResolveCodePartial
		}
		resp.Results = append(resp.Results, res)
	}
	s.sendData(ch, stproto.ResolveMsgType, resp)
}

// lookup finds a user by id or full name, case-insensitively.
func (srv *Server) lookup(q string) *account {
	if a := srv.account(q); a != nil {
		return a
	}
	for _, a := range srv.users {
		if a.FullName != "" && strings.EqualFold(a.FullName, q) {
			return a
		}
	}
	return nil
}
