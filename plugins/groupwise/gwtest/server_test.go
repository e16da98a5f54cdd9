package gwtest_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

func TestLoginResponseShape(t *testing.T) {
	srv := gwtest.NewServer(t)
	c := dial(t, srv, "alice")
	r := c.login("ALICE", "secret") // ids match case-insensitively
	if err := r.Err(); err != nil {
		t.Fatalf("login: %v", err)
	}
	if first := r.Fields[0]; first.Tag != gwproto.TagSzResultCode || first.Type != gwproto.TypeUTF8 {
		t.Errorf("first field is %s (%s); libpurple needs the result code (not an array) first", first.Tag, first.Type)
	}
	for tag, want := range map[string]string{
		gwproto.TagSzDN:            srv.DN("alice"),
		gwproto.TagSzAuthAttribute: "alice",
		gwproto.AttrFullName:       "Alice Example",
	} {
		if got, _ := r.Fields.String(tag); got != want {
			t.Errorf("%s = %q, want %q", tag, got, want)
		}
	}
	list, ok := r.Fields.List(gwproto.TagFaContactList)
	if !ok {
		t.Fatal("no NM_A_FA_CONTACT_LIST")
	}
	got := map[string]string{}
	for _, ct := range list.FindAll(gwproto.TagFaContact) {
		dn, _ := ct.Children.String(gwproto.TagSzDN)
		details, ok := ct.Children.List(gwproto.TagFaUserDetails)
		if !ok {
			t.Fatalf("contact %s without NM_A_FA_USER_DETAILS: libpurple would not show it", dn)
		}
		id, _ := details.String(gwproto.TagSzAuthAttribute)
		status, _ := details.String(gwproto.TagSzStatus)
		if ddn, _ := details.String(gwproto.TagSzDN); !strings.EqualFold(ddn, dn) {
			t.Errorf("details DN %q differs from contact DN %q", ddn, dn)
		}
		got[id] = status
	}
	if diff := cmp.Diff(map[string]string{"bob": "1", "carol": "1"}, got); diff != "" {
		t.Errorf("contacts and status (-want +got):\n%s", diff)
	}
	if !srv.Online("alice") || srv.Online("bob") {
		t.Errorf("Online: alice=%v bob=%v, want true false", srv.Online("alice"), srv.Online("bob"))
	}
}

func TestLoginFailures(t *testing.T) {
	srv := gwtest.NewServer(t)
	tests := []struct {
		name, user, password string
		want                 uint32
	}{
		{"wrong password", "alice", "wrong-password", gwproto.CodePasswordInvalid},
		{"password is case-sensitive", "alice", "SECRET", gwproto.CodePasswordInvalid},
		{"unknown user", "mallory", "secret", gwproto.CodeAuthenticationFailed},
		{"no password", "alice", "", gwproto.CodeCredentialsMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, srv, tt.name)
			r := c.login(tt.user, tt.password)
			var re *gwproto.ResultError
			if !errors.As(r.Err(), &re) || re.Code != tt.want || !re.IsWrongPassword() {
				t.Fatalf("login error = %v, want code %d treated as a credentials failure", r.Err(), tt.want)
			}
			// still not logged in: other requests are refused
			if got := code(t, c.do(gwproto.CmdPing)); got != gwproto.CodeCredentialsMissing {
				t.Errorf("ping before login: code %d, want %d", got, gwproto.CodeCredentialsMissing)
			}
		})
	}
	if srv.Online("alice") {
		t.Error("alice is online after failed logins")
	}
}

