package sttest

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

func TestLoginSchemes(t *testing.T) {
	for name, opts := range map[string][]Option{
		"RC2/128": nil,
		"RC2/40":  {WithRC2_40Login()},
	} {
		t.Run(name, func(t *testing.T) {
			srv := NewServer(t, opts...)
			c := dial(t, srv)
			ack := c.handshake()
			if ack.Major != 0x1e || ack.Minor != 0x1d || ack.SrvrCalcAddr != 0x7f000001 {
				t.Fatalf("HANDSHAKE_ACK %+v", ack)
			}
			wantKey := name == "RC2/128"
			if ack.UsesRC2_128() != wantKey || (wantKey && len(ack.PubKey) != stproto.DHPublicSize) {
				t.Fatalf("ack key of %d bytes", len(ack.PubKey))
			}
			c.sendLogin(ack, "ALICE", "secret")
			la := c.expect("LOGIN_ACK", isType(stproto.TypeLoginAck)).Body.(*stproto.LoginAck)
			if la.Login.UserID != "alice" || la.Login.UserName != "Alice Example" || len(la.Login.LoginID) < 5 || la.Login.Community != "" {
				t.Fatalf("LoginInfo %+v", la.Login)
			}
			if !srv.Online("alice") || srv.Stats().Logins != 1 {
				t.Fatalf("online=%v stats=%+v", srv.Online("alice"), srv.Stats())
			}
		})
	}
}

func TestLoginIDsAreUnique(t *testing.T) {
	srv := NewServer(t)
	a := loginAs(t, srv, "alice", "secret")
	b := loginAs(t, srv, "alice", "secret")
	if a.login.LoginID == b.login.LoginID {
		t.Fatalf("two logins share login id %q", a.login.LoginID)
	}
}

func TestLoginRefused(t *testing.T) {
	srv := NewServer(t)
	for _, c := range []struct{ user, password string }{
		{"alice", "wrong-password"},
		{"alice", "SECRET"},
		{"mallory", "secret"},
	} {
		t.Run(c.user+"/"+c.password, func(t *testing.T) {
			cl := dial(t, srv)
			cl.sendLogin(cl.handshake(), c.user, c.password)
			m := cl.expect("refusal", isType(stproto.TypeChannelDestroy))
			if d := m.Body.(*stproto.ChannelDestroy); m.Channel != 0 || d.Reason != stproto.ReasonIncorrectLogin {
				t.Fatalf("got destroy ch %d reason %v", m.Channel, d.Reason)
			}
			// meanwhile echoes the destroy; the server then closes.
			cl.send(&stproto.Message{Body: &stproto.ChannelDestroy{Reason: stproto.ReasonIncorrectLogin}})
			if _, err := cl.read(waitTimeout); err == nil {
				t.Fatal("connection still open after the echo")
			}
		})
	}
	if st := srv.Stats(); st.LoginFailures != 3 || st.Logins != 0 || srv.Online("alice") {
		t.Fatalf("stats %+v", st)
	}
}

func TestRedirectAndForcedLogin(t *testing.T) {
	srv := NewServer(t, WithRedirect("127.0.0.1", "other"))
	c := dial(t, srv)
	c.sendLogin(c.handshake(), "bob", "secret")
	r := c.expect("LOGIN_REDIRECT", isType(stproto.TypeLoginRedirect)).Body.(*stproto.LoginRedirect)
	if r.Host != "127.0.0.1" || r.ServerID != "other" || srv.Online("bob") {
		t.Fatalf("redirect %+v, online %v", r, srv.Online("bob"))
	}
	c.send(&stproto.Message{Body: &stproto.LoginContinue{}})
	first, err := c.read(waitTimeout)
	if err != nil || first.Type() != stproto.TypeHandshakeAck {
		t.Fatalf("first answer to LOGIN_CONTINUE: %v, %v; want HANDSHAKE_ACK", first, err)
	}
	second, err := c.read(waitTimeout)
	if err != nil || second.Type() != stproto.TypeLoginAck {
		t.Fatalf("second answer to LOGIN_CONTINUE: %v, %v; want LOGIN_ACK", second, err)
	}
	if !srv.Online("bob") || srv.Stats().Redirects != 1 {
		t.Fatalf("online %v stats %+v", srv.Online("bob"), srv.Stats())
	}
}

