package stclient_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func answerRC2_128(t testing.TB, offer *stproto.EncryptOffer, own *stproto.DHKey) stproto.EncryptAnswer {
	a, err := stproto.AnswerRC2_128(offer, own)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSendFile(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		name := "plaintext"
		if encrypted {
			name = "RC2/128"
		}
		t.Run(name, func(t *testing.T) {
			srv := newScriptServer(t)
			s := loginSession(t, srv, srv.config("alice", "pw"))
			file := randomBytes(t, 100_003)
			errc := asyncErr(func() error {
				return s.c.SendFile(context.Background(), "bob", "report.pdf", int64(len(file)), bytes.NewReader(file))
			})
			create := s.sc.nextCreate(stproto.ServiceFileTransfer)
			offer, err := stproto.UnmarshalFTOffer(create.Addtl)
			if err != nil || offer.Filename != "report.pdf" || offer.Size != uint32(len(file)) || create.Target.User != "bob" {
				t.Fatalf("offer %+v to %q: %v", offer, create.Target.User, err)
			}
			bob := loginInfo("bob", "bob-login-0002")
			var ciph *stproto.ChannelCipher
			answer := stproto.EncryptAnswer{}
			bobKey, _ := stproto.GenerateDHKey(rand.Reader)
			if encrypted {
				answer = answerRC2_128(t, &create.Encrypt, bobKey)
				if ciph, err = stproto.AcceptorCipher(&create.Encrypt, &answer, bobKey, bob.LoginID, "alice-login-0001"); err != nil {
					t.Fatal(err)
				}
			}
			s.sc.accept(create, &bob, answer)

			h := sha256.New()
			var total int
			for total < len(file) {
				m, b := s.sc.nextSend(create.ID, stproto.FTMsgData)
				data := b.Data
				if (m.Options&stproto.OptEncrypt != 0) != encrypted {
					t.Fatalf("chunk encryption flag %#x", m.Options)
				}
				if ciph != nil {
					if data, err = ciph.Open(data); err != nil {
						t.Fatal(err)
					}
				}
				if len(data) == 0 || len(data) > stproto.FTChunkSize {
					t.Fatalf("chunk of %d bytes", len(data))
				}
				h.Write(data)
				total += len(data)
				s.sc.sendOn(create.ID, stproto.FTMsgAck, nil)
			}
			if id, d := s.sc.nextDestroy(); id != create.ID || d.Reason != 0 {
				t.Errorf("completion: destroy ch %d reason %v", id, d.Reason)
			}
			mustNil(t, errc)
			if want := sha256.Sum256(file); !bytes.Equal(h.Sum(nil), want[:]) || total != len(file) {
				t.Fatalf("bob received %d bytes with a different sha256", total)
			}
			var last stclient.FileProgressEvent
			for last.Bytes != int64(len(file)) {
				last = nextEvent[stclient.FileProgressEvent](t, s.c)
			}
			if last.Incoming || last.Size != int64(len(file)) || last.Peer != "bob" {
				t.Errorf("progress %+v", last)
			}
		})
	}
}

