package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/parleygw/parley/client"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Every answer reaches the Call that asked, also when earlier Calls were
// cancelled while their answers were on the way (the channel a cancelled
// Call waited on must not carry a late answer into another Call).
func TestAnswersReachTheirOwnCallsAfterCancelledOnes(t *testing.T) {
	c := dialPeer(t, client.Config{}, func(p *peer) {
		for {
			msgs, err := p.read()
			if err != nil {
				return
			}
			for _, m := range msgs {
				if sm := m.GetSendMessage(); sm != nil {
					// The conversation names the message the answer is for.
					p.send(&devicev1.Message{Id: m.Id, Body: &devicev1.Message_MessageSent{MessageSent: &devicev1.MessageSent{ConversationId: sm.Text}}})
				}
			}
		}
	})
	for i := range 300 {
		// A Call cancelled at about the time its answer arrives...
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.SendMessage(ctx, "bob", "", "cancelled "+strconv.Itoa(i), "")
			done <- err
		}()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled call %d: %v", i, err)
		}
		// ...then one that waits: it gets its own answer.
		text := "kept " + strconv.Itoa(i)
		sent, err := c.SendMessage(context.Background(), "bob", "", text, "")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if sent.ConversationId != text {
			t.Fatalf("call %q got the answer for %q", text, sent.ConversationId)
		}
	}
}

// Events keep their content after the frames that follow them are read:
// the client reuses what it reads frames into, never the events it hands
// over.
func TestEventsOfEarlierFramesStayIntact(t *testing.T) {
	const frames, perFrame = 5, 3
	sent := make(chan struct{})
	c := dialPeer(t, client.Config{EventBuffer: frames * perFrame}, func(p *peer) {
		seq := uint64(0)
		for f := range frames {
			var msgs []*devicev1.Message
			for i := range perFrame {
				seq++
				msgs = append(msgs, &devicev1.Message{Body: &devicev1.Message_Event{Event: &devicev1.Event{Seq: seq,
					Kind: &devicev1.Event_Message{Message: &devicev1.MessageReceived{From: "alice", Text: fmt.Sprintf("frame %d message %d", f, i)}}}}})
			}
			if p.send(msgs...) != nil {
				return
			}
		}
		close(sent)
		for {
			if _, err := p.read(); err != nil {
				return
			}
		}
	})
	<-sent
	var got []*devicev1.Event
	for range frames * perFrame {
		e, ok := <-c.Events()
		if !ok {
			t.Fatalf("link closed after %d events: %v", len(got), c.Err())
		}
		got = append(got, e)
	}
	for n, e := range got {
		want := fmt.Sprintf("frame %d message %d", n/perFrame, n%perFrame)
		if e.Seq != uint64(n+1) || e.GetMessage().GetText() != want {
			t.Errorf("event %d: seq %d %q, want seq %d %q", n, e.Seq, e.GetMessage().GetText(), n+1, want)
		}
	}
}
