package stclient_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// cycleReader repeats a pattern forever: a deterministic key source.
type cycleReader struct {
	pattern []byte
	off     int
}

func (r *cycleReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.pattern[r.off%len(r.pattern)]
		r.off++
	}
	return len(p), nil
}

func asyncErr(f func() error) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	return errc
}

func mustNil(t testing.TB, errc <-chan error) {
	t.Helper()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func imAcceptAddtl(t testing.TB, typ stproto.IMClientType) []byte {
	b, err := stproto.IMAcceptAddtl{ClientType: typ, Status: stproto.UserStatus{Status: stproto.StatusActive}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// acceptIM answers an IM create as peer with the given encryption answer.
func acceptIM(t testing.TB, sc *scriptConn, b *stproto.ChannelCreate, peer stproto.LoginInfo, answer stproto.EncryptAnswer) {
	addtl, _ := stproto.UnmarshalIMCreateAddtl(b.Addtl)
	sc.send(&stproto.Message{Channel: b.ID, Body: &stproto.ChannelAccept{
		Service: b.Service, ProtoType: b.ProtoType, ProtoVer: b.ProtoVer,
		Addtl: imAcceptAddtl(t, addtl.ClientType), Acceptor: &peer, Encrypt: answer,
	}})
}

// readIM reads the next IM message on channel id, decrypting with ciph.
func readIM(t *testing.T, sc *scriptConn, id uint32, ciph *stproto.ChannelCipher) (stproto.IMMessage, *stproto.Message) {
	t.Helper()
	m, b := sc.nextSend(id, stproto.IMMessageType)
	data := b.Data
	if encrypted := m.Options&stproto.OptEncrypt != 0; encrypted != (ciph != nil) {
		t.Fatalf("encrypt flag %v on a channel with cipher %v", encrypted, ciph != nil)
	}
	if ciph != nil {
		var err error
		if data, err = ciph.Open(data); err != nil {
			t.Fatalf("peer cannot decrypt: %v", err)
		}
	}
	im, err := stproto.UnmarshalIMMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	return im, m
}

// sendIM sends an IM message to the client on channel id.
func sendIM(t *testing.T, sc *scriptConn, id uint32, ciph *stproto.ChannelCipher, im stproto.IMMessage) {
	t.Helper()
	data, err := im.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var opts stproto.Options
	if ciph != nil {
		data, opts = ciph.Seal(data), stproto.OptEncrypt
	}
	sc.send(&stproto.Message{Options: opts, Channel: id, Body: &stproto.ChannelSend{Type: stproto.IMMessageType, Data: data}})
}

func TestIMOutgoingChannelsBothWays(t *testing.T) {
	bob := loginInfo("bob", "bob-login-0002")
	for _, tc := range []struct {
		name   string
		answer func(offer *stproto.EncryptOffer, own *stproto.DHKey) stproto.EncryptAnswer
	}{
		{"RC2/128", func(o *stproto.EncryptOffer, own *stproto.DHKey) stproto.EncryptAnswer {
			a, err := stproto.AnswerRC2_128(o, own)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
		{"RC2/40", func(o *stproto.EncryptOffer, _ *stproto.DHKey) stproto.EncryptAnswer {
			a, err := stproto.AnswerRC2_40(o)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}},
		{"plaintext", func(*stproto.EncryptOffer, *stproto.DHKey) stproto.EncryptAnswer { return stproto.EncryptAnswer{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t)
			s := loginSession(t, srv, srv.config("alice", "pw"))
			ctx := context.Background()
			const first, second = "héllo wörld ✓ 日本語", "second line\nwith ünïcode 🚀"
			errc := asyncErr(func() error { return s.c.SendText(ctx, "bob", first) })

			create := s.sc.nextCreate(stproto.ServiceIM)
			if create.Target.User != "bob" || create.ProtoType != 0x1000 || create.ProtoVer != 3 {
				t.Errorf("IM create %+v", create)
			}
			if a, _ := stproto.UnmarshalIMCreateAddtl(create.Addtl); a.ClientType != stproto.IMClientNotesBuddy {
				t.Errorf("client type %#x, want NotesBuddy like libpurple", a.ClientType)
			}
			if create.Encrypt.Mode != stproto.PolicyWhatever || len(create.Encrypt.Items) != 2 {
				t.Errorf("encryption offer %+v, want RC2/40 and RC2/128", create.Encrypt)
			}
			bobKey, err := stproto.GenerateDHKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			answer := tc.answer(&create.Encrypt, bobKey)
			acceptIM(t, s.sc, create, bob, answer)
			ciph, err := stproto.AcceptorCipher(&create.Encrypt, &answer, bobKey, bob.LoginID, "alice-login-0001")
			if err != nil {
				t.Fatal(err)
			}
			mustNil(t, errc)
			if im, _ := readIM(t, s.sc, create.ID, ciph); im.Kind != stproto.IMKindText || im.Text != first {
				t.Errorf("bob got %+v", im)
			}
			// The second message only decrypts with the chained IV.
			if err := s.c.SendText(ctx, "bob", second); err != nil {
				t.Fatal(err)
			}
			if im, _ := readIM(t, s.sc, create.ID, ciph); im.Text != second {
				t.Errorf("bob got %q", im.Text)
			}
			// Bob answers on the same channel.
			for _, text := range []string{"réponse ✓", "zweite Antwort ß"} {
				sendIM(t, s.sc, create.ID, ciph, stproto.NewIMText(text))
				ev := nextEvent[stclient.MessageEvent](t, s.c)
				if ev.From != "bob" || ev.Text != text || ev.Format != stclient.FormatText || ev.FromName != bob.UserName {
					t.Errorf("alice got %+v", ev)
				}
			}
		})
	}
}

func TestIMIncomingEncrypted(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	carol := loginInfo("carol", "carol-login-03")
	carolKey, err := stproto.GenerateDHKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	offer := stproto.OfferAll(carolKey)
	addtl, _ := stproto.IMCreateAddtl{ClientType: stproto.IMClientPlain}.Marshal()
	const id = 0x80000001
	s.sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: id, Target: stproto.IDBlock{User: "alice"}, Service: stproto.ServiceIM,
		ProtoType: 0x1000, ProtoVer: 3, Addtl: addtl, Creator: &carol, Encrypt: offer,
	}})
	m := s.sc.next(stproto.TypeChannelAccept)
	acc := m.Body.(*stproto.ChannelAccept)
	if m.Channel != id || acc.Encrypt.Mode != stproto.PolicyRC2_128 || acc.Encrypt.Item == nil {
		t.Fatalf("accept ch %#x %+v, want RC2/128", m.Channel, acc.Encrypt)
	}
	if a, err := stproto.UnmarshalIMAcceptAddtl(acc.Addtl); err != nil || a.ClientType != stproto.IMClientPlain || a.Status.Status != stproto.StatusActive {
		t.Errorf("accept addtl %+v %v", a, err)
	}
	ciph, err := stproto.CreatorCipher(&offer, &acc.Encrypt, carolKey, carol.LoginID, "alice-login-0001")
	if err != nil {
		t.Fatal(err)
	}
	sendIM(t, s.sc, id, ciph, stproto.NewIMText("hi alice — ça va? 😀"))
	if ev := nextEvent[stclient.MessageEvent](t, s.c); ev.From != "carol" || ev.Text != "hi alice — ça va? 😀" {
		t.Errorf("alice got %+v", ev)
	}
	// The reply uses carol's channel; no new channel is opened.
	if err := s.c.SendText(context.Background(), "carol", "très bien, merci"); err != nil {
		t.Fatal(err)
	}
	im, _ := readIM(t, s.sc, id, ciph)
	if im.Text != "très bien, merci" {
		t.Errorf("carol got %q", im.Text)
	}
}

// TestIMGoldenFrames checks the client's IM frames byte for byte against
// spec §9.6/§9.7, with the client's DH private value fixed to the spec's.
func TestIMGoldenFrames(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.Rand = &cycleReader{pattern: unhex(t, "0badc0de")}
	s := loginSession(t, srv, cfg)
	bob := loginInfo("bob", "bob-login-0002")
	ctx := context.Background()

	t.Run("RC2/128 chained", func(t *testing.T) {
		errc := asyncErr(func() error { return s.c.SendText(ctx, "bob", "hello bob") })
		create := s.sc.nextCreate(stproto.ServiceIM)
		if create.ID != 4 {
			t.Fatalf("IM channel %d; the vectors assume 4", create.ID)
		}
		peer, err := stproto.NewDHKey(unhex(t, strings.Repeat("1234567890abcdef", 4)))
		if err != nil {
			t.Fatal(err)
		}
		answer, err := stproto.AnswerRC2_128(&create.Encrypt, peer)
		if err != nil {
			t.Fatal(err)
		}
		acceptIM(t, s.sc, create, bob, answer)
		mustNil(t, errc)
		m, _ := s.sc.nextSend(4, stproto.IMMessageType)
		if got, want := frameOf(t, m), unhex(t, "0000001e 0004 4000 00000004 0064 00000010 044d80f35fa757a69f0cf4dd0f35ff2f"); string(got) != string(want) {
			t.Errorf("first frame\n got %x\nwant %x", got, want)
		}
		if err := s.c.SendText(ctx, "bob", "hi"); err != nil {
			t.Fatal(err)
		}
		m, _ = s.sc.nextSend(4, stproto.IMMessageType)
		if got := m.Body.(*stproto.ChannelSend).Data; string(got) != string(unhex(t, "bfd4c915d409adb68b01f414366afe89")) {
			t.Errorf("second ciphertext %x", got)
		}
		if err := s.c.CloseConversation(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RC2/40 keyed by the login id", func(t *testing.T) {
		errc := asyncErr(func() error { return s.c.SendText(ctx, "bob", "hello bob") })
		create := s.sc.nextCreate(stproto.ServiceIM)
		answer, err := stproto.AnswerRC2_40(&create.Encrypt)
		if err != nil {
			t.Fatal(err)
		}
		acceptIM(t, s.sc, create, bob, answer)
		mustNil(t, errc)
		_, b := s.sc.nextSend(create.ID, stproto.IMMessageType)
		if string(b.Data) != string(unhex(t, "0f1931bb9c3faf93a729dc1cb06ab065")) {
			t.Errorf("RC2/40 ciphertext %x", b.Data)
		}
		if err := s.c.CloseConversation(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("plaintext text and HTML", func(t *testing.T) {
		errc := asyncErr(func() error { return s.c.SendText(ctx, "bob", "hello bob") })
		create := s.sc.nextCreate(stproto.ServiceIM)
		acceptIM(t, s.sc, create, bob, stproto.EncryptAnswer{})
		mustNil(t, errc)
		m, _ := s.sc.nextSend(create.ID, stproto.IMMessageType)
		m.Channel = 4 // the vector's channel id
		if got, want := frameOf(t, m), unhex(t, "0000001d 0004 0000 00000004 0064 0000000f 00000001 0009 68656c6c6f20626f62"); string(got) != string(want) {
			t.Errorf("TEXT frame\n got %x\nwant %x", got, want)
		}
		if err := s.c.SendHTML(ctx, "bob", "second <b>bold</b> message"); err != nil {
			t.Fatal(err)
		}
		m, _ = s.sc.nextSend(create.ID, stproto.IMMessageType)
		m.Channel = 4
		want := unhex(t, "00000038 0004 0000 00000004 0064 0000002a 00000002 00000004 00000000 0000001a 7365636f6e64203c623e626f6c643c2f623e206d657373616765")
		if got := frameOf(t, m); string(got) != string(want) {
			t.Errorf("HTML frame\n got %x\nwant %x", got, want)
		}
	})
}

func TestTypingBothWays(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	carol := loginInfo("carol", "carol-login-03")
	addtl, _ := stproto.IMCreateAddtl{ClientType: stproto.IMClientNotesBuddy}.Marshal()
	s.sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: 0x80000001, Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3, Addtl: addtl, Creator: &carol,
	}})
	if acc := s.sc.next(stproto.TypeChannelAccept).Body.(*stproto.ChannelAccept); acc.Encrypt.Encrypted() {
		t.Errorf("accepted a plaintext offer with %+v", acc.Encrypt)
	}
	// The typing frame from spec §9.7, then "stopped".
	if _, err := s.sc.conn.Write(unhex(t, "0000001e 0004 0000 80000001 0064 00000010 00000002 00000001 00000000 00000000")); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent[stclient.TypingEvent](t, s.c); ev.From != "carol" || !ev.Typing {
		t.Errorf("typing event %+v", ev)
	}
	sendIM(t, s.sc, 0x80000001, nil, stproto.NewIMTyping(false))
	if ev := nextEvent[stclient.TypingEvent](t, s.c); ev.Typing {
		t.Errorf("stopped-typing event %+v", ev)
	}
	ctx := context.Background()
	for _, typing := range []bool{true, false} {
		if err := s.c.SendTyping(ctx, "carol", typing); err != nil {
			t.Fatal(err)
		}
		im, _ := readIM(t, s.sc, 0x80000001, nil)
		if im.DataType != stproto.IMDataTyping || im.IsTyping() != typing {
			t.Errorf("carol got %+v, want typing=%v", im, typing)
		}
	}
	// "Stopped typing" to someone without a conversation sends nothing.
	if err := s.c.SendTyping(ctx, "nobody", false); err != nil {
		t.Fatal(err)
	}
}

func TestHTMLMultipart(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	bob := loginInfo("bob", "bob-login-0002")
	ctx := context.Background()
	long := "<p>" + strings.Repeat("Grüße aus Köln — ", 300) + "</p>"
	errc := asyncErr(func() error { return s.c.SendHTML(ctx, "bob", long) })
	create := s.sc.nextCreate(stproto.ServiceIM)
	acceptIM(t, s.sc, create, bob, stproto.EncryptAnswer{})
	mustNil(t, errc)
	if im, _ := readIM(t, s.sc, create.ID, nil); im.DataType != stproto.IMDataMultipartStart {
		t.Fatalf("first part %+v", im)
	}
	var got strings.Builder
	for {
		im, _ := readIM(t, s.sc, create.ID, nil)
		if im.DataType == stproto.IMDataMultipartStop {
			break
		}
		if im.DataType != stproto.IMDataHTML || len(im.Data) > stproto.IMMultipartSegment {
			t.Fatalf("segment type %#x of %d bytes", im.DataType, len(im.Data))
		}
		got.Write(im.Data)
	}
	if got.String() != long {
		t.Error("bob reassembled a different message")
	}
	// And bob's long message arrives as one event.
	sendIM(t, s.sc, create.ID, nil, stproto.IMMessage{Kind: stproto.IMKindData, DataType: stproto.IMDataMultipartStart})
	for rest := long; rest != ""; {
		n := min(len(rest), 1000)
		sendIM(t, s.sc, create.ID, nil, stproto.NewIMHTML(rest[:n]))
		rest = rest[n:]
	}
	sendIM(t, s.sc, create.ID, nil, stproto.IMMessage{Kind: stproto.IMKindData, DataType: stproto.IMDataMultipartStop})
	if ev := nextEvent[stclient.MessageEvent](t, s.c); ev.Format != stclient.FormatHTML || ev.Text != long {
		t.Errorf("alice got %d bytes of format %v", len(ev.Text), ev.Format)
	}
}

func TestIMPlainFallback(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ctx := context.Background()
	errc := asyncErr(func() error { return s.c.SendText(ctx, "dave", "hello") })
	first := s.sc.nextCreate(stproto.ServiceIM)
	s.sc.send(&stproto.Message{Channel: first.ID, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonIMTypeNotRegistered}})
	second := s.sc.nextCreate(stproto.ServiceIM)
	if a, _ := stproto.UnmarshalIMCreateAddtl(second.Addtl); a.ClientType != stproto.IMClientPlain {
		t.Fatalf("retry offers client type %#x, want plain", a.ClientType)
	}
	acceptIM(t, s.sc, second, loginInfo("dave", "dave-login-9"), stproto.EncryptAnswer{})
	mustNil(t, errc)
	if im, _ := readIM(t, s.sc, second.ID, nil); im.Text != "hello" {
		t.Errorf("dave got %+v", im)
	}
	errorIs(t, s.c.SendHTML(ctx, "dave", "<b>hi</b>"), stclient.ErrHTMLUnsupported)
}

func TestIMUserOffline(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	errc := asyncErr(func() error { return s.c.SendText(context.Background(), "ghost", "hello?") })
	create := s.sc.nextCreate(stproto.ServiceIM)
	s.sc.send(&stproto.Message{Channel: create.ID, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonUserNotOnline}})
	err := <-errc
	errorIs(t, err, stclient.ErrUserOffline)
	errorIs(t, err, stproto.ReasonUserNotOnline)
}

func TestIMRejectsUnknownClientType(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	carol := loginInfo("carol", "carol-login-03")
	addtl, _ := stproto.IMCreateAddtl{ClientType: stproto.IMClientPreConference}.Marshal()
	s.sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: 0x80000002, Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3, Addtl: addtl, Creator: &carol,
	}})
	if id, d := s.sc.nextDestroy(); id != 0x80000002 || d.Reason != stproto.ReasonIMTypeNotRegistered {
		t.Errorf("destroy ch %#x reason %v", id, d.Reason)
	}
}