func TestReceiveFile(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	carol := loginInfo("carol", "carol-login-03")
	carolKey, _ := stproto.GenerateDHKey(rand.Reader)
	file := randomBytes(t, 50_000)
	const id = 0x80000002
	addtl, _ := stproto.FTOffer{Filename: "carol.txt", Message: "a file for you", Size: uint32(len(file))}.Marshal()
	offer := stproto.OfferAll(carolKey)
	s.sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: id, Target: stproto.IDBlock{User: "alice"}, Service: stproto.ServiceFileTransfer,
		ProtoType: 0, ProtoVer: 1, Addtl: addtl, Creator: &carol, Encrypt: offer,
	}})
	ev := nextEvent[stclient.FileOfferEvent](t, s.c)
	o := ev.Offer
	if o.From != "carol" || o.Name != "carol.txt" || o.Message != "a file for you" || o.Size != int64(len(file)) {
		t.Fatalf("offer %+v", o)
	}
	h := sha256.New()
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		n, err := o.Accept(context.Background(), h)
		got <- result{n, err}
	}()
	m := s.sc.next(stproto.TypeChannelAccept)
	acc := m.Body.(*stproto.ChannelAccept)
	if m.Channel != id || acc.Service != stproto.ServiceFileTransfer || acc.ProtoVer != 1 {
		t.Fatalf("accept %+v on %#x", acc, m.Channel)
	}
	ciph, err := stproto.CreatorCipher(&offer, &acc.Encrypt, carolKey, carol.LoginID, "alice-login-0001")
	if err != nil || ciph == nil {
		t.Fatalf("no usable cipher in the accept %+v: %v", acc.Encrypt, err)
	}
	for rest := file; len(rest) > 0; {
		n := min(len(rest), 4096)
		s.sc.send(&stproto.Message{Options: stproto.OptEncrypt, Channel: id, Body: &stproto.ChannelSend{
			Type: stproto.FTMsgData, Data: ciph.Seal(rest[:n]),
		}})
		rest = rest[n:]
		// Stop-and-wait: the next chunk only after the (plain) ack.
		if m, b := s.sc.nextSend(id, stproto.FTMsgAck); len(b.Data) != 0 || m.Options != 0 {
			t.Fatalf("ack %+v options %#x", b, m.Options)
		}
	}
	s.sc.send(&stproto.Message{Channel: id, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonSuccess}})
	r := <-got
	if r.err != nil || r.n != int64(len(file)) {
		t.Fatalf("Accept = %d, %v", r.n, r.err)
	}
	if want := sha256.Sum256(file); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("received file differs (sha256)")
	}
	_, err = o.Accept(context.Background(), io.Discard)
	errorIs(t, err, stclient.ErrAlreadyAnswered)
}

// offerFile starts SendFile and returns its result channel and the offer
// as the server saw it.
func offerFile(t *testing.T, s *session, size int) (<-chan error, *stproto.ChannelCreate) {
	t.Helper()
	file := randomBytes(t, size)
	errc := asyncErr(func() error {
		return s.c.SendFile(context.Background(), "bob", "big.iso", int64(size), bytes.NewReader(file))
	})
	return errc, s.sc.nextCreate(stproto.ServiceFileTransfer)
}

func TestSendFileRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason stproto.ReasonError
		want   error
	}{
		{"declined by the recipient", stproto.ReasonFileTransferRejected, stclient.ErrDeclined},
		{"over the server's size limit", stproto.ReasonNotAuthorized, stclient.ErrFileTooLarge},
		{"recipient offline", stproto.ReasonUserNotOnline, stclient.ErrUserOffline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t)
			s := loginSession(t, srv, srv.config("alice", "pw"))
			errc, create := offerFile(t, s, 1_048_577)
			s.sc.send(&stproto.Message{Channel: create.ID, Body: &stproto.ChannelDestroy{Reason: tc.reason}})
			err := <-errc
			errorIs(t, err, tc.want)
			errorIs(t, err, tc.reason)
		})
	}
}

func TestSendFileClientLimit(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.MaxFileSize = 1 << 20
	s := loginSession(t, srv, cfg)
	ctx := context.Background()
	err := s.c.SendFile(ctx, "bob", "big.iso", 1<<20+1, bytes.NewReader(nil))
	errorIs(t, err, stclient.ErrFileTooLarge)
	// Nothing was offered: the next channel the server sees is this IM.
	errc := asyncErr(func() error { return s.c.SendText(ctx, "bob", "too big, sorry") })
	create := s.sc.next(stproto.TypeChannelCreate).Body.(*stproto.ChannelCreate)
	if create.Service != stproto.ServiceIM {
		t.Fatalf("server saw a %v channel", create.Service)
	}
	acceptIM(t, s.sc, create, loginInfo("bob", "bob-login-0002"), stproto.EncryptAnswer{})
	mustNil(t, errc)
}

