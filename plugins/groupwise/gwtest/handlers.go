package gwtest

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// maxStatusText is the longest status text libpurple accepts in event 103
// (10000 bytes including the NUL).
const maxStatusText = 9999

// handle answers one request and sends the events it causes. It runs under
// srv.mu, so all output is queued in a consistent order.
func (srv *Server) handle(s *session, req *gwproto.Request) RequestInfo {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.requests[req.Command]++
	var code uint32
	switch {
	case req.Command == gwproto.CmdLogin:
		code = srv.login(s, req)
	case s.acct == nil:
		// nothing but login is allowed before login
		code = s.respond(req, gwproto.CodeCredentialsMissing, nil)
	default:
		h, ok := handlers[req.Command]
		if !ok {
			h = (*Server).unsupported
		}
		code = h(srv, s, req)
	}
	info := RequestInfo{Command: req.Command, TID: req.TID, Code: code}
	if s.acct != nil {
		info.User = s.acct.user.ID
	}
	s.log.Debug("request", "cmd", req.Command, "tid", req.TID, "code", code)
	return info
}

type handler func(srv *Server, s *session, req *gwproto.Request) uint32

var handlers = map[string]handler{
	gwproto.CmdSetStatus:     (*Server).setStatus,
	gwproto.CmdGetStatus:     (*Server).getStatus,
	gwproto.CmdGetDetails:    (*Server).getDetails,
	gwproto.CmdCreateConf:    (*Server).createConf,
	gwproto.CmdSendMessage:   (*Server).sendMessage,
	gwproto.CmdSendTyping:    (*Server).sendTyping,
	gwproto.CmdJoinConf:      (*Server).joinConf,
	gwproto.CmdLeaveConf:     (*Server).leaveConf,
	gwproto.CmdRejectConf:    (*Server).rejectConf,
	gwproto.CmdSendInvite:    (*Server).sendInvite,
	gwproto.CmdCreateFolder:  (*Server).createFolder,
	gwproto.CmdCreateContact: (*Server).createContact,
	gwproto.CmdDeleteContact: (*Server).deleteContact,
	gwproto.CmdMoveContact:   (*Server).moveContact,
	gwproto.CmdUpdateItem:    (*Server).updateItem,
	gwproto.CmdPing:          (*Server).ok,
	gwproto.CmdLogout:        (*Server).ok,
}

// respond queues the response: lead (fields that must come first, such as
// NM_A_FA_CONVERSATION for createconf), result code and transaction id,
// then extra.
func (s *session) respond(req *gwproto.Request, code uint32, lead gwproto.Fields, extra ...gwproto.Field) uint32 {
	fields := make(gwproto.Fields, 0, len(lead)+2+len(extra))
	fields = append(fields, lead...)
	fields = append(fields, gwproto.ResultFields(code, req.TID)...)
	fields = append(fields, extra...)
	b, err := (&gwproto.Response{Fields: fields}).AppendTo(nil)
	if err != nil {
		// only server-made data goes into responses; this is a bug
		s.log.Error("cannot encode response", "cmd", req.Command, "error", err)
		b, _ = (&gwproto.Response{Fields: gwproto.ResultFields(gwproto.CodeServerBusy, req.TID)}).AppendTo(nil)
		code = gwproto.CodeServerBusy
	}
	s.enqueue(b)
	return code
}

// fail answers with a non-zero result code and nothing else.
func (s *session) fail(req *gwproto.Request, code uint32) uint32 { return s.respond(req, code, nil) }

// event queues ev for to, if to is online.
func (srv *Server) event(to *account, ev gwproto.Event) {
	if to.session == nil {
		return
	}
	b, err := ev.AppendTo(nil)
	if err != nil {
		srv.log.Error("cannot encode event", "type", ev.Type, "error", err)
		return
	}
	to.session.enqueue(b)
}

func (srv *Server) ok(s *session, req *gwproto.Request) uint32 { return s.respond(req, 0, nil) }