func TestPresence(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")

	bob := dial(t, srv, "bob")
	r := bob.login("bob", "secret")
	// bob sees alice online in his contact list at login
	list, _ := r.Fields.List(gwproto.TagFaContactList)
	ct := list.Find(gwproto.TagFaContact)
	if ct == nil {
		t.Fatal("bob has no contact")
	}
	details, _ := ct.Children.List(gwproto.TagFaUserDetails)
	if st, _ := details.String(gwproto.TagSzStatus); st != "2" {
		t.Errorf("alice's status in bob's contact list = %q, want \"2\"", st)
	}
	// alice sees bob come online
	ev := alice.event(gwproto.EventStatusChange)
	if ev.Source != srv.DN("bob") || ev.Status != gwproto.StatusAvailable {
		t.Errorf("presence event = %+v, want bob available", ev)
	}

	bob.mustOK(gwproto.CmdSetStatus,
		gwproto.NewString(gwproto.TagSzStatus, gwproto.StatusAway.Text()),
		gwproto.NewString(gwproto.TagSzStatusText, "gone fishing"))
	ev = alice.event(gwproto.EventStatusChange)
	if ev.Status != gwproto.StatusAway || ev.Text != "gone fishing" {
		t.Errorf("away event = %+v", ev)
	}
	// carol has nobody in her list and sees nothing of bob
	carol := loggedIn(t, srv, "carol")
	carol.noEvent()

	bob.conn.Close()
	alice.presence(srv.DN("bob"), gwproto.StatusOffline)
	if srv.Online("bob") {
		t.Error("bob still online after closing the connection")
	}
}

func TestMessageRelay(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	bob := loggedIn(t, srv, "bob")

	r := alice.mustOK(gwproto.CmdCreateConf,
		gwproto.NewArray(gwproto.TagFaConversation, gwproto.NewString(gwproto.TagSzObjectID, gwproto.BlankGUID)),
		gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")),
		gwproto.NewDN(gwproto.TagSzDN, srv.DN("alice")))
	if r.Fields[0].Tag != gwproto.TagFaConversation || !r.Fields[0].Type.IsList() {
		t.Fatalf("first field of createconf response is %s; libpurple reads the GUID from the first field", r.Fields[0].Tag)
	}
	guid, _ := r.Fields[0].Children.String(gwproto.TagSzObjectID)
	if len(guid) != len(gwproto.BlankGUID) || guid == gwproto.BlankGUID {
		t.Fatalf("GUID %q", guid)
	}

	body := gwproto.RTFWrap("hello bob ünïcödé ✓")
	alice.mustOK(gwproto.CmdSendMessage, conv(guid),
		gwproto.NewArray(gwproto.TagFaMessage,
			gwproto.NewString(gwproto.TagSzMessageBody, body),
			gwproto.NewNumber(gwproto.TagUdMessageType, gwproto.TypeUDWord, 0),
			gwproto.NewString(gwproto.TagSzMessageText, "hello bob ünïcödé ✓")),
		gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")))
	ev := bob.event(gwproto.EventReceiveMessage)
	if ev.Source != srv.DN("alice") || ev.GUID != guid || ev.Text != body {
		t.Errorf("bob got %+v, want alice's message unchanged on %s", ev, guid)
	}

	// bob replies on the GUID he learned; a plain-text-only message is
	// wrapped in RTF by the server
	bob.mustOK(gwproto.CmdSendMessage, conv(guid),
		gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageText, "hi alice")),
		gwproto.NewDN(gwproto.TagSzDN, srv.DN("alice")))
	ev = alice.event(gwproto.EventReceiveMessage)
	if text, err := gwproto.RTFStrip(ev.Text); err != nil || text != "hi alice" || ev.Source != srv.DN("bob") {
		t.Errorf("alice got %+v (%q, %v)", ev, text, err)
	}

	// typing
	for _, typ := range []gwproto.EventType{gwproto.EventUserTyping, gwproto.EventUserNotTyping} {
		alice.mustOK(gwproto.CmdSendTyping, gwproto.NewArray(gwproto.TagFaConversation,
			gwproto.NewString(gwproto.TagSzObjectID, guid), gwproto.NewString(gwproto.TagSzType, strconv.Itoa(int(typ)))))
		if ev := bob.event(typ); ev.Source != srv.DN("alice") || ev.GUID != guid {
			t.Errorf("typing event %+v", ev)
		}
	}

	// auto-reply while away
	bob.mustOK(gwproto.CmdSetStatus,
		gwproto.NewString(gwproto.TagSzStatus, gwproto.StatusBusy.Text()),
		gwproto.NewString(gwproto.TagSzStatusText, "busy"),
		gwproto.NewString(gwproto.TagSzMessageBody, "in a meeting"))
	alice.mustOK(gwproto.CmdSendMessage, conv(guid),
		gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageBody, body)))
	if ev := alice.event(gwproto.EventReceiveAutoReply); ev.Text != "in a meeting" || ev.Source != srv.DN("bob") {
		t.Errorf("auto-reply %+v", ev)
	}

	// offline recipient: the sender gets 102
	bob.conn.Close()
	alice.event(gwproto.EventStatusChange)
	alice.mustOK(gwproto.CmdSendMessage, conv(guid),
		gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageBody, body)),
		gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")))
	if ev := alice.event(gwproto.EventUndeliverableStatus); ev.Source != srv.DN("bob") || ev.GUID != guid {
		t.Errorf("undeliverable %+v", ev)
	}

	// a conference the user is not in
	if got := code(t, alice.do(gwproto.CmdSendMessage, conv("[DEADBEEF-00000000-00000000-0000-0000]"),
		gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageBody, body)))); got != gwproto.CodeConferenceNotFound2 {
		t.Errorf("unknown conference: code %d", got)
	}
}

