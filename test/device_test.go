package test

import (
	"context"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Device-side helpers shared by the backends' end-to-end tests.

// loginDevice logs name in from a new device and returns the link and
// what the gateway answered.
func loginDevice(t *testing.T, d *daemon, name string) (*client.Conn, *devicev1.SessionOpened) {
	t.Helper()
	c := d.dial(t, name+"-phone")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	opened, err := c.Login(ctx, name, "secret")
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return c, opened
}

// call sends one request and fails the test on an error answer.
func call(t *testing.T, c *client.Conn, m *devicev1.Message) *devicev1.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, m)
	if err != nil {
		t.Fatalf("%T: %v", m.Body, err)
	}
	return resp
}

// waitEvent reads c's events until one matches and returns it.
func waitEvent(t *testing.T, c *client.Conn, what string, match func(*devicev1.Event) bool) *devicev1.Event {
	t.Helper()
	return waitEvents(t, c, what, match)[0]
}

// waitEvents reads c's events until each matcher has matched one, in any
// order, and returns them in the matchers' order.
func waitEvents(t *testing.T, c *client.Conn, what string, matchers ...func(*devicev1.Event) bool) []*devicev1.Event {
	t.Helper()
	got := make([]*devicev1.Event, len(matchers))
	left := len(matchers)
	timeout := time.After(15 * time.Second)
	for left > 0 {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("link closed while waiting for %s: %v", what, c.Err())
			}
			for i, m := range matchers {
				if got[i] == nil && m(e) {
					got[i] = e
					left--
					break
				}
			}
		case <-timeout:
			t.Fatalf("no %s within 15s (%d of %d seen)", what, len(matchers)-left, len(matchers))
		}
	}
	return got
}

// isMessage matches a chat message; an empty conv matches any conversation.
func isMessage(from, conv, text string) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		m := e.GetMessage()
		return m != nil && m.From == from && m.Text == text && (conv == "" || m.ConversationId == conv)
	}
}

// isConversation matches a participant change in a conversation.
func isConversation(change devicev1.ConversationChanged_Change, conv, user string) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		c := e.GetConversation()
		return c != nil && c.Change == change && c.ConversationId == conv && c.UserId == user
	}
}

// contactIn returns user's entry in a contact list snapshot, or nil.
func contactIn(snap *devicev1.Snapshot, user string) *devicev1.Contact {
	for _, c := range snap.GetContacts() {
		if c.UserId == user {
			return c
		}
	}
	return nil
}
