package client_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/frame"
	"github.com/parleygw/parley/core/tlsterm"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// peer is the gateway's end of one device link, scripted: it answers
// Hello with Welcome and hands every other frame's messages to handle.
type peer struct {
	in  *frame.Reader
	out *frame.Writer
}

func (p *peer) send(msgs ...*devicev1.Message) error {
	body, err := proto.Marshal(&devicev1.Frame{Messages: msgs})
	if err != nil {
		return err
	}
	if err := p.out.WriteFrame(body, false); err != nil {
		return err
	}
	return p.out.Flush()
}

func (p *peer) read() ([]*devicev1.Message, error) {
	body, err := p.in.ReadFrame()
	if err != nil {
		return nil, err
	}
	var f devicev1.Frame
	if err := proto.Unmarshal(body, &f); err != nil {
		return nil, err
	}
	return f.Messages, nil
}

// dialPeer starts a TLS listener whose first connection is served by
// serve (after Hello/Welcome) and returns the client's link to it.
func dialPeer(b testing.TB, cfg client.Config, serve func(*peer)) *client.Conn {
	b.Helper()
	term, err := tlsterm.New(tlsterm.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := term.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		p := &peer{in: frame.NewReader(conn, frame.Limits{}), out: frame.NewWriter(conn, frame.Limits{})}
		msgs, err := p.read()
		if err != nil || len(msgs) != 1 || msgs[0].GetHello() == nil {
			return
		}
		if p.send(&devicev1.Message{Id: msgs[0].Id, Body: &devicev1.Message_Welcome{Welcome: &devicev1.Welcome{ProtocolVersion: 1}}}) != nil {
			return
		}
		serve(p)
	}()
	tlsCfg, err := tlsterm.ClientConfig(term.CertificatePEM())
	if err != nil {
		b.Fatal(err)
	}
	cfg.Addr, cfg.TLS = ln.Addr().String(), tlsCfg
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkCall is one request and its answer on a link: SendMessage out,
// MessageSent back.
func BenchmarkCall(b *testing.B) {
	c := dialPeer(b, client.Config{}, func(p *peer) {
		for {
			msgs, err := p.read()
			if err != nil {
				return
			}
			for _, m := range msgs {
				if m.GetSendMessage() != nil {
					p.send(&devicev1.Message{Id: m.Id, Body: &devicev1.Message_MessageSent{MessageSent: &devicev1.MessageSent{ConversationId: "dm:a:b"}}})
				}
			}
		}
	})
	ctx := context.Background()
	text := string(make([]byte, 100))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendMessage(ctx, "bob", "", text, "id"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceive is the gateway pushing chat events, one per frame as
// a quiet link gets them, and the client handing them to the application
// and acknowledging them. acks/event is how many Ack messages reached the
// gateway for each event.
func BenchmarkReceive(b *testing.B) {
	var acks atomic.Int64
	start := make(chan int)
	c := dialPeer(b, client.Config{EventBuffer: 1 << 16}, func(p *peer) {
		go func() {
			for {
				msgs, err := p.read()
				if err != nil {
					return
				}
				for _, m := range msgs {
					if m.GetAck() != nil {
						acks.Add(1)
					}
				}
			}
		}()
		seq := uint64(0)
		for n := range start {
			for range n {
				seq++
				ev := &devicev1.Event{Seq: seq, Kind: &devicev1.Event_Message{Message: &devicev1.MessageReceived{
					ConversationId: "dm:alice:bob", From: "alice", Text: "a typical chat message of about sixty bytes, give or take"}}}
				if err := p.send(&devicev1.Message{Body: &devicev1.Message_Event{Event: ev}}); err != nil {
					return
				}
			}
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	start <- b.N
	for range b.N {
		if _, ok := <-c.Events(); !ok {
			b.Fatal(c.Err())
		}
	}
	b.StopTimer()
	close(start)
	b.ReportMetric(float64(acks.Load())/float64(b.N), "acks/event")
}