func conv(guid string) gwproto.Field {
	return gwproto.NewArray(gwproto.TagFaConversation, gwproto.NewString(gwproto.TagSzObjectID, guid))
}

func TestGUIDsDifferInCompared27Chars(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		r := alice.mustOK(gwproto.CmdCreateConf, conv(gwproto.BlankGUID), gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")))
		guid, _ := r.Fields[0].Children.String(gwproto.TagSzObjectID)
		key := guid[:gwproto.GUIDCompareLen]
		if seen[key] {
			t.Fatalf("GUID %s repeats its first 27 characters", guid)
		}
		seen[key] = true
	}
}

func TestConferenceInviteJoinLeave(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	bob := loggedIn(t, srv, "bob")
	carol := loggedIn(t, srv, "carol")
	r := alice.mustOK(gwproto.CmdCreateConf, conv(gwproto.BlankGUID), gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")))
	guid, _ := r.Fields[0].Children.String(gwproto.TagSzObjectID)

	alice.mustOK(gwproto.CmdSendInvite, conv(guid), gwproto.NewDN(gwproto.TagSzDN, srv.DN("carol")),
		gwproto.NewString(gwproto.TagSzMessageBody, "join us"))
	if ev := carol.event(gwproto.EventConferenceInvite); ev.Source != srv.DN("alice") || ev.GUID != guid || ev.Text != "join us" {
		t.Errorf("invitation %+v", ev)
	}
	for _, c := range []*rawClient{alice, bob} {
		if ev := c.event(gwproto.EventConferenceInviteNotify); ev.Source != srv.DN("carol") {
			t.Errorf("%s: invite notice %+v, want source carol", c.name, ev)
		}
	}
	if got := code(t, alice.do(gwproto.CmdSendInvite, conv(guid), gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")))); got != gwproto.CodeDuplicateParticipant {
		t.Errorf("inviting a participant: code %d", got)
	}

	r = carol.mustOK(gwproto.CmdJoinConf, conv(guid))
	list, _ := r.Fields.List(gwproto.TagFaContactList)
	var dns []string
	for _, f := range list.FindAll(gwproto.TagSzDN) {
		dns = append(dns, f.Value)
	}
	if diff := cmp.Diff([]string{srv.DN("alice"), srv.DN("bob"), srv.DN("carol")}, dns); diff != "" {
		t.Errorf("joinconf participants (-want +got):\n%s", diff)
	}
	for _, c := range []*rawClient{alice, bob} {
		if ev := c.event(gwproto.EventConferenceJoined); ev.Source != srv.DN("carol") || ev.GUID != guid {
			t.Errorf("%s: joined %+v", c.name, ev)
		}
	}
	// carol's messages now reach both
	carol.mustOK(gwproto.CmdSendMessage, conv(guid),
		gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageText, "hi all")))
	alice.event(gwproto.EventReceiveMessage)
	bob.event(gwproto.EventReceiveMessage)

	carol.mustOK(gwproto.CmdLeaveConf, conv(guid))
	for _, c := range []*rawClient{alice, bob} {
		if ev := c.event(gwproto.EventConferenceLeft); ev.Source != srv.DN("carol") {
			t.Errorf("%s: left %+v", c.name, ev)
		}
	}
	// invited again, carol declines
	alice.mustOK(gwproto.CmdSendInvite, conv(guid), gwproto.NewDN(gwproto.TagSzDN, srv.DN("carol")))
	carol.event(gwproto.EventConferenceInvite)
	carol.mustOK(gwproto.CmdRejectConf, conv(guid))
	if ev := alice.event(gwproto.EventConferenceReject); ev.Source != srv.DN("carol") {
		t.Errorf("reject %+v", ev)
	}
	// not invited any more
	if got := code(t, carol.do(gwproto.CmdJoinConf, conv(guid))); got != gwproto.CodeConferenceNotFound2 {
		t.Errorf("join after reject: code %d", got)
	}
}

