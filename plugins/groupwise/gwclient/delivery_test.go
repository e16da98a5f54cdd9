package gwclient

import (
	"errors"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// handlerRecorder is a Handler that passes what it is given to channels.
type handlerRecorder struct {
	events chan Event
	ends   chan error
}

func newHandlerRecorder() *handlerRecorder {
	return &handlerRecorder{events: make(chan Event, 16), ends: make(chan error, 2)}
}

func (r *handlerRecorder) handler() Handler {
	return Handler{Event: func(ev Event) { r.events <- ev }, End: func(err error) { r.ends <- err }}
}

func (r *handlerRecorder) next(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return nil
	}
}

func (r *handlerRecorder) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.ends:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("End not called within 5s")
		return nil
	}
}

// pingThrough makes a ping round trip; once it returns, every event the
// server sent before its answer has been queued by the client.
func pingThrough(t *testing.T, c *Client, p *peer) {
	t.Helper()
	done := asyncCall(func() error { return c.Ping(t.Context()) })
	p.reply(p.expect(gwproto.CmdPing), nil)
	if err := recvErr(t, done); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestDeliverHandsEventsInOrderThenEnds(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	// One event waits in the queue before the handler is chosen.
	p.event(gwproto.Event{Type: gwproto.EventUserTyping, Source: bobDN, GUID: testGUID})
	pingThrough(t, c, p)
	rec := newHandlerRecorder()
	if err := c.Deliver(rec.handler()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	p.event(gwproto.Event{Type: gwproto.EventUserNotTyping, Source: bobDN, GUID: testGUID})
	p.event(gwproto.Event{Type: gwproto.EventServerDisconnect, Source: aliceDN})
	if ev, ok := rec.next(t).(Typing); !ok || !ev.Typing {
		t.Errorf("first event = %#v, want bob typing", ev)
	}
	if ev, ok := rec.next(t).(Typing); !ok || ev.Typing {
		t.Errorf("second event = %#v, want bob not typing", ev)
	}
	if ev, ok := rec.next(t).(ServerDisconnected); !ok {
		t.Errorf("third event = %#v, want ServerDisconnected", ev)
	}
	if err := rec.end(t); !errors.Is(err, ErrServerDisconnect) {
		t.Errorf("End(%v), want ErrServerDisconnect", err)
	}
	if _, open := <-c.Events(); open {
		t.Error("Events carried an event after Deliver")
	}
	_ = c.Close()
	if len(rec.ends) != 0 {
		t.Error("End called twice")
	}
}

func TestDeliverEndsOnClose(t *testing.T) {
	srv := newScriptServer(t)
	c, _ := loggedIn(t, srv, srv.config())
	rec := newHandlerRecorder()
	if err := c.Deliver(rec.handler()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	_ = c.Close()
	if err := rec.end(t); !errors.Is(err, ErrClosed) {
		t.Errorf("End(%v), want ErrClosed", err)
	}
}

func TestDeliverAfterCloseEndsAtOnce(t *testing.T) {
	srv := newScriptServer(t)
	c, _ := loggedIn(t, srv, srv.config())
	_ = c.Close()
	rec := newHandlerRecorder()
	if err := c.Deliver(rec.handler()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if err := rec.end(t); !errors.Is(err, ErrClosed) {
		t.Errorf("End(%v), want ErrClosed", err)
	}
}

func TestDeliverEndMayClose(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	closed := make(chan error, 1)
	if err := c.Deliver(Handler{Event: func(Event) {}, End: func(err error) {
		_ = c.Close()
		closed <- err
	}}); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	p.conn.Close()
	select {
	case err := <-closed:
		if !errors.Is(err, ErrConnectionLost) {
			t.Errorf("End(%v), want ErrConnectionLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close from End did not return")
	}
}

func TestDeliveryChosenOnce(t *testing.T) {
	srv := newScriptServer(t)
	c, _ := loggedIn(t, srv, srv.config())
	c.Events()
	if err := c.Deliver(newHandlerRecorder().handler()); !errors.Is(err, ErrDeliveryChosen) {
		t.Errorf("Deliver after Events = %v, want ErrDeliveryChosen", err)
	}
}
