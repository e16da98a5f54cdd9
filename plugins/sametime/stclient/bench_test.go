package stclient_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// benchConversation logs in and opens an IM channel to bob, encrypted
// with RC2/128 or not; it returns bob's cipher (nil for plaintext).
func benchConversation(b *testing.B, encrypted bool) (*session, *stproto.ChannelCreate, *stproto.ChannelCipher) {
	srv := newScriptServer(b)
	s := loginSession(b, srv, srv.config("alice", "pw"))
	errc := asyncErr(func() error { return s.c.SendText(context.Background(), "bob", "hi") })
	create := s.sc.nextCreate(stproto.ServiceIM)
	bob := loginInfo("bob", "bob-login-0002")
	answer := stproto.EncryptAnswer{}
	var ciph *stproto.ChannelCipher
	if encrypted {
		key, _ := stproto.GenerateDHKey(rand.Reader)
		answer = answerRC2_128(b, &create.Encrypt, key)
		var err error
		if ciph, err = stproto.AcceptorCipher(&create.Encrypt, &answer, key, bob.LoginID, "alice-login-0001"); err != nil {
			b.Fatal(err)
		}
	}
	acceptIM(b, s.sc, create, bob, answer)
	mustNil(b, errc)
	return s, create, ciph
}

// discard reads and drops everything the client sends.
func discard(sc *scriptConn) {
	_ = sc.conn.SetReadDeadline(time.Time{})
	for {
		if _, err := sc.fr.ReadFrame(); err != nil {
			return
		}
	}
}

func BenchmarkSendText(b *testing.B) {
	for _, encrypted := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "RC2-128"}[encrypted]
		b.Run(name, func(b *testing.B) {
			s, _, _ := benchConversation(b, encrypted)
			go discard(s.sc)
			ctx := context.Background()
			text := "a typical instant message of some sixty bytes — with ünïcode"
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.c.SendText(ctx, "bob", text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReceiveText(b *testing.B) {
	for _, encrypted := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "RC2-128"}[encrypted]
		b.Run(name, func(b *testing.B) {
			s, create, ciph := benchConversation(b, encrypted)
			go discard(s.sc)
			text := "a typical instant message of some sixty bytes — with ünïcode"
			data, _ := stproto.NewIMText(text).Marshal()
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				payload, opts := data, stproto.Options(0)
				if ciph != nil {
					payload, opts = ciph.Seal(data), stproto.OptEncrypt
				}
				frame, _ := (&stproto.Message{Options: opts, Channel: create.ID, Body: &stproto.ChannelSend{Type: stproto.IMMessageType, Data: payload}}).MarshalFrame()
				if _, err := s.sc.conn.Write(frame); err != nil {
					b.Fatal(err)
				}
				if ev := nextEvent[stclient.MessageEvent](b, s.c); ev.Text != text {
					b.Fatal("wrong text")
				}
			}
		})
	}
}

func BenchmarkSendFile(b *testing.B) {
	srv := newScriptServer(b)
	s := loginSession(b, srv, srv.config("alice", "pw"))
	file := make([]byte, 1<<20)
	bob := loginInfo("bob", "bob-login-0002")
	ctx := context.Background()
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		errc := asyncErr(func() error { return s.c.SendFile(ctx, "bob", "bench.bin", int64(len(file)), bytes.NewReader(file)) })
		create := s.sc.nextCreate(stproto.ServiceFileTransfer)
		s.sc.accept(create, &bob, stproto.EncryptAnswer{})
		for got := 0; got < len(file); {
			_, d := s.sc.nextSend(create.ID, stproto.FTMsgData)
			got += len(d.Data)
			s.sc.sendOn(create.ID, stproto.FTMsgAck, nil)
		}
		s.sc.nextDestroy()
		mustNil(b, errc)
	}
}