func TestContactListChanges(t *testing.T) {
	srv := gwtest.NewServer(t)
	carol := loggedIn(t, srv, "carol")

	// createfolder: NM_A_FA_CONTACT_LIST first, the folder with method add
	r := carol.mustOK(gwproto.CmdCreateFolder,
		gwproto.NewString(gwproto.TagSzParentID, "0"),
		gwproto.NewString(gwproto.TagSzDisplayName, "Friends"),
		gwproto.NewString(gwproto.TagSzSequenceNumber, "-1"))
	folder := firstListItem(t, r, gwproto.TagFaFolder, gwproto.MethodAdd)
	folderID, _ := folder.String(gwproto.TagSzObjectID)
	if got := code(t, carol.do(gwproto.CmdCreateFolder, gwproto.NewString(gwproto.TagSzParentID, "0"),
		gwproto.NewString(gwproto.TagSzDisplayName, "friends"))); got != gwproto.CodeDuplicateFolder {
		t.Errorf("duplicate folder: code %d", got)
	}

	// createcontact by login id: variant (b), object id directly in the list
	r = carol.mustOK(gwproto.CmdCreateContact,
		gwproto.NewString(gwproto.TagSzParentID, folderID),
		gwproto.NewString(gwproto.TagSzUserID, "bob"))
	ct := firstListItem(t, r, gwproto.TagFaContact, gwproto.MethodAdd)
	if dn, _ := ct.String(gwproto.TagSzDN); dn != srv.DN("bob") {
		t.Errorf("new contact DN %q", dn)
	}
	contactID, _ := ct.String(gwproto.TagSzObjectID)
	if id, _ := r.Fields[0].Children.String(gwproto.TagSzObjectID); id != contactID {
		t.Errorf("object id in the list = %q, want the new contact's %q", id, contactID)
	}
	for _, tt := range []struct {
		name string
		key  string
		want uint32
	}{
		{"twice in the same folder", srv.DN("bob"), gwproto.CodeDuplicateContact},
		{"self", "carol", gwproto.CodeUserNotAllowed},
		{"unknown", "mallory", gwproto.CodeUserNotFound},
	} {
		if got := code(t, carol.do(gwproto.CmdCreateContact, gwproto.NewString(gwproto.TagSzParentID, folderID),
			gwproto.NewString(gwproto.TagSzUserID, tt.key))); got != tt.want {
			t.Errorf("createcontact %s: code %d, want %d", tt.name, got, tt.want)
		}
	}

	// carol now watches bob
	bob := loggedIn(t, srv, "bob")
	if ev := carol.event(gwproto.EventStatusChange); ev.Source != srv.DN("bob") {
		t.Errorf("presence after adding a contact: %+v", ev)
	}

	// rename with updateitem
	carol.mustOK(gwproto.CmdUpdateItem, gwproto.NewArray(gwproto.TagFaContactList,
		gwproto.NewArray(gwproto.TagFaContact, gwproto.NewString(gwproto.TagSzObjectID, contactID)).WithMethod(gwproto.MethodDelete),
		gwproto.NewArray(gwproto.TagFaContact, gwproto.NewString(gwproto.TagSzObjectID, contactID),
			gwproto.NewString(gwproto.TagSzDisplayName, "Bobby")).WithMethod(gwproto.MethodAdd)))

	// move to the root folder: the old entry (delete) before the new (add)
	r = carol.mustOK(gwproto.CmdMoveContact,
		gwproto.NewArray(gwproto.TagFaContactList,
			gwproto.NewArray(gwproto.TagFaContact, gwproto.NewString(gwproto.TagSzObjectID, contactID)).WithMethod(gwproto.MethodDelete)),
		gwproto.NewString(gwproto.TagSzSequenceNumber, "-1"),
		gwproto.NewString(gwproto.TagSzParentID, "0"))
	items := r.Fields[0].Children
	if len(items) != 2 || items[0].Method != gwproto.MethodDelete || items[1].Method != gwproto.MethodAdd {
		t.Fatalf("movecontact list = %+v", items)
	}
	moved := items[1].Children
	if p, _ := moved.String(gwproto.TagSzParentID); p != "0" {
		t.Errorf("moved contact parent %q", p)
	}
	if n, _ := moved.String(gwproto.TagSzDisplayName); n != "Bobby" {
		t.Errorf("moved contact name %q, want the renamed \"Bobby\"", n)
	}
	movedID, _ := moved.String(gwproto.TagSzObjectID)

	// the list survives a new login
	carol2 := dial(t, srv, "carol again")
	r = carol2.login("carol", "secret")
	list, _ := r.Fields.List(gwproto.TagFaContactList)
	if len(list.FindAll(gwproto.TagFaFolder)) != 1 || len(list.FindAll(gwproto.TagFaContact)) != 1 {
		t.Errorf("contact list at next login: %+v", list)
	}

	// delete the contact, then the folder
	r = carol2.mustOK(gwproto.CmdDeleteContact, gwproto.NewString(gwproto.TagSzParentID, "0"), gwproto.NewString(gwproto.TagSzObjectID, movedID))
	firstListItem(t, r, gwproto.TagFaContact, gwproto.MethodDelete)
	r = carol2.mustOK(gwproto.CmdDeleteContact, gwproto.NewString(gwproto.TagSzObjectID, folderID))
	firstListItem(t, r, gwproto.TagFaFolder, gwproto.MethodDelete)
	if got := code(t, carol2.do(gwproto.CmdDeleteContact, gwproto.NewString(gwproto.TagSzObjectID, folderID))); got != gwproto.CodeObjectNotFound {
		t.Errorf("delete twice: code %d", got)
	}
	// no longer a watcher of bob
	bob.mustOK(gwproto.CmdSetStatus, gwproto.NewString(gwproto.TagSzStatus, "4"))
	carol2.noEvent()
}