func (srv *Server) unsupported(s *session, req *gwproto.Request) uint32 {
	return s.fail(req, gwproto.CodeNotSupported)
}

// login authenticates the session (spec §4.1, §6).
func (srv *Server) login(s *session, req *gwproto.Request) uint32 {
	if s.acct != nil {
		return s.fail(req, gwproto.CodeNotSupported)
	}
	userID, okUser := req.Fields.String(gwproto.TagSzUserID)
	password, okPass := req.Fields.String(gwproto.TagSzCredentials)
	if !okUser || !okPass || userID == "" || password == "" {
		return s.fail(req, gwproto.CodeCredentialsMissing)
	}
	a := srv.dir.resolve(userID)
	if a == nil {
		s.log.Info("login refused: unknown user", "user", userID)
		return s.fail(req, gwproto.CodeAuthenticationFailed)
	}
	if password != a.user.Password {
		s.log.Info("login refused: wrong password", "user", a.user.ID)
		return s.fail(req, gwproto.CodePasswordInvalid)
	}
	wasOnline := a.session != nil
	if old := a.session; old != nil {
		// the same user logged in elsewhere: tell the old session
		srv.event(a, gwproto.Event{Type: gwproto.EventUserDisconnect, Source: a.dn})
		old.closeAfterFlush()
	}
	a.session, s.acct = s, a
	if !wasOnline {
		a.status, a.statusText, a.autoReply = gwproto.StatusAvailable, "", ""
	}
	s.log = s.log.With("user", a.user.ID)
	s.log.Info("logged in")
	// The first field must not be an array: libpurple builds the own user
	// record from the top-level fields.
	extra := gwproto.Fields{
		gwproto.NewDN(gwproto.TagSzDN, a.dn),
		gwproto.NewString(gwproto.TagSzAuthAttribute, a.user.ID),
		gwproto.NewString(gwproto.AttrCN, a.user.ID),
		gwproto.NewString(gwproto.AttrFullName, a.displayName()),
		gwproto.NewString(gwproto.TagSzStatus, a.status.Text()),
	}
	if len(a.folders) > 0 || len(a.contacts) > 0 {
		extra = append(extra, a.contactList(srv.dir))
	}
	code := s.respond(req, 0, nil, extra...)
	if !wasOnline {
		srv.notifyPresence(a)
	}
	return code
}

// notifyPresence sends event 103 with a's current presence to every online
// user who has a as a contact.
func (srv *Server) notifyPresence(a *account) {
	text := ""
	if a.online() {
		text = a.statusText
	}
	for _, w := range srv.dir.watchers(a) {
		srv.event(w, gwproto.Event{Type: gwproto.EventStatusChange, Source: a.dn, Status: a.presence(), Text: text})
	}
}

