package gwclient

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/parleygw/parley/internal/captures"
	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// FuzzServerStream feeds arbitrary server bytes to a client that logs in
// and then reads events: whatever arrives, the client must not panic or
// hang, and must end the connection with an error once the stream ends.
func FuzzServerStream(f *testing.F) {
	streams, err := captures.Read("groupwise-*.s2c.bin")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range streams {
		f.Add(seed)
	}
	f.Add(concat(vectorLoginResponse, vectorResultResponse, vectorMessageEvent, vectorStatusEvent,
		withTID(f, vectorCreateConfResponse, '3')))
	f.Add(vectorWrongPasswordResponse)
	f.Add(concat(vectorLoginResponse, vectorResultResponse, []byte("HTTP/1.0 301 Moved\r\n\r\n")))
	f.Fuzz(func(t *testing.T, stream []byte) {
		clientSide, serverSide := net.Pipe()
		cfg, err := Config{Server: "fuzz.test", RequestTimeout: 2 * time.Second, KeepaliveInterval: -1, EventBuffer: 8}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(clientSide, cfg)
		go func() { _, _ = io.Copy(io.Discard, serverSide) }()
		go func() {
			_, _ = serverSide.Write(stream)
			_ = serverSide.Close()
		}()
		events := make(chan int)
		go func() {
			n := 0
			for range c.Events() {
				n++
			}
			events <- n
		}()
		_, _ = c.Login(context.Background(), "alice", "secret")
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("client still connected 10s after the stream ended")
		}
		if c.Err() == nil {
			t.Error("connection ended without an error")
		}
		<-events
		_ = c.Close()
	})
}

// helpers for the benchmarks

// serveAll answers every request with result 0 until the connection ends.
func (p *peer) serveAll() {
	for {
		req, err := p.rr.ReadRequest()
		if err != nil {
			return
		}
		p.reply(req, nil)
	}
}

func BenchmarkPing(b *testing.B) {
	srv := newScriptServer(b)
	c, err := Dial(context.Background(), srv.config())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := srv.accept()
	go func() { p.serveLogin(); p.serveAll() }()
	if _, err := c.Login(context.Background(), "alice", "secret"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Ping(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// benchText is the message the send benchmarks send.
const benchText = "Hello Bob, ça va? Meeting at 10:00 in room 4 — bring the slides 📊"

// benchConversation logs alice in to a scripted server that answers every
// request after the conversation with Bob is open, and returns her client
// and the conversation's id. The client is closed when b ends.
func benchConversation(b *testing.B) (*Client, string) {
	srv := newScriptServer(b)
	c, err := Dial(context.Background(), srv.config())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	p := srv.accept()
	go func() {
		p.serveLogin()
		p.reply(p.expect(gwproto.CmdCreateConf), gwproto.Fields{gwproto.NewArray(gwproto.TagFaConversation,
			gwproto.NewString(gwproto.TagSzObjectID, testGUID))})
		p.serveAll()
	}()
	if _, err := c.Login(context.Background(), "alice", "secret"); err != nil {
		b.Fatal(err)
	}
	guid, err := c.OpenIM(context.Background(), bobDN)
	if err != nil {
		b.Fatal(err)
	}
	return c, guid
}

func BenchmarkSendMessage(b *testing.B) {
	c, guid := benchConversation(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SendMessage(context.Background(), guid, benchText); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiveMessage measures parsing, RTF stripping and delivery of
// one incoming message event.
func BenchmarkReceiveMessage(b *testing.B) {
	srv := newScriptServer(b)
	cfg := srv.config()
	cfg.EventBuffer = 1 << 16
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := srv.accept()
	login := make(chan struct{})
	go func() { p.serveLogin(); close(login) }()
	if _, err := c.Login(context.Background(), "alice", "secret"); err != nil {
		b.Fatal(err)
	}
	<-login
	ev := gwproto.Event{Type: gwproto.EventReceiveMessage, Source: bobDN, GUID: testGUID,
		Text: gwproto.RTFWrap("Hello Alice, ça va? Meeting at 10:00 in room 4 — bring the slides 📊")}
	msg, err := ev.AppendTo(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			p.write(msg)
		}
	}()
	for range b.N {
		if _, ok := <-c.Events(); !ok {
			b.Fatal(c.Err())
		}
	}
}