// firstListItem checks that the response's first field is
// NM_A_FA_CONTACT_LIST and returns its first tag entry with method m.
func firstListItem(t *testing.T, r *gwproto.Response, tag string, m gwproto.Method) gwproto.Fields {
	t.Helper()
	if r.Fields[0].Tag != gwproto.TagFaContactList || !r.Fields[0].Type.IsList() {
		t.Fatalf("first field %s: libpurple reads list changes from the first field only", r.Fields[0].Tag)
	}
	for _, f := range r.Fields[0].Children {
		if f.Tag == tag && f.Method == m {
			return f.Children
		}
	}
	t.Fatalf("no %s with method %d in %+v", tag, m, r.Fields[0].Children)
	return nil
}

func TestGetDetailsAndStatus(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	for _, key := range []string{srv.DN("bob"), strings.ToUpper(srv.DN("bob")), "bob.users.parley", "Bob"} {
		r := alice.mustOK(gwproto.CmdGetDetails, gwproto.NewString(gwproto.TagSzUserID, key))
		res, ok := r.Fields.List(gwproto.TagFaResults)
		if !ok {
			t.Fatalf("getdetails %q: no NM_A_FA_RESULTS", key)
		}
		if dn, _ := res.String(gwproto.TagSzDN); dn != srv.DN("bob") {
			t.Errorf("getdetails %q: DN %q", key, dn)
		}
		if id, _ := res.String(gwproto.TagSzAuthAttribute); id != "bob" {
			t.Errorf("getdetails %q: auth attribute %q", key, id)
		}
	}
	r := alice.mustOK(gwproto.CmdGetDetails, gwproto.NewString(gwproto.TagSzUserID, "bob"), gwproto.NewDN(gwproto.TagSzDN, "carol"))
	if n := len(r.Fields.FindAll(gwproto.TagFaResults)); n != 2 {
		t.Errorf("two keys: %d results", n)
	}
	if got := code(t, alice.do(gwproto.CmdGetDetails, gwproto.NewString(gwproto.TagSzUserID, "mallory"))); got != gwproto.CodeUserNotFound {
		t.Errorf("unknown user: code %d", got)
	}
	r = alice.mustOK(gwproto.CmdGetStatus, gwproto.NewString(gwproto.TagSzDN, srv.DN("alice")))
	if st, _ := r.Fields.String(gwproto.TagSzStatus); st != "2" {
		t.Errorf("own status %q", st)
	}
	r = alice.mustOK(gwproto.CmdGetStatus, gwproto.NewString(gwproto.TagSzDN, srv.DN("carol")))
	if st, _ := r.Fields.String(gwproto.TagSzStatus); st != "1" {
		t.Errorf("offline carol's status %q", st)
	}
}