// removeSession forgets a finished connection; if it was the user's
// session, the user goes offline and leaves all conferences.
func (srv *Server) removeSession(s *session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	delete(srv.sessions, s)
	a := s.acct
	if a == nil || a.session != s {
		return
	}
	a.session = nil
	s.log.Info("logged out")
	srv.notifyPresence(a)
	for _, c := range srv.confs {
		if c.isParticipant(a) || c.isInvited(a) {
			wasParticipant := c.isParticipant(a)
			srv.leave(c, a)
			if wasParticipant {
				for _, p := range c.participants {
					srv.event(p, gwproto.Event{Type: gwproto.EventConferenceLeft, Source: a.dn, GUID: c.guid})
				}
			}
		}
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (srv *Server) setStatus(s *session, req *gwproto.Request) uint32 {
	text, ok := req.Fields.String(gwproto.TagSzStatus)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	st, err := gwproto.ParseStatus(text)
	if err != nil || st < gwproto.StatusOffline || st > gwproto.StatusAwayIdle {
		return s.fail(req, gwproto.CodeNotSupported)
	}
	a := s.acct
	a.status = st
	statusText, _ := req.Fields.String(gwproto.TagSzStatusText)
	a.statusText = truncateUTF8(statusText, maxStatusText)
	a.autoReply, _ = req.Fields.String(gwproto.TagSzMessageBody)
	code := s.respond(req, 0, nil)
	srv.notifyPresence(a)
	return code
}

// lookupKey returns the first NM_A_SZ_DN or NM_A_SZ_USERID value.
func lookupKey(fs gwproto.Fields) string {
	for _, f := range fs {
		if f.Type.IsString() && (strings.EqualFold(f.Tag, gwproto.TagSzDN) || strings.EqualFold(f.Tag, gwproto.TagSzUserID)) {
			return f.Value
		}
	}
	return ""
}

func (srv *Server) getStatus(s *session, req *gwproto.Request) uint32 {
	a := srv.dir.resolve(lookupKey(req.Fields))
	if a == nil {
		return s.fail(req, gwproto.CodeUserNotFound)
	}
	return s.respond(req, 0, nil, gwproto.NewString(gwproto.TagSzStatus, a.presence().Text()))
}

// getDetails answers one NM_A_FA_RESULTS per user found among the look-up
// keys (NM_A_SZ_USERID or NM_A_SZ_DN fields).
func (srv *Server) getDetails(s *session, req *gwproto.Request) uint32 {
	var results gwproto.Fields
	seen := map[*account]bool{}
	for _, f := range req.Fields {
		if !f.Type.IsString() || !(strings.EqualFold(f.Tag, gwproto.TagSzDN) || strings.EqualFold(f.Tag, gwproto.TagSzUserID)) {
			continue
		}
		if a := srv.dir.resolve(f.Value); a != nil && !seen[a] {
			seen[a] = true
			results = append(results, gwproto.NewArray(gwproto.TagFaResults, a.record()...))
		}
	}
	if len(results) == 0 {
		return s.fail(req, gwproto.CodeUserNotFound)
	}
	return s.respond(req, 0, nil, results...)
}

// conversationGUID returns NM_A_FA_CONVERSATION's NM_A_SZ_OBJECT_ID.
func conversationGUID(req *gwproto.Request) (gwproto.Fields, string, bool) {
	conv, ok := req.Fields.List(gwproto.TagFaConversation)
	if !ok {
		return nil, "", false
	}
	guid, ok := conv.String(gwproto.TagSzObjectID)
	return conv, guid, ok
}

// participantDNs resolves every top-level NM_A_SZ_DN; it reports false if
// one names no user.
func (srv *Server) participantDNs(fs gwproto.Fields) ([]*account, bool) {
	var out []*account
	for _, f := range fs {
		if f.Type.IsString() && strings.EqualFold(f.Tag, gwproto.TagSzDN) {
			a := srv.dir.resolve(f.Value)
			if a == nil {
				return nil, false
			}
			out = append(out, a)
		}
	}
	return out, true
}

func (srv *Server) createConf(s *session, req *gwproto.Request) uint32 {
	if _, _, ok := conversationGUID(req); !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	members, ok := srv.participantDNs(req.Fields)
	if !ok {
		return s.fail(req, gwproto.CodeUserNotFound)
	}
	me := s.acct
	if me.confs >= maxConferences {
		return s.fail(req, gwproto.CodeServerBusy)
	}
	c := &conference{guid: srv.newGUID()}
	srv.confs[confKey(c.guid)] = c
	c.join(me)
	for _, m := range members {
		if m.confs < maxConferences {
			c.join(m)
		}
	}
	// The GUID must be in the first field (spec §4.5).
	lead := gwproto.Fields{gwproto.NewArray(gwproto.TagFaConversation, gwproto.NewString(gwproto.TagSzObjectID, c.guid))}
	return s.respond(req, 0, lead)
}

// memberConference returns the conference named by the request if the
// session's user takes part in it.
func (srv *Server) memberConference(s *session, req *gwproto.Request) (*conference, gwproto.Fields, uint32) {
	conv, guid, ok := conversationGUID(req)
	if !ok {
		return nil, nil, gwproto.CodeServerProtocol
	}
	c := srv.conference(guid)
	if c == nil || !c.isParticipant(s.acct) {
		return nil, nil, gwproto.CodeConferenceNotFound2
	}
	return c, conv, 0
}

func (srv *Server) sendMessage(s *session, req *gwproto.Request) uint32 {
	c, _, code := srv.memberConference(s, req)
	if code != 0 {
		return s.fail(req, code)
	}
	msg, _ := req.Fields.List(gwproto.TagFaMessage)
	body, _ := msg.String(gwproto.TagSzMessageBody)
	if body == "" {
		text, ok := msg.String(gwproto.TagSzMessageText)
		if !ok {
			return s.fail(req, gwproto.CodeServerProtocol)
		}
		body = gwproto.RTFWrap(text)
	}
	// Participants the client lists are part of its conference: take them
	// in (for example after they left and the user writes again).
	if members, ok := srv.participantDNs(req.Fields); ok {
		for _, m := range members {
			if m.confs < maxConferences {
				c.join(m)
			}
		}
	}
	me := s.acct
	code = s.respond(req, 0, nil)
	for _, p := range c.others(me) {
		if !p.online() {
			srv.event(me, gwproto.Event{Type: gwproto.EventUndeliverableStatus, Source: p.dn, GUID: c.guid})
			continue
		}
		srv.event(p, gwproto.Event{Type: gwproto.EventReceiveMessage, Source: me.dn, GUID: c.guid, Text: body})
		if p.echoing() {
			srv.event(me, gwproto.Event{Type: gwproto.EventReceiveMessage, Source: p.dn, GUID: c.guid, Text: body})
		}
		if p.autoReply != "" && (p.status == gwproto.StatusBusy || p.status == gwproto.StatusAway || p.status == gwproto.StatusAwayIdle) {
			srv.event(me, gwproto.Event{Type: gwproto.EventReceiveAutoReply, Source: p.dn, GUID: c.guid, Text: p.autoReply})
		}
	}
	return code
}

func (srv *Server) sendTyping(s *session, req *gwproto.Request) uint32 {
	c, conv, code := srv.memberConference(s, req)
	if code != 0 {
		return s.fail(req, code)
	}
	var typ gwproto.EventType
	switch t, _ := conv.String(gwproto.TagSzType); t {
	case strconv.Itoa(int(gwproto.EventUserTyping)):
		typ = gwproto.EventUserTyping
	case strconv.Itoa(int(gwproto.EventUserNotTyping)):
		typ = gwproto.EventUserNotTyping
	default:
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	code = s.respond(req, 0, nil)
	for _, p := range c.others(s.acct) {
		srv.event(p, gwproto.Event{Type: typ, Source: s.acct.dn, GUID: c.guid})
	}
	return code
}

func (srv *Server) joinConf(s *session, req *gwproto.Request) uint32 {
	_, guid, ok := conversationGUID(req)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	me := s.acct
	c := srv.conference(guid)
	if c == nil || !(c.isInvited(me) || c.isParticipant(me)) {
		return s.fail(req, gwproto.CodeConferenceNotFound2)
	}
	if me.confs >= maxConferences && !c.isParticipant(me) {
		return s.fail(req, gwproto.CodeServerBusy)
	}
	c.join(me)
	var dns gwproto.Fields
	for _, p := range c.participants {
		dns = append(dns, gwproto.NewDN(gwproto.TagSzDN, p.dn))
	}
	code := s.respond(req, 0, nil, gwproto.NewArray(gwproto.TagFaContactList, dns...))
	for _, p := range c.others(me) {
		srv.event(p, gwproto.Event{Type: gwproto.EventConferenceJoined, Source: me.dn, GUID: c.guid})
	}
	return code
}

func (srv *Server) leaveConf(s *session, req *gwproto.Request) uint32 {
	_, guid, ok := conversationGUID(req)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	code := s.respond(req, 0, nil)
	me := s.acct
	if c := srv.conference(guid); c != nil && c.isParticipant(me) {
		srv.leave(c, me)
		for _, p := range c.participants {
			srv.event(p, gwproto.Event{Type: gwproto.EventConferenceLeft, Source: me.dn, GUID: c.guid})
		}
	}
	return code
}

func (srv *Server) rejectConf(s *session, req *gwproto.Request) uint32 {
	_, guid, ok := conversationGUID(req)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	code := s.respond(req, 0, nil)
	me := s.acct
	if c := srv.conference(guid); c != nil && c.isInvited(me) {
		srv.leave(c, me)
		for _, p := range c.participants {
			srv.event(p, gwproto.Event{Type: gwproto.EventConferenceReject, Source: me.dn, GUID: c.guid})
		}
	}
	return code
}

func (srv *Server) sendInvite(s *session, req *gwproto.Request) uint32 {
	c, _, code := srv.memberConference(s, req)
	if code != 0 {
		return s.fail(req, code)
	}
	invitees, ok := srv.participantDNs(req.Fields)
	if !ok || len(invitees) == 0 {
		return s.fail(req, gwproto.CodeUserNotFound)
	}
	invitee := invitees[0]
	switch {
	case c.isParticipant(invitee):
		return s.fail(req, gwproto.CodeDuplicateParticipant)
	case !invitee.online():
		return s.fail(req, gwproto.CodeConversationInvite)
	}
	if !c.isInvited(invitee) {
		c.invited = append(c.invited, invitee)
	}
	text, _ := req.Fields.String(gwproto.TagSzMessageBody)
	code = s.respond(req, 0, nil)
	srv.event(invitee, gwproto.Event{Type: gwproto.EventConferenceInvite, Source: s.acct.dn, GUID: c.guid, Text: text})
	for _, p := range c.participants {
		srv.event(p, gwproto.Event{Type: gwproto.EventConferenceInviteNotify, Source: invitee.dn, GUID: c.guid})
	}
	return code
}

// listChange answers a contact-list change: NM_A_FA_CONTACT_LIST must be the
// first field (spec §4.16).
func (s *session) listChange(req *gwproto.Request, items ...gwproto.Field) uint32 {
	return s.respond(req, 0, gwproto.Fields{gwproto.NewArray(gwproto.TagFaContactList, items...)})
}

// intField parses a decimal string field; missing gives def.
func intField(fs gwproto.Fields, tag string, def int) (int, bool) {
	v, ok := fs.String(tag)
	if !ok {
		return def, true
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return n, err == nil
}

func (srv *Server) createFolder(s *session, req *gwproto.Request) uint32 {
	name, _ := req.Fields.String(gwproto.TagSzDisplayName)
	parent, ok := intField(req.Fields, gwproto.TagSzParentID, 0)
	if name == "" || len(name) > maxNameLen || !ok || parent != 0 {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	a := s.acct
	if a.folderByName(name) != nil {
		return s.fail(req, gwproto.CodeDuplicateFolder)
	}
	if len(a.folders) >= maxFolders {
		return s.fail(req, gwproto.CodeTooManyFolders)
	}
	f := a.addFolder(name)
	return s.listChange(req, gwproto.NewArray(gwproto.TagFaFolder, f.fields()...).WithMethod(gwproto.MethodAdd))
}

func (srv *Server) createContact(s *session, req *gwproto.Request) uint32 {
	a := s.acct
	parent, ok := intField(req.Fields, gwproto.TagSzParentID, 0)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	if parent != 0 && a.folderByID(parent) == nil {
		return s.fail(req, gwproto.CodeObjectNotFound)
	}
	peer := srv.dir.resolve(lookupKey(req.Fields))
	switch {
	case peer == nil:
		return s.fail(req, gwproto.CodeUserNotFound)
	case peer == a:
		return s.fail(req, gwproto.CodeUserNotAllowed)
	case a.findContact(parent, peer.dn) != nil:
		return s.fail(req, gwproto.CodeDuplicateContact)
	case len(a.contacts) >= maxContacts:
		return s.fail(req, gwproto.CodeTooManyContacts)
	}
	name, _ := req.Fields.String(gwproto.TagSzDisplayName)
	if name == "" {
		name = peer.displayName()
	}
	c := a.addContact(parent, truncateUTF8(name, maxNameLen), peer.dn)
	// Variant (b) of spec §4.11: the new object id directly in the list
	// lets libpurple find the contact it just added.
	return s.listChange(req,
		gwproto.NewString(gwproto.TagSzObjectID, itoa(c.id)),
		gwproto.NewArray(gwproto.TagFaContact, c.fields(srv.dir, true)...).WithMethod(gwproto.MethodAdd))
}

func (srv *Server) deleteContact(s *session, req *gwproto.Request) uint32 {
	a := s.acct
	id, ok := intField(req.Fields, gwproto.TagSzObjectID, -1)
	if !ok || id < 0 {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	if c := a.contactByID(id); c != nil {
		a.removeContact(c)
		return s.listChange(req, gwproto.NewArray(gwproto.TagFaContact, c.fields(srv.dir, false)...).WithMethod(gwproto.MethodDelete))
	}
	if f := a.folderByID(id); f != nil {
		a.removeFolder(f)
		return s.listChange(req, gwproto.NewArray(gwproto.TagFaFolder, f.fields()...).WithMethod(gwproto.MethodDelete))
	}
	return s.fail(req, gwproto.CodeObjectNotFound)
}

func (srv *Server) moveContact(s *session, req *gwproto.Request) uint32 {
	a := s.acct
	list, ok := req.Fields.List(gwproto.TagFaContactList)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	item, ok := list.List(gwproto.TagFaContact)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	id, ok := intField(item, gwproto.TagSzObjectID, -1)
	dest, ok2 := intField(req.Fields, gwproto.TagSzParentID, -1)
	if !ok || !ok2 || id < 0 || dest < 0 {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	c := a.contactByID(id)
	if c == nil || (dest != 0 && a.folderByID(dest) == nil) {
		return s.fail(req, gwproto.CodeObjectNotFound)
	}
	if other := a.findContact(dest, c.dn); other != nil && other != c {
		return s.fail(req, gwproto.CodeDuplicateContact)
	}
	a.removeContact(c)
	moved := a.addContact(dest, c.name, c.dn)
	// the old entry must come before the new one (spec §4.13)
	return s.listChange(req,
		gwproto.NewArray(gwproto.TagFaContact, c.fields(srv.dir, false)...).WithMethod(gwproto.MethodDelete),
		gwproto.NewArray(gwproto.TagFaContact, moved.fields(srv.dir, true)...).WithMethod(gwproto.MethodAdd))
}

// updateItem renames contacts and folders: the "add" entries of the
// request's contact list carry the new names.
func (srv *Server) updateItem(s *session, req *gwproto.Request) uint32 {
	a := s.acct
	list, ok := req.Fields.List(gwproto.TagFaContactList)
	if !ok {
		return s.fail(req, gwproto.CodeServerProtocol)
	}
	for _, item := range list {
		if item.Method != gwproto.MethodAdd || !item.Type.IsList() {
			continue
		}
		id, ok := intField(item.Children, gwproto.TagSzObjectID, -1)
		name, _ := item.Children.String(gwproto.TagSzDisplayName)
		if !ok || name == "" {
			return s.fail(req, gwproto.CodeServerProtocol)
		}
		name = truncateUTF8(name, maxNameLen)
		switch {
		case strings.EqualFold(item.Tag, gwproto.TagFaContact) && a.contactByID(id) != nil:
			a.contactByID(id).name = name
		case strings.EqualFold(item.Tag, gwproto.TagFaFolder) && a.folderByID(id) != nil:
			a.folderByID(id).name = name
		default:
			return s.fail(req, gwproto.CodeObjectNotFound)
		}
	}
	return s.respond(req, 0, nil)
}