func TestSendFileCanceledMidway(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	errc, create := offerFile(t, s, 30_000)
	bob := loginInfo("bob", "bob-login-0002")
	s.sc.accept(create, &bob, stproto.EncryptAnswer{})
	s.sc.nextSend(create.ID, stproto.FTMsgData)
	s.sc.send(&stproto.Message{Channel: create.ID, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonFileTransferRejected}})
	errorIs(t, <-errc, stclient.ErrTransferCanceled)
}

func TestSendFileShortReader(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	errc := asyncErr(func() error {
		return s.c.SendFile(context.Background(), "bob", "short.bin", 10_000, bytes.NewReader(make([]byte, 5_000)))
	})
	create := s.sc.nextCreate(stproto.ServiceFileTransfer)
	bob := loginInfo("bob", "bob-login-0002")
	s.sc.accept(create, &bob, stproto.EncryptAnswer{})
	// The reader ends before the first 8192-byte chunk is complete.
	if id, d := s.sc.nextDestroy(); id != create.ID || d.Reason != 0 {
		t.Errorf("cancel: destroy ch %d reason %v", id, d.Reason)
	}
	errorIs(t, <-errc, stclient.ErrShortFile)
}

func sendOffer(t *testing.T, sc *scriptConn, id uint32, size int) {
	t.Helper()
	carol := loginInfo("carol", "carol-login-03")
	addtl, _ := stproto.FTOffer{Filename: "carol.txt", Size: uint32(size)}.Marshal()
	sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: id, Service: stproto.ServiceFileTransfer, ProtoVer: 1, Addtl: addtl, Creator: &carol,
	}})
}

func TestDeclineIncomingFile(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	sendOffer(t, s.sc, 0x80000003, 1234)
	o := nextEvent[stclient.FileOfferEvent](t, s.c).Offer
	if err := o.Decline(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id, d := s.sc.nextDestroy(); id != 0x80000003 || d.Reason != stproto.ReasonFileTransferRejected {
		t.Errorf("decline: destroy ch %#x reason %#x", id, uint32(d.Reason))
	}
}

func TestReceiveFileCanceledBySender(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	const id = 0x80000004
	sendOffer(t, s.sc, id, 10_000)
	o := nextEvent[stclient.FileOfferEvent](t, s.c).Offer
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		n, err := o.Accept(context.Background(), io.Discard)
		got <- result{n, err}
	}()
	s.sc.next(stproto.TypeChannelAccept)
	s.sc.sendOn(id, stproto.FTMsgData, make([]byte, 4096))
	s.sc.nextSend(id, stproto.FTMsgAck)
	s.sc.send(&stproto.Message{Channel: id, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonSuccess}})
	r := <-got
	errorIs(t, r.err, stclient.ErrTransferCanceled)
	if r.n != 4096 {
		t.Errorf("wrote %d bytes before the cancel", r.n)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestReceiveFileWriteError(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	const id = 0x80000006
	sendOffer(t, s.sc, id, 10_000)
	o := nextEvent[stclient.FileOfferEvent](t, s.c).Offer
	errc := asyncErr(func() error {
		_, err := o.Accept(context.Background(), failingWriter{})
		return err
	})
	s.sc.next(stproto.TypeChannelAccept)
	s.sc.sendOn(id, stproto.FTMsgData, make([]byte, 4096))
	// The receiver cancels the way libpurple does.
	if gotID, d := s.sc.nextDestroy(); gotID != id || d.Reason != stproto.ReasonFileTransferRejected {
		t.Errorf("cancel: destroy ch %#x reason %#x", gotID, uint32(d.Reason))
	}
	errorIs(t, <-errc, io.ErrShortWrite)
}