func TestUnsupportedAndPing(t *testing.T) {
	var mu sync.Mutex
	var infos []gwtest.RequestInfo
	srv := gwtest.NewServer(t, gwtest.WithRequestHook(func(ri gwtest.RequestInfo) {
		mu.Lock()
		defer mu.Unlock()
		infos = append(infos, ri)
	}))
	alice := loggedIn(t, srv, "alice")
	alice.mustOK(gwproto.CmdPing)
	for _, cmd := range []string{"createsearch", gwproto.CmdCreateBlock} {
		if got := code(t, alice.do(cmd)); got != gwproto.CodeNotSupported {
			t.Errorf("%s: code %d, want NOT_SUPPORTED", cmd, got)
		}
	}
	if got := srv.Requests(); got[gwproto.CmdPing] != 1 || got[gwproto.CmdLogin] != 1 || srv.RequestCount("createsearch") != 1 {
		t.Errorf("Requests() = %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	last := infos[len(infos)-1]
	if last.User != "alice" || last.Command != gwproto.CmdCreateBlock || last.Code != gwproto.CodeNotSupported {
		t.Errorf("last hook call %+v", last)
	}
}

func TestLogoutAnswersThenCloses(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	alice.mustOK(gwproto.CmdLogout)
	if err := alice.waitClosed(); !isEOF(err) {
		t.Errorf("after logout: %v, want the connection closed", err)
	}
}

func TestDoubleLoginDisconnectsFirst(t *testing.T) {
	srv := gwtest.NewServer(t)
	bob := loggedIn(t, srv, "bob")
	first := loggedIn(t, srv, "alice")
	second := loggedIn(t, srv, "alice")
	if ev := first.event(gwproto.EventUserDisconnect); ev.Source != srv.DN("alice") {
		t.Errorf("114 source %q", ev.Source)
	}
	first.waitClosed()
	second.mustOK(gwproto.CmdPing)
	if !srv.Online("alice") {
		t.Error("alice offline after the replaced session closed")
	}
	// bob never saw alice go offline
	for _, ev := range bob.drain() {
		if ev.Type == gwproto.EventStatusChange && ev.Status != gwproto.StatusAvailable {
			t.Errorf("bob: %+v", ev)
		}
	}
}

func TestKickUser(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	bob := loggedIn(t, srv, "bob")
	if !srv.KickUser("bob") {
		t.Fatal("KickUser(bob) = false")
	}
	bob.waitClosed()
	alice.presence(srv.DN("bob"), gwproto.StatusOffline)
	if srv.KickUser("bob") {
		t.Error("KickUser of an offline user = true")
	}
}

func TestPush(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	if err := srv.Push("alice", gwproto.Event{Type: gwproto.EventServerDisconnect, Source: srv.DN("alice")}); err != nil {
		t.Fatal(err)
	}
	alice.event(gwproto.EventServerDisconnect)
	if err := srv.Push("bob", gwproto.Event{Type: gwproto.EventServerDisconnect}); !errors.Is(err, gwtest.ErrOffline) {
		t.Errorf("push to offline bob: %v", err)
	}
	if err := srv.Push("alice", gwproto.Event{Type: 120}); !errors.Is(err, gwproto.ErrUnknownEvent) {
		t.Errorf("push of event 120: %v", err)
	}
}

func TestStall(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice := loggedIn(t, srv, "alice")
	srv.Stall(true)
	tid := alice.send(gwproto.CmdPing)
	select {
	case r := <-alice.resps:
		t.Fatalf("stalled server answered %s", r.TID())
	case <-time.After(300 * time.Millisecond):
	}
	srv.Stall(false)
	select {
	case r := <-alice.resps:
		if r.TID() != tid {
			t.Errorf("answer for %s, want %s", r.TID(), tid)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no answer after Stall(false)")
	}
}

// TestOneMessagePerRecord checks G2 of the interop contract: every
// response and event is written with its own Write call and so travels in
// its own TLS record. With TLS 1.2 and no session tickets each record
// written after the handshake is an application_data record.
func TestOneMessagePerRecord(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingListener{Listener: ln}
	srv := gwtest.NewServer(t, gwtest.WithListener(rec))
	tls12 := &tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}
	alice := dialConfig(t, srv, "alice", tls12)
	if err := alice.login("alice", "secret").Err(); err != nil {
		t.Fatal(err)
	}
	// bob's login and status changes produce 103 events for alice back to
	// back with the responses to bob
	bob := loggedIn(t, srv, "bob")
	bob.mustOK(gwproto.CmdSetStatus, gwproto.NewString(gwproto.TagSzStatus, "4"))
	alice.presence(srv.DN("bob"), gwproto.StatusAway)
	alice.mustOK(gwproto.CmdPing)
	messages := int(alice.got.Load())

	writes := rec.conns[0].appWrites()
	if len(writes) != messages || messages < 5 {
		t.Fatalf("%d application-data writes to alice for %d messages, want one write per message", len(writes), messages)
	}
	for i, w := range writes {
		if n := 5 + (int(w[3])<<8 | int(w[4])); n != len(w) {
			t.Errorf("write %d holds %d bytes but its first record is %d: more than one record", i, len(w), n)
		}
	}
}

type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*recordingConn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &recordingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, append([]byte(nil), b...))
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// appWrites returns the writes that start with a TLS application_data
// record.
func (c *recordingConn) appWrites() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]byte
	for _, w := range c.writes {
		if len(w) >= 5 && w[0] == 23 {
			out = append(out, w)
		}
	}
	return out
}

