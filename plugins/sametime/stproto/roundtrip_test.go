package stproto

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMessageRoundTrip(t *testing.T) {
	alice := LoginInfo{LoginID: "alice-1", LoginType: LoginTypeMeanwhile, UserID: "alice", UserName: "Alice"}
	for _, m := range []*Message{
		{Body: &SenseService{Service: ServiceStorage}},
		{Body: &Admin{Text: "maintenance at noon"}},
		{Body: &Announce{Sender: &alice, MayReply: true, Text: "hello all", Recipients: []string{"@U bob", "@G staff"}}},
		{Body: &SetPrivacyList{Privacy: PrivacyInfo{Users: []UserItem{{ID: "bob"}, {Full: true, ID: "carol", Name: "Carol"}}}}},
		{Channel: 7, Attribs: []byte{1, 2}, Body: &ChannelDestroy{Reason: ReasonUserNotOnline, Data: []byte("bye")}},
		{Body: &HandshakeAck{Major: 0x1e, Minor: 0x18, SrvrCalcAddr: 1}},
		{Body: &Handshake{Major: 0x1e, Minor: 0x10, LoginType: LoginTypeJavaApp}},
	} {
		t.Run(m.Type().String(), func(t *testing.T) {
			b, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			want := *m
			if len(want.Attribs) > 0 {
				want.Options |= OptHasAttribs
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewLoginVerifiesOnServer(t *testing.T) {
	server, err := GenerateDHKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, ack := range map[string]*HandshakeAck{
		"RC2/128": {Major: VersionMajor, Minor: VersionMinor, Magic: 0xfeedbeef, PubKey: server.PublicPadded()},
		"RC2/40":  {Major: VersionMajor, Minor: 0x18},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := NewLogin(ack, "alice", "s3cret ünïcödé", rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]AuthType{true: AuthRC2_128, false: AuthRC2_40}[ack.UsesRC2_128()]; l.AuthType != want {
				t.Fatalf("auth type %s, want %s", l.AuthType, want)
			}
			pw, err := LoginPassword(l, server, ack.Magic)
			if err != nil || pw != "s3cret ünïcödé" {
				t.Fatalf("LoginPassword = %q, %v", pw, err)
			}
		})
	}
}

func TestChannelNegotiation(t *testing.T) {
	creator, _ := GenerateDHKey(rand.Reader)
	acceptor, _ := GenerateDHKey(rand.Reader)
	offer := OfferAll(creator)
	for name, answer := range map[string]func() (EncryptAnswer, error){
		"RC2/128": func() (EncryptAnswer, error) { return AnswerRC2_128(&offer, acceptor) },
		"RC2/40":  func() (EncryptAnswer, error) { return AnswerRC2_40(&offer) },
	} {
		t.Run(name, func(t *testing.T) {
			a, err := answer()
			if err != nil {
				t.Fatal(err)
			}
			cc, err := CreatorCipher(&offer, &a, creator, "alice-login", "bob-login")
			if err != nil {
				t.Fatal(err)
			}
			ac, err := AcceptorCipher(&offer, &a, acceptor, "bob-login", "alice-login")
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range []string{"one", "two, a bit longer than a block", "three"} {
				got, err := ac.Open(cc.Seal([]byte(msg)))
				if err != nil || string(got) != msg {
					t.Fatalf("creator→acceptor %q: %q, %v", msg, got, err)
				}
				got, err = cc.Open(ac.Seal([]byte(msg)))
				if err != nil || string(got) != msg {
					t.Fatalf("acceptor→creator %q: %q, %v", msg, got, err)
				}
			}
		})
	}
	t.Run("plaintext", func(t *testing.T) {
		c, err := CreatorCipher(&offer, &EncryptAnswer{}, creator, "alice-login", "bob-login")
		if c != nil || err != nil {
			t.Fatalf("got %v, %v", c, err)
		}
	})
	t.Run("cipher not offered", func(t *testing.T) {
		none := EncryptOffer{}
		if _, err := AnswerRC2_128(&none, acceptor); err != ErrNoCipher {
			t.Fatalf("err = %v", err)
		}
		a := EncryptAnswer{Mode: PolicyRC2_40, Item: &EncryptItem{Cipher: CipherRC2_40}}
		if _, err := CreatorCipher(&none, &a, creator, "alice-login", "bob-login"); err != ErrNoCipher {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPayloadRoundTrips(t *testing.T) {
	alice := LoginInfo{LoginID: "alice-1", LoginType: LoginTypeMeanwhile, UserID: "alice", UserName: "Alice"}
	check := func(name string, enc []byte, err error, decode func([]byte) (any, error), want any) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := decode(enc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", name, diff)
		}
	}
	req := ResolveRequest{SearchID: 3, Queries: []string{"bob"}, Flags: ResolveFirst | ResolveCheckUsers}
	b, err := req.Marshal()
	check("resolve request", b, err, dec(UnmarshalResolveRequest), req)
	resp := ResolveResponse{SearchID: 3, Results: []ResolveResult{{Query: "bob", Matches: []ResolveMatch{{ID: "bob", Name: "Bob", Type: ResolveMatchUser}}}}}
	b, err = resp.Marshal()
	check("resolve response", b, err, dec(UnmarshalResolveResponse), resp)
	inv := ConfInvitation{Name: "room", Title: "Room", Inviter: alice, Text: "join us"}
	b, err = inv.Marshal()
	check("invitation", b, err, dec(UnmarshalConfInvitation), inv)
	w := ConfWelcome{Name: "room", Title: "Room", Members: []ConfMember{{ID: 1, Login: alice}}}
	b, err = w.Marshal()
	check("welcome", b, err, dec(UnmarshalConfWelcome), w)
	ci := ConfInvite{Who: IDBlock{User: "bob"}, Text: "come"}
	b, err = ci.Marshal()
	check("invite", b, err, dec(UnmarshalConfInvite), ci)
	ca := ConfCreateAddtl{Name: "room", Title: "Room"}
	b, err = ca.Marshal()
	check("create addtl", b, err, dec(UnmarshalConfCreateAddtl), ca)
	b, err = MarshalConfJoin(ConfMember{ID: 2, Login: alice})
	check("join", b, err, dec(UnmarshalConfJoin), ConfMember{ID: 2, Login: alice})
	b, err = MarshalConfPart(2)
	check("part", b, err, dec(UnmarshalConfPart), uint16(2))
	txt := ConfText{MemberID: 2, Kind: IMKindText, Text: "hi all"}
	b, err = txt.MarshalServer()
	check("server text", b, err, dec(UnmarshalConfTextServer), txt)
	typing := ConfText{Kind: IMKindData, Typing: true}
	b, err = typing.MarshalClient()
	if !bytes.Equal(b, hx(t, `00000002 00000001 00000000 00000000`)) {
		t.Fatalf("client typing = %x", b)
	}
	check("client typing", b, err, dec(UnmarshalConfTextClient), typing)
	gu := AttrGotUnset{Who: AwareIDBlock{Type: AwareUser, User: "bob"}, Key: AttrFileTransfer}
	b, err = gu.Marshal()
	check("got unset", b, err, dec(UnmarshalAttrGotUnset), gu)
	snap := AwareSnapshot{ID: AwareIDBlock{Type: AwareUser, User: "carol"}}
	b, err = MarshalAwareUpdate(snap)
	check("update offline", b, err, dec(UnmarshalAwareUpdate), snap)
	if !AttrBool(AttrTrue) || AttrBool([]byte{0, 0, 0, 0}) || !AttrBool([]byte{1}) || AttrBool(nil) {
		t.Fatal("AttrBool")
	}
}
