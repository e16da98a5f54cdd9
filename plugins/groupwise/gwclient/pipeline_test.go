package gwclient

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// inConference logs alice in against a scripted peer and makes testGUID a
// conference with bob, as an incoming message does.
func inConference(t *testing.T, cfg Config, srv *scriptServer) (*Client, *peer) {
	t.Helper()
	c, p := loggedIn(t, srv, cfg)
	p.event(gwproto.Event{Type: gwproto.EventReceiveMessage, Source: bobDN, GUID: testGUID, Text: gwproto.RTFWrap("hi")})
	nextEvent(t, c)
	return c, p
}

// startSend starts a message and returns a channel with its result.
func startSend(c *Client, ctx context.Context, text string) <-chan error {
	ch := make(chan error, 1)
	c.StartSendMessage(ctx, testGUID, text, func(err error) { ch <- err })
	return ch
}

// messageText is the plain text of a sendmessage request.
func messageText(req *gwproto.Request) string {
	msg, _ := req.Fields.List(gwproto.TagFaMessage)
	text, _ := msg.String(gwproto.TagSzMessageText)
	return text
}

func TestStartSendMessagePipelinesInOrder(t *testing.T) {
	srv := newScriptServer(t)
	c, p := inConference(t, srv.config(), srv)
	texts := []string{"one", "two", "three"}
	var results []<-chan error
	for _, text := range texts {
		results = append(results, startSend(c, context.Background(), text))
	}
	// All three reach the server before it answers any, in order.
	var reqs []*gwproto.Request
	for i, want := range texts {
		req := p.expect(gwproto.CmdSendMessage)
		if got := messageText(req); got != want {
			t.Errorf("request %d carries %q, want %q", i, got, want)
		}
		if i > 0 && req.TID <= reqs[i-1].TID {
			t.Errorf("request %d has tid %s after %s", i, req.TID, reqs[i-1].TID)
		}
		reqs = append(reqs, req)
	}
	// Answered out of order; the middle one is refused.
	p.reply(reqs[2], nil)
	p.replyCode(reqs[1], gwproto.CodeUserNotAllowed, nil)
	p.reply(reqs[0], nil)
	for i, ch := range results {
		err := recvErr(t, ch)
		var se *ServerError
		switch {
		case i == 1 && (!errors.As(err, &se) || se.Result.Code != gwproto.CodeUserNotAllowed):
			t.Errorf("message %q: %v, want the server's refusal", texts[i], err)
		case i != 1 && err != nil:
			t.Errorf("message %q: %v", texts[i], err)
		}
	}
	if err := c.Err(); err != nil {
		t.Errorf("connection ended: %v", err)
	}
}

func TestStartSendMessageUnknownConferenceFailsAtOnce(t *testing.T) {
	srv := newScriptServer(t)
	c, _ := loggedIn(t, srv, srv.config())
	var got error
	called := false
	c.StartSendMessage(context.Background(), testGUID, "hi", func(err error) { got, called = err, true })
	if !called || !errors.Is(got, ErrUnknownConference) {
		t.Errorf("done called %v with %v; want ErrUnknownConference before StartSendMessage returns", called, got)
	}
}

func TestStartSendMessageDeadlineEndsOnlyTheMessage(t *testing.T) {
	srv := newScriptServer(t)
	c, p := inConference(t, srv.config(), srv)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	late := startSend(c, ctx, "late")
	next := startSend(c, context.Background(), "next")
	lateReq := p.expect(gwproto.CmdSendMessage)
	nextReq := p.expect(gwproto.CmdSendMessage)
	if err := recvErr(t, late); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("message past its deadline: %v, want context.DeadlineExceeded", err)
	}
	// The late answer is dropped; the message behind it still completes.
	p.reply(lateReq, nil)
	p.reply(nextReq, nil)
	if err := recvErr(t, next); err != nil {
		t.Errorf("message behind the late one: %v", err)
	}
	if err := c.Err(); err != nil {
		t.Errorf("connection ended: %v", err)
	}
}

func TestStartSendMessageConnectionLossFailsOutstanding(t *testing.T) {
	srv := newScriptServer(t)
	c, p := inConference(t, srv.config(), srv)
	first := startSend(c, context.Background(), "one")
	second := startSend(c, context.Background(), "two")
	p.expect(gwproto.CmdSendMessage)
	p.expect(gwproto.CmdSendMessage)
	_ = p.conn.Close()
	for _, ch := range []<-chan error{first, second} {
		if err := recvErr(t, ch); !errors.Is(err, ErrConnectionLost) {
			t.Errorf("outstanding message: %v, want ErrConnectionLost", err)
		}
	}
	if err := recvErr(t, startSend(c, context.Background(), "after")); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("message after the loss: %v, want ErrConnectionLost", err)
	}
}

func TestStartSendMessageUnansweredEndsConnection(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	cfg.RequestTimeout = 100 * time.Millisecond
	c, p := inConference(t, cfg, srv)
	pending := startSend(c, context.Background(), "hi")
	p.expect(gwproto.CmdSendMessage) // read, never answered
	if err := recvErr(t, pending); !errors.Is(err, ErrTimeout) {
		t.Fatalf("unanswered message: %v, want ErrTimeout", err)
	}
	if err := waitDone(t, c); !errors.Is(err, ErrTimeout) {
		t.Errorf("Err() = %v, want ErrTimeout", err)
	}
}

func TestCloseFailsOutstandingMessages(t *testing.T) {
	srv := newScriptServer(t)
	c, p := inConference(t, srv.config(), srv)
	pending := startSend(c, context.Background(), "hi")
	p.expect(gwproto.CmdSendMessage)
	_ = c.Close()
	if err := recvErr(t, pending); !errors.Is(err, ErrClosed) {
		t.Errorf("outstanding message after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkStartSendMessage keeps up to 1 or 32 messages outstanding on
// one connection, as a pipelining backend does at low and at high load;
// compare BenchmarkSendMessage, which waits for each answer.
func BenchmarkStartSendMessage(b *testing.B) {
	for _, window := range []int{1, 32} {
		b.Run("window="+strconv.Itoa(window), func(b *testing.B) { benchmarkStartSendMessage(b, window) })
	}
}

func benchmarkStartSendMessage(b *testing.B, window int) {
	c, guid := benchConversation(b)
	slots := make(chan struct{}, window)
	failed := make(chan error, 1)
	done := func(err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
		<-slots
	}
	b.ReportAllocs()
	for b.Loop() {
		slots <- struct{}{}
		c.StartSendMessage(context.Background(), guid, benchText, done)
	}
	for range window {
		slots <- struct{}{}
	}
	select {
	case err := <-failed:
		b.Fatal(err)
	default:
	}
}