func TestKeepalivesAndSplitFrames(t *testing.T) {
	srv := NewServer(t)
	c := dial(t, srv)
	hs, _ := (&stproto.Message{Body: stproto.NewHandshake()}).MarshalFrame()
	stream := append([]byte{0x80, 0x80}, hs...)
	stream = append(stream, 0x80)
	for _, b := range stream {
		if _, err := c.conn.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	c.expect("HANDSHAKE_ACK", isType(stproto.TypeHandshakeAck))
	if got := srv.Stats().Keepalives; got < 2 {
		t.Fatalf("keepalives counted: %d", got)
	}
}

func TestServiceChannelsAcceptedWithoutCipher(t *testing.T) {
	srv := NewServer(t)
	c := loginAs(t, srv, "alice", "secret")
	for id, svc := range map[uint32]stproto.ServiceID{1: stproto.ServiceResolve, 2: stproto.ServiceAware, 3: stproto.ServiceStorage} {
		a := c.openService(id, svc)
		p, _ := stproto.ProtocolOf(svc)
		if a.Service != svc || a.ProtoType != p.Type || a.ProtoVer != p.Version || a.Encrypt.Mode != 0 || a.Encrypt.Item != nil {
			t.Fatalf("%s accept %+v", svc, a)
		}
	}
	c.send(&stproto.Message{Body: &stproto.ChannelCreate{ID: 9, Service: stproto.ServicePlace}})
	m := c.expect("destroy", onChannel(9, stproto.TypeChannelDestroy))
	if m.Body.(*stproto.ChannelDestroy).Reason != stproto.ReasonServiceNotSupported {
		t.Fatalf("place channel: %+v", m.Body)
	}
}

func loadBuddyList(t *testing.T, c *rawClient, ch, req uint32) stproto.StorageLoaded {
	t.Helper()
	c.sendData(ch, stproto.StorageMsgLoad, stproto.StorageLoad{RequestID: req, Keys: []uint32{stproto.StorageKeyBuddyList}})
	m := c.expect("LOADED", sendOf(ch, stproto.StorageMsgLoaded))
	l, err := stproto.UnmarshalStorageLoaded(m.Body.(*stproto.ChannelSend).Data)
	if err != nil || l.RequestID != req {
		t.Fatalf("LOADED %+v, %v", l, err)
	}
	return l
}

func TestStorageBuddyList(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	alice.openService(3, stproto.ServiceStorage)
	l := loadBuddyList(t, alice, 3, 1)
	if l.Result != 0 || len(l.Units) != 1 {
		t.Fatalf("alice's list: %+v", l)
	}
	text, err := stproto.UnmarshalStringValue(l.Units[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"U bob1:: Bob;Example,\r\n", "U carol1:: Carol;Example,\r\n"} {
		if !strings.Contains(text, line) {
			t.Fatalf("list %q lacks %q", text, line)
		}
	}

	carol := loginAs(t, srv, "carol", "secret")
	carol.openService(1, stproto.ServiceStorage)
	if l := loadBuddyList(t, carol, 1, 1); l.Result == 0 || len(l.Units) != 0 {
		t.Fatalf("carol has no contacts, want a non-zero result: %+v", l)
	}
	saved, _ := stproto.StringValue("Version=3.1.3\r\nG Buddies2 Buddies O\r\nU alice1:: Alice,\r\n")
	carol.sendData(1, stproto.StorageMsgSave, stproto.StorageSave{RequestID: 2, Units: []stproto.StorageUnit{{Key: 0, Value: saved}}})
	m := carol.expect("SAVED", sendOf(1, stproto.StorageMsgSaved))
	if s, err := stproto.UnmarshalStorageSaved(m.Body.(*stproto.ChannelSend).Data); err != nil || s.RequestID != 2 || s.Result != 0 {
		t.Fatalf("SAVED %+v, %v", s, err)
	}
	carol.logoff()

	again := loginAs(t, srv, "carol", "secret")
	again.openService(1, stproto.ServiceStorage)
	if l := loadBuddyList(t, again, 1, 1); l.Result != 0 || len(l.Units) != 1 || !bytes.Equal(l.Units[0].Value, saved) {
		t.Fatalf("after SAVE, LOAD returned %+v", l)
	}
	if v, ok := srv.Stored("Carol", 0); !ok || !bytes.Equal(v, saved) {
		t.Fatalf("Stored = %x, %v", v, ok)
	}
}

func TestResolve(t *testing.T) {
	srv := NewServer(t)
	c := loginAs(t, srv, "alice", "secret")
	c.openService(1, stproto.ServiceResolve)
	c.sendData(1, stproto.ResolveMsgType, stproto.ResolveRequest{SearchID: 7, Queries: []string{"Bob", "nobody"}, Flags: 0x0a})
	m := c.expect("resolve response", sendOf(1, stproto.ResolveMsgType))
	r, err := stproto.UnmarshalResolveResponse(m.Body.(*stproto.ChannelSend).Data)
	if err != nil || r.SearchID != 7 || len(r.Results) != 2 {
		t.Fatalf("response %+v, %v", r, err)
	}
	if got := r.Results[0]; got.Code != 0 || len(got.Matches) != 1 || got.Matches[0].ID != "bob" || got.Matches[0].Type != stproto.ResolveMatchUser {
		t.Fatalf("Bob: %+v", got)
	}
	if got := r.Results[1]; got.Code == 0 || len(got.Matches) != 0 {
		t.Fatalf("nobody: %+v", got)
	}
}

func snapshotFor(t *testing.T, m *stproto.Message) stproto.AwareSnapshot {
	t.Helper()
	s, err := stproto.UnmarshalAwareUpdate(m.Body.(*stproto.ChannelSend).Data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPresenceAndAttributes(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	alice.openService(2, stproto.ServiceAware)
	bobID := stproto.AwareIDBlock{Type: stproto.AwareUser, User: "bob"}
	alice.sendData(2, stproto.AwareMsgAdd, stproto.AwareIDList{IDs: []stproto.AwareIDBlock{bobID}})
	m := alice.expect("SNAPSHOT", sendOf(2, stproto.AwareMsgSnapshot))
	snaps, err := stproto.UnmarshalAwareSnapshots(m.Body.(*stproto.ChannelSend).Data)
	if err != nil || len(snaps.Snapshots) != 1 || snaps.Snapshots[0].Online || snaps.Snapshots[0].ID != bobID {
		t.Fatalf("snapshot of offline bob: %+v, %v", snaps, err)
	}

	bob := loginAs(t, srv, "bob", "secret")
	up := snapshotFor(t, alice.expect("bob online", sendOf(2, stproto.AwareMsgUpdate)))
	if !up.Online || up.ID.User != "bob" || up.Status.Status != stproto.StatusActive || up.Name != "Bob Example" {
		t.Fatalf("update %+v", up)
	}

	bob.openService(5, stproto.ServiceAware)
	bob.sendData(5, stproto.AwareMsgOptDoSet, stproto.AttrDoSet{Key: stproto.AttrFileTransfer, Value: stproto.AttrTrue})
	m = alice.expect("GOT_SET", sendOf(2, stproto.AwareMsgOptGotSet))
	gs, err := stproto.UnmarshalAttrGotSet(m.Body.(*stproto.ChannelSend).Data)
	if err != nil || gs.Who.User != "bob" || gs.Key != stproto.AttrFileTransfer || !stproto.AttrBool(gs.Value) {
		t.Fatalf("GOT_SET %+v, %v", gs, err)
	}

	bob.send(&stproto.Message{Body: &stproto.SetUserStatus{Status: stproto.UserStatus{Status: stproto.StatusAway, Desc: "lunch"}}})
	up = snapshotFor(t, alice.expect("bob away", sendOf(2, stproto.AwareMsgUpdate)))
	if up.Status.Status != stproto.StatusAway || up.Status.Desc != "lunch" {
		t.Fatalf("away update %+v", up)
	}

	bob.sendData(5, stproto.AwareMsgOptDoUnset, stproto.AttrDoUnset{Key: stproto.AttrFileTransfer})
	m = alice.expect("GOT_UNSET", sendOf(2, stproto.AwareMsgOptGotUnset))
	if gu, err := stproto.UnmarshalAttrGotUnset(m.Body.(*stproto.ChannelSend).Data); err != nil || gu.Key != stproto.AttrFileTransfer {
		t.Fatalf("GOT_UNSET %+v, %v", gu, err)
	}

	// A late subscriber gets the snapshot and the published attributes.
	bob.sendData(5, stproto.AwareMsgOptDoSet, stproto.AttrDoSet{Key: stproto.AttrFileTransfer, Value: stproto.AttrTrue})
	carol := loginAs(t, srv, "carol", "secret")
	carol.openService(1, stproto.ServiceAware)
	carol.sendData(1, stproto.AwareMsgAdd, stproto.AwareIDList{IDs: []stproto.AwareIDBlock{bobID}})
	m = carol.expect("SNAPSHOT", sendOf(1, stproto.AwareMsgSnapshot))
	if snaps, _ := stproto.UnmarshalAwareSnapshots(m.Body.(*stproto.ChannelSend).Data); len(snaps.Snapshots) != 1 || !snaps.Snapshots[0].Online {
		t.Fatalf("carol's snapshot %+v", snaps)
	}
	carol.expect("GOT_SET for the late subscriber", sendOf(1, stproto.AwareMsgOptGotSet))

	bob.logoff()
	if up := snapshotFor(t, alice.expect("bob offline", sendOf(2, stproto.AwareMsgUpdate))); up.Online {
		t.Fatalf("logoff update %+v", up)
	}
}

// openIM has from create an IM channel to user `to` (logged in as peer),
// peer accept it, and returns peer's channel id.
func openIM(t *testing.T, from, peer *rawClient, id uint32, offer stproto.EncryptOffer) uint32 {
	t.Helper()
	addtl, _ := stproto.IMCreateAddtl{ClientType: stproto.IMClientNotesBuddy}.Marshal()
	from.send(&stproto.Message{Body: &stproto.ChannelCreate{ID: id, Target: stproto.IDBlock{User: peer.login.UserID},
		Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3, Addtl: addtl, Encrypt: offer}})
	m := peer.expect("relayed IM create", createOf(stproto.ServiceIM))
	c := m.Body.(*stproto.ChannelCreate)
	if !stproto.IsServerChannel(c.ID) || c.Creator == nil || c.Creator.UserID != from.login.UserID || c.Creator.LoginID != from.login.LoginID ||
		c.Creator.Community != "" || c.Target.User != peer.login.UserID || !bytes.Equal(c.Addtl, addtl) {
		t.Fatalf("relayed create %+v creator %+v", c, c.Creator)
	}
	if len(c.Encrypt.Items) != len(offer.Items) || c.Encrypt.Mode != offer.Mode {
		t.Fatalf("encryption offer changed: %+v", c.Encrypt)
	}
	return c.ID
}

func TestIMRelayEndToEndEncrypted(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	bob := loginAs(t, srv, "bob", "secret")
	offer := stproto.OfferAll(alice.dh)
	bobCh := openIM(t, alice, bob, 4, offer)

	answer, err := stproto.AnswerRC2_128(&offer, bob.dh)
	if err != nil {
		t.Fatal(err)
	}
	acceptAddtl, _ := stproto.IMAcceptAddtl{ClientType: stproto.IMClientNotesBuddy, Status: stproto.UserStatus{Status: stproto.StatusActive}}.Marshal()
	bob.send(&stproto.Message{Channel: bobCh, Body: &stproto.ChannelAccept{Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
		Addtl: acceptAddtl, Encrypt: answer}})
	m := alice.expect("relayed accept", onChannel(4, stproto.TypeChannelAccept))
	acc := m.Body.(*stproto.ChannelAccept)
	if acc.Acceptor == nil || acc.Acceptor.UserID != "bob" || !bytes.Equal(acc.Addtl, acceptAddtl) || acc.Encrypt.Mode != stproto.PolicyRC2_128 {
		t.Fatalf("relayed accept %+v", acc)
	}

	aliceCipher, err := stproto.CreatorCipher(&offer, &acc.Encrypt, alice.dh, alice.login.LoginID, acc.Acceptor.LoginID)
	if err != nil {
		t.Fatal(err)
	}
	bobCipher, err := stproto.AcceptorCipher(&offer, &answer, bob.dh, bob.login.LoginID, alice.login.LoginID)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hello bob ünïcödé ✓", "second"} {
		pt, _ := stproto.NewIMText(text).Marshal()
		ct := aliceCipher.Seal(pt)
		alice.send(&stproto.Message{Channel: 4, Options: stproto.OptEncrypt, Body: &stproto.ChannelSend{Type: stproto.IMMessageType, Data: ct}})
		got := bob.expect("relayed text", sendOf(bobCh, stproto.IMMessageType))
		if got.Options&stproto.OptEncrypt == 0 || !bytes.Equal(got.Body.(*stproto.ChannelSend).Data, ct) {
			t.Fatalf("relayed send changed: %+v", got)
		}
		plain, err := bobCipher.Open(got.Body.(*stproto.ChannelSend).Data)
		if err != nil {
			t.Fatal(err)
		}
		if im, _ := stproto.UnmarshalIMMessage(plain); im.Text != text {
			t.Fatalf("bob decrypted %q", im.Text)
		}
	}
	reply, _ := stproto.NewIMText("hi alice").Marshal()
	bob.send(&stproto.Message{Channel: bobCh, Body: &stproto.ChannelSend{Type: stproto.IMMessageType, Data: reply}})
	if got := alice.expect("reply", sendOf(4, stproto.IMMessageType)); !bytes.Equal(got.Body.(*stproto.ChannelSend).Data, reply) {
		t.Fatalf("reply %x", got.Body.(*stproto.ChannelSend).Data)
	}

	bob.send(&stproto.Message{Channel: bobCh, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonSuccess}})
	alice.expect("relayed destroy", onChannel(4, stproto.TypeChannelDestroy))
	if st := srv.Stats(); st.ChannelsRelayed != 1 || st.MessagesRelayed != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestIMToOfflineUserRefused(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	for id, to := range map[uint32]string{4: "bob", 5: "nobody"} {
		alice.send(&stproto.Message{Body: &stproto.ChannelCreate{ID: id, Target: stproto.IDBlock{User: to}, Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3}})
		m := alice.expect("destroy", onChannel(id, stproto.TypeChannelDestroy))
		if r := m.Body.(*stproto.ChannelDestroy).Reason; r != stproto.ReasonUserNotOnline {
			t.Fatalf("%s: reason %v", to, r)
		}
	}
}

func TestRecipientRefusalReachesCreator(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	bob := loginAs(t, srv, "bob", "secret")
	bobCh := openIM(t, alice, bob, 4, stproto.EncryptOffer{})
	bob.send(&stproto.Message{Channel: bobCh, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonIMTypeNotRegistered}})
	m := alice.expect("destroy", onChannel(4, stproto.TypeChannelDestroy))
	if r := m.Body.(*stproto.ChannelDestroy).Reason; r != stproto.ReasonIMTypeNotRegistered {
		t.Fatalf("reason %v", r)
	}
}

func offerFile(t *testing.T, from *rawClient, id uint32, to string, size uint32) {
	t.Helper()
	addtl, _ := stproto.FTOffer{Filename: "f.bin", Size: size}.Marshal()
	from.send(&stproto.Message{Body: &stproto.ChannelCreate{ID: id, Target: stproto.IDBlock{User: to},
		Service: stproto.ServiceFileTransfer, ProtoVer: 1, Addtl: addtl}})
}

func TestFileTransferRelay(t *testing.T) {
	srv := NewServer(t, WithMaxFileBytes(20000))
	alice := loginAs(t, srv, "alice", "secret")
	bob := loginAs(t, srv, "bob", "secret")
	data := bytes.Repeat([]byte("0123456789"), 2000) // exactly the limit
	offerFile(t, alice, 5, "bob", uint32(len(data)))
	m := bob.expect("relayed offer", createOf(stproto.ServiceFileTransfer))
	create := m.Body.(*stproto.ChannelCreate)
	if offer, err := stproto.UnmarshalFTOffer(create.Addtl); err != nil || offer.Size != 20000 || offer.Filename != "f.bin" || create.Creator.UserID != "alice" {
		t.Fatalf("offer %+v, %v", offer, err)
	}
	bob.send(&stproto.Message{Channel: create.ID, Body: &stproto.ChannelAccept{Service: stproto.ServiceFileTransfer, ProtoVer: 1}})
	alice.expect("accept", onChannel(5, stproto.TypeChannelAccept))

	var received []byte
	for off := 0; off < len(data); off += stproto.FTChunkSize {
		chunk := data[off:min(off+stproto.FTChunkSize, len(data))]
		alice.send(&stproto.Message{Channel: 5, Body: &stproto.ChannelSend{Type: stproto.FTMsgData, Data: chunk}})
		got := bob.expect("chunk", sendOf(create.ID, stproto.FTMsgData))
		received = append(received, got.Body.(*stproto.ChannelSend).Data...)
		bob.send(&stproto.Message{Channel: create.ID, Body: &stproto.ChannelSend{Type: stproto.FTMsgAck}})
		alice.expect("ack", sendOf(5, stproto.FTMsgAck))
	}
	alice.send(&stproto.Message{Channel: 5, Body: &stproto.ChannelDestroy{}})
	if d := bob.expect("completion", onChannel(create.ID, stproto.TypeChannelDestroy)); d.Body.(*stproto.ChannelDestroy).Reason != 0 {
		t.Fatalf("completion reason %v", d.Body.(*stproto.ChannelDestroy).Reason)
	}
	if !bytes.Equal(received, data) || srv.Stats().FileBytesRelayed != int64(len(data)) {
		t.Fatalf("received %d bytes, stats %+v", len(received), srv.Stats())
	}
}

func TestFileOfferAboveLimitRefused(t *testing.T) {
	srv := NewServer(t, WithMaxFileBytes(1000), WithFileRefusalReason(stproto.ReasonMessageTooLarge))
	alice := loginAs(t, srv, "alice", "secret")
	bob := loginAs(t, srv, "bob", "secret")
	offerFile(t, alice, 6, "bob", 1001)
	m := alice.expect("refusal", func(m *stproto.Message) bool {
		return m.Channel == 6 && (m.Type() == stproto.TypeChannelDestroy || m.Type() == stproto.TypeChannelAccept)
	})
	if d, ok := m.Body.(*stproto.ChannelDestroy); !ok || d.Reason != stproto.ReasonMessageTooLarge {
		t.Fatalf("answer to an oversized offer: %#v", m.Body)
	}
	// Nothing reached bob: the next channel he sees is the IM opened after.
	openIM(t, alice, bob, 7, stproto.EncryptOffer{})
	for _, p := range bob.pending {
		if c, ok := p.Body.(*stproto.ChannelCreate); ok && c.Service == stproto.ServiceFileTransfer {
			t.Fatalf("bob was offered the refused file")
		}
	}
	if st := srv.Stats(); st.FileOffersRefused != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLogoffClosesRelayedChannels(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	alice.openService(2, stproto.ServiceAware)
	alice.sendData(2, stproto.AwareMsgAdd, stproto.AwareIDList{IDs: []stproto.AwareIDBlock{{Type: stproto.AwareUser, User: "bob"}}})
	alice.expect("SNAPSHOT", sendOf(2, stproto.AwareMsgSnapshot))
	bob := loginAs(t, srv, "bob", "secret")
	alice.expect("bob online", sendOf(2, stproto.AwareMsgUpdate))
	openIM(t, alice, bob, 4, stproto.EncryptOffer{})

	bob.conn.Close() // no logoff message: the socket just closes
	alice.expect("destroy of the relayed channel", onChannel(4, stproto.TypeChannelDestroy))
	if up := snapshotFor(t, alice.expect("bob offline", sendOf(2, stproto.AwareMsgUpdate))); up.Online {
		t.Fatalf("update %+v", up)
	}
	if srv.Online("bob") {
		t.Fatal("bob still online")
	}
}

func TestKickUser(t *testing.T) {
	srv := NewServer(t)
	bob := loginAs(t, srv, "bob", "secret")
	if n := srv.KickUser("BOB"); n != 1 {
		t.Fatalf("KickUser = %d", n)
	}
	m := bob.expect("destroy", isType(stproto.TypeChannelDestroy))
	if m.Channel != 0 || m.Body.(*stproto.ChannelDestroy).Reason != stproto.ReasonUserRemoved {
		t.Fatalf("got %+v", m)
	}
	if _, err := bob.read(waitTimeout); err == nil {
		t.Fatal("connection still open after the kick")
	}
	if srv.Online("bob") {
		t.Fatal("bob still online")
	}
}

func TestStallAndResume(t *testing.T) {
	srv := NewServer(t)
	srv.Stall()
	c := dial(t, srv)
	c.send(&stproto.Message{Body: stproto.NewHandshake()})
	c.expectNone("answer while stalled", 300*time.Millisecond, isType(stproto.TypeHandshakeAck))
	srv.Resume()
	c.expect("HANDSHAKE_ACK after Resume", isType(stproto.TypeHandshakeAck))
}

func TestConference(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	bob := loginAs(t, srv, "bob", "secret")
	addtl, _ := stproto.ConfCreateAddtl{Name: "room", Title: "Planning"}.Marshal()
	p, _ := stproto.ProtocolOf(stproto.ServiceConference)
	alice.send(&stproto.Message{Body: &stproto.ChannelCreate{ID: 8, Service: stproto.ServiceConference, ProtoType: p.Type, ProtoVer: p.Version, Addtl: addtl}})
	alice.expect("accept", onChannel(8, stproto.TypeChannelAccept))
	w, err := stproto.UnmarshalConfWelcome(alice.expect("WELCOME", sendOf(8, stproto.ConfMsgWelcome)).Body.(*stproto.ChannelSend).Data)
	if err != nil || w.Name != "room" || len(w.Members) != 1 || w.Members[0].Login.UserID != "alice" {
		t.Fatalf("creator welcome %+v, %v", w, err)
	}
	aliceMember := w.Members[0].ID

	alice.sendData(8, stproto.ConfMsgInvite, stproto.ConfInvite{Who: stproto.IDBlock{User: "bob"}, Text: "join us"})
	m := bob.expect("invitation", createOf(stproto.ServiceConference))
	inv := m.Body.(*stproto.ChannelCreate)
	ia, err := stproto.UnmarshalConfInvitation(inv.Addtl)
	if err != nil || ia.Name != "room" || ia.Title != "Planning" || ia.Inviter.UserID != "alice" || ia.Text != "join us" || !stproto.IsServerChannel(inv.ID) {
		t.Fatalf("invitation %+v, %v", ia, err)
	}
	bob.send(&stproto.Message{Channel: inv.ID, Body: &stproto.ChannelAccept{Service: stproto.ServiceConference, ProtoType: p.Type, ProtoVer: p.Version}})
	bob.send(&stproto.Message{Channel: inv.ID, Body: &stproto.ChannelSend{Type: stproto.ConfMsgJoin}})
	w, err = stproto.UnmarshalConfWelcome(bob.expect("WELCOME", sendOf(inv.ID, stproto.ConfMsgWelcome)).Body.(*stproto.ChannelSend).Data)
	if err != nil || len(w.Members) != 2 {
		t.Fatalf("invitee welcome %+v, %v", w, err)
	}
	j, err := stproto.UnmarshalConfJoin(alice.expect("JOIN", sendOf(8, stproto.ConfMsgJoin)).Body.(*stproto.ChannelSend).Data)
	if err != nil || j.Login.UserID != "bob" {
		t.Fatalf("join %+v, %v", j, err)
	}

	text, _ := stproto.ConfText{Kind: stproto.IMKindText, Text: "hello room"}.MarshalClient()
	bob.send(&stproto.Message{Channel: inv.ID, Body: &stproto.ChannelSend{Type: stproto.ConfMsgMessage, Data: text}})
	for who, c := range map[string]*rawClient{"alice": alice, "bob": bob} {
		ch := uint32(8)
		if who == "bob" {
			ch = inv.ID
		}
		got, err := stproto.UnmarshalConfTextServer(c.expect("MESSAGE", sendOf(ch, stproto.ConfMsgMessage)).Body.(*stproto.ChannelSend).Data)
		if err != nil || got.Text != "hello room" || got.MemberID != j.ID {
			t.Fatalf("%s got %+v, %v", who, got, err)
		}
	}

	bob.send(&stproto.Message{Channel: inv.ID, Body: &stproto.ChannelDestroy{}})
	part, err := stproto.UnmarshalConfPart(alice.expect("PART", sendOf(8, stproto.ConfMsgPart)).Body.(*stproto.ChannelSend).Data)
	if err != nil || part != j.ID || part == aliceMember {
		t.Fatalf("part %d, %v", part, err)
	}
	if srv.Stats().ConferenceTexts != 1 {
		t.Fatalf("stats %+v", srv.Stats())
	}
}

func TestLoadUsersFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "users.json")
	writeFile(t, good, `{"users": [
		{"id": "alice", "password": "secret", "full_name": "Alice Example", "contacts": ["bob", "carol"]},
		{"id": "bob", "password": "secret", "full_name": "Bob Example", "contacts": ["alice"]}
	], "max_file_bytes": 5000}`)
	acc, err := LoadUsersFile(good)
	if err != nil || len(acc.Users) != 2 || acc.MaxFileBytes != 5000 || acc.Users[0].Contacts[1] != "carol" {
		t.Fatalf("LoadUsersFile = %+v, %v", acc, err)
	}
	noMax := filepath.Join(dir, "nomax.json")
	writeFile(t, noMax, `{"users": [{"id": "alice", "password": "x"}]}`)
	if acc, err := LoadUsersFile(noMax); err != nil || acc.MaxFileBytes != DefaultMaxFileBytes {
		t.Fatalf("without max_file_bytes: %+v, %v", acc, err)
	}
	for name, content := range map[string]string{
		"dup":      `{"users": [{"id": "a"}, {"id": "A"}]}`,
		"empty id": `{"users": [{"id": " "}]}`,
		"negative": `{"users": [], "max_file_bytes": -1}`,
		"syntax":   `{"users": [`,
	} {
		p := filepath.Join(dir, name+".json")
		writeFile(t, p, content)
		if _, err := LoadUsersFile(p); !errors.Is(err, ErrBadUsers) {
			t.Errorf("%s: err = %v, want ErrBadUsers", name, err)
		}
	}
	if _, err := LoadUsersFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestIMToSelf(t *testing.T) {
	srv := NewServer(t)
	alice := loginAs(t, srv, "alice", "secret")
	in := openIM(t, alice, alice, 4, stproto.EncryptOffer{})
	alice.send(&stproto.Message{Channel: in, Body: &stproto.ChannelAccept{Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3}})
	alice.expect("accept on the outgoing side", onChannel(4, stproto.TypeChannelAccept))
	text, _ := stproto.NewIMText("note to self").Marshal()
	alice.send(&stproto.Message{Channel: 4, Body: &stproto.ChannelSend{Type: stproto.IMMessageType, Data: text}})
	alice.expect("text on the incoming side", sendOf(in, stproto.IMMessageType))
	alice.send(&stproto.Message{Channel: in, Body: &stproto.ChannelSend{Type: stproto.IMMessageType, Data: text}})
	alice.expect("reply on the outgoing side", sendOf(4, stproto.IMMessageType))
}

func TestIdleConnectionClosed(t *testing.T) {
	srv := NewServer(t, WithIdleTimeout(100*time.Millisecond))
	c := loginAs(t, srv, "alice", "secret")
	if _, err := c.read(waitTimeout); err == nil || isTimeout(err) {
		t.Fatalf("idle connection not closed by the server: %v", err)
	}
	if srv.Online("alice") {
		t.Fatal("alice still online after the idle timeout")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestOversizedFrameEndsConnection(t *testing.T) {
	srv := NewServer(t, WithMaxFrameBytes(256))
	c := loginAs(t, srv, "alice", "secret")
	big := &stproto.Message{Body: &stproto.Admin{Text: strings.Repeat("x", 300)}}
	c.send(big)
	if _, err := c.read(waitTimeout); err == nil || isTimeout(err) {
		t.Fatalf("connection survived a frame above the limit: %v", err)
	}
}
