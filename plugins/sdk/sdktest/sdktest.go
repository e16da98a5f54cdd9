// Package sdktest checks a backend against the plugin contract. Run it from
// a plugin's tests:
//
//	func TestConformance(t *testing.T) {
//		sdktest.Run(t, sdktest.Harness{New: func(t *testing.T) sdk.Backend { return mybackend.New() }, ...})
//	}
//
// The backend is served over a real gRPC connection in memory, exactly as
// parleyd would see it as a plugin process. The memory sub-package is an
// in-process IM backend the gateway's own tests use.
package sdktest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/plugins/sdk"
)

// EventTimeout is how long the suite waits for an expected event.
var EventTimeout = 10 * time.Second

// Conn is a backend served over in-memory gRPC, with its event stream.
type Conn struct {
	*sdk.Client
	mu     sync.Mutex
	events []sdk.Event
	more   chan struct{}
	err    error
}

// Connect serves b in memory, configures it and subscribes to its events.
func Connect(t testing.TB, b sdk.Backend, settings []byte, server sdk.ServerAddress) *Conn {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: "sdktest", Level: hclog.Warn, Output: testWriter{t}})
	// Closing the client shuts the in-memory server down (go-plugin's
	// controller Shutdown); stopping it again here would race inside go-plugin.
	clientProto, _ := plugin.TestPluginGRPCConn(t, false, sdk.ServerPlugins(b, logger))
	t.Cleanup(func() { clientProto.Close() })
	client, err := sdk.Dispense(clientProto)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := client.Configure(ctx, settings, server); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	stream, err := client.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	c := &Conn{Client: client, more: make(chan struct{}, 1)}
	go c.pump(stream)
	return c
}

func (c *Conn) pump(stream *sdk.EventStream) {
	for {
		batch, err := stream.Recv()
		c.mu.Lock()
		c.events = append(c.events, batch...)
		c.err = err
		c.mu.Unlock()
		select {
		case c.more <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// WaitEvent returns the first event (seen so far or arriving within
// EventTimeout) of the session that match accepts, and removes it.
func (c *Conn) WaitEvent(t testing.TB, sessionID string, what string, match func(sdk.Event) bool) sdk.Event {
	t.Helper()
	deadline := time.NewTimer(EventTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, e := range c.events {
			if e.SessionID == sessionID && match(e) {
				c.events = append(c.events[:i:i], c.events[i+1:]...)
				c.mu.Unlock()
				return e
			}
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			t.Fatalf("waiting for %s: event stream ended: %v", what, err)
		}
		select {
		case <-c.more:
		case <-deadline.C:
			t.Fatalf("no %s for session %s within %v", what, sessionID, EventTimeout)
		}
	}
}

// Events returns the session's events received so far, without removing them.
func (c *Conn) Events(sessionID string) []sdk.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sdk.Event
	for _, e := range c.events {
		if e.SessionID == sessionID {
			out = append(out, e)
		}
	}
	return out
}

// MessageFrom matches a chat message from a user with the given text.
func MessageFrom(from, text string) func(sdk.Event) bool {
	return func(e sdk.Event) bool {
		m, ok := e.Kind.(sdk.MessageEvent)
		return ok && m.From == from && m.Text == text
	}
}

// PresenceOf matches a presence change of a user to a status.
func PresenceOf(user string, status sdk.PresenceStatus) func(sdk.Event) bool {
	return func(e sdk.Event) bool {
		p, ok := e.Kind.(sdk.PresenceEvent)
		return ok && p.UserID == user && p.Status == status
	}
}

// IsReason reports whether err carries the reason.
func IsReason(err error, r sdk.Reason) bool {
	return errors.Is(err, &sdk.Error{Reason: r})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