func TestIMWithoutEncryption(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.DisableEncryption = true
	s := loginSession(t, srv, cfg)
	ctx := context.Background()

	// Nothing is offered, so an accept naming a cipher is refused.
	errc := asyncErr(func() error { return s.c.SendText(ctx, "bob", "hi") })
	create := s.sc.nextCreate(stproto.ServiceIM)
	if create.Encrypt.Mode != stproto.PolicyNone || len(create.Encrypt.Items) != 0 {
		t.Fatalf("offer %+v with encryption disabled", create.Encrypt)
	}
	key, _ := stproto.GenerateDHKey(rand.Reader)
	acceptIM(t, s.sc, create, loginInfo("bob", "bob-login-0002"), stproto.EncryptAnswer{
		Mode: stproto.PolicyRC2_128, Item: &stproto.EncryptItem{Cipher: stproto.CipherRC2_128, Info: key.Public()},
	})
	if id, d := s.sc.nextDestroy(); id != create.ID || d.Reason != stproto.ReasonRequestInvalid {
		t.Errorf("destroy ch %d reason %v", id, d.Reason)
	}
	errorIs(t, <-errc, stclient.ErrChannelClosed)

	// Incoming offers are accepted in clear.
	carol := loginInfo("carol", "carol-login-03")
	addtl, _ := stproto.IMCreateAddtl{ClientType: stproto.IMClientPlain}.Marshal()
	s.sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: 0x80000001, Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
		Addtl: addtl, Creator: &carol, Encrypt: stproto.OfferAll(key),
	}})
	if acc := s.sc.next(stproto.TypeChannelAccept).Body.(*stproto.ChannelAccept); acc.Encrypt.Encrypted() {
		t.Errorf("accepted with %+v", acc.Encrypt)
	}
}