func TestHostileClients(t *testing.T) {
	srv := gwtest.NewServer(t, gwtest.WithLimits(gwproto.Limits{MaxValueLen: 1024, MaxMessageBytes: 64 << 10}))
	tests := []struct {
		name string
		send string
	}{
		{"not a request", "GET / HTTP/1.1\r\n\r\n"},
		{"oversized value", "POST /ping HTTP/1.0\r\n\r\n&tag=A&cmd=0&val=" + strings.Repeat("x", 5000) + "&type=10\r\n"},
		{"huge array count", "POST /ping HTTP/1.0\r\n\r\n&tag=A&cmd=0&val=4294967295&type=9\r\n"},
		{"endless header", "POST /ping HTTP/1.0\r\n" + strings.Repeat("X-A: b\r\n", 2000)},
		{"deep nesting", "POST /ping HTTP/1.0\r\n\r\n" + strings.Repeat("&tag=A&cmd=0&val=1&type=9", 100) + "\r\n"},
		{"endless body", "POST /ping HTTP/1.0\r\n\r\n" + strings.Repeat("&tag=A&cmd=0&val=1&type=10", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, srv, tt.name)
			if _, err := c.conn.Write([]byte(tt.send)); err != nil && !isEOF(err) {
				t.Fatal(err)
			}
			if err := c.waitClosed(); !isEOF(err) {
				t.Errorf("connection ended with %v, want it closed by the server", err)
			}
		})
	}
	// the server still works
	loggedIn(t, srv, "alice").mustOK(gwproto.CmdPing)
}

func TestLoadUsersFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// exactly the file the interop runner writes (CONTRACT.md §2)
	contract := write("users.json", `{
  "users": [
    {"id": "alice", "password": "secret", "full_name": "Alice Example", "contacts": ["bob", "carol"]},
    {"id": "bob",   "password": "secret", "full_name": "Bob Example",   "contacts": ["alice"]},
    {"id": "carol", "password": "secret", "full_name": "Carol Example", "contacts": []}
  ],
  "max_file_bytes": 1048576
}`)
	users, err := gwtest.LoadUsersFile(contract)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(gwtest.DemoUsers(), users); diff != "" {
		t.Errorf("users (-demo +file):\n%s", diff)
	}
	for name, content := range map[string]string{
		"not json":    `{"users": [`,
		"empty id":    `{"users": [{"id": "", "password": "x"}]}`,
		"comma in id": `{"users": [{"id": "a,b", "password": "x"}]}`,
		"duplicate":   `{"users": [{"id": "a"}, {"id": "A"}]}`,
	} {
		if _, err := gwtest.LoadUsersFile(write(name, content)); !errors.Is(err, gwtest.ErrBadUsers) {
			t.Errorf("%s: err = %v, want ErrBadUsers", name, err)
		}
	}
	if _, err := gwtest.LoadUsersFile(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := gwtest.Start(gwtest.WithUsers([]gwtest.User{{ID: "x=y"}})); !errors.Is(err, gwtest.ErrBadUsers) {
		t.Errorf("Start with a bad id: %v", err)
	}
}

func TestUnknownContactsIgnoredAndFolders(t *testing.T) {
	srv := gwtest.NewServer(t, gwtest.WithUsers([]gwtest.User{
		{ID: "dave", Password: "secret", DN: "cn=dave,o=acme", Contacts: []string{"nobody", "erin"},
			Folders: []gwtest.Folder{{Name: "Work", Contacts: []string{"erin"}}}},
		{ID: "erin", Password: "secret"},
	}))
	dave := dial(t, srv, "dave")
	r := dave.login("cn=dave,o=acme", "secret") // a DN works as the login name
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	list, _ := r.Fields.List(gwproto.TagFaContactList)
	folders := list.FindAll(gwproto.TagFaFolder)
	contacts := list.FindAll(gwproto.TagFaContact)
	if len(folders) != 1 || len(contacts) != 2 {
		t.Fatalf("folders %d contacts %d, want 1 and 2 (erin in root and in Work)", len(folders), len(contacts))
	}
	if list[0].Tag != gwproto.TagFaFolder {
		t.Errorf("folders must come before contacts, first is %s", list[0].Tag)
	}
	// erin has no contacts: no (empty) contact list at all
	erin := dial(t, srv, "erin")
	r = erin.login("erin", "secret")
	if _, ok := r.Fields.List(gwproto.TagFaContactList); ok {
		t.Error("empty contact list sent")
	}
}

func TestEchoUser(t *testing.T) {
	users := gwtest.DemoUsers()
	users[1].Echo = true // bob
	srv := gwtest.NewServer(t, gwtest.WithUsers(users))
	alice := dial(t, srv, "alice")
	r := alice.login("alice", "secret")
	list, _ := r.Fields.List(gwproto.TagFaContactList)
	details, _ := list.Find(gwproto.TagFaContact).Children.List(gwproto.TagFaUserDetails)
	if st, _ := details.String(gwproto.TagSzStatus); st != "2" || srv.Online("bob") {
		t.Errorf("echo user bob: status %q, logged in %v; want available without a session", st, srv.Online("bob"))
	}
	r = alice.mustOK(gwproto.CmdCreateConf, conv(gwproto.BlankGUID), gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")))
	guid, _ := r.Fields[0].Children.String(gwproto.TagSzObjectID)
	body := gwproto.RTFWrap("ping?")
	alice.mustOK(gwproto.CmdSendMessage, conv(guid),
		gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageBody, body)))
	if ev := alice.event(gwproto.EventReceiveMessage); ev.Source != srv.DN("bob") || ev.GUID != guid || ev.Text != body {
		t.Errorf("echo %+v", ev)
	}
	// a real login as bob ends the echo while it lasts
	bob := loggedIn(t, srv, "bob")
	alice.mustOK(gwproto.CmdSendMessage, conv(guid),
		gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageBody, body)),
		gwproto.NewDN(gwproto.TagSzDN, srv.DN("bob")))
	bob.event(gwproto.EventReceiveMessage)
	for _, ev := range alice.drain() {
		if ev.Type == gwproto.EventReceiveMessage {
			t.Errorf("echo while bob is logged in: %+v", ev)
		}
	}
}
