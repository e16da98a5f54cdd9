package link_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/core/frame"
	"github.com/parleygw/parley/core/link"
	"github.com/parleygw/parley/core/session"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// asyncHandler answers requests as the router does once requests travel
// on the plugin's ordered stream: HandleAsync returns at once, and the
// requests run in order on another goroutine, which calls done.
type asyncHandler struct {
	next  link.RequestHandler
	queue chan func()
}

func newAsyncHandler(t *testing.T, next link.RequestHandler) *asyncHandler {
	h := &asyncHandler{next: next, queue: make(chan func(), 1024)}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case run := <-h.queue:
				run()
			case <-stop:
				return
			}
		}
	}()
	return h
}

func (h *asyncHandler) HandleAsync(ctx context.Context, d *session.Device, m *devicev1.Message, done func(*devicev1.Message)) {
	h.queue <- func() { h.next.HandleAsync(ctx, d, m, done) }
}

// heldHandler holds every request until release, then runs the held ones
// from another goroutine, newest first, and the later ones at once.
type heldHandler struct {
	next     link.RequestHandler
	mu       sync.Mutex
	held     []func()
	released bool
	holding  chan int // len(held) after each request held
}

func newHeldHandler(next link.RequestHandler) *heldHandler {
	return &heldHandler{next: next, holding: make(chan int, 1024)}
}

func (h *heldHandler) HandleAsync(ctx context.Context, d *session.Device, m *devicev1.Message, done func(*devicev1.Message)) {
	h.mu.Lock()
	if h.released {
		h.mu.Unlock()
		h.next.HandleAsync(ctx, d, m, done)
		return
	}
	h.held = append(h.held, func() { h.next.HandleAsync(ctx, d, m, done) })
	n := len(h.held)
	h.mu.Unlock()
	h.holding <- n
}

// waitHeld waits until n requests are held.
func (h *heldHandler) waitHeld(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case held := <-h.holding:
			if held >= n {
				return
			}
		case <-timeout:
			t.Fatalf("%d requests never reached the handler", n)
		}
	}
}

func (h *heldHandler) heldCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

func (h *heldHandler) release() {
	h.mu.Lock()
	held := h.held
	h.held, h.released = nil, true
	h.mu.Unlock()
	go func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i]()
		}
	}()
}

func TestPipelinedSendsWithAnAsynchronousRouterAreAllAnsweredAndDelivered(t *testing.T) {
	g := startGateway(t, "alice", "bob")
	g.links.SetRequestHandler(newAsyncHandler(t, g.router))
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	const n, concurrent = 200, 32
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error, n)
	sem := make(chan struct{}, concurrent)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			sent, err := alice.SendMessage(ctx, "bob", "", fmt.Sprintf("pipelined %d", i), fmt.Sprintf("id-%d", i))
			if err == nil && sent.Duplicate {
				err = fmt.Errorf("message %d answered as a duplicate", i)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case e := <-bob.Events():
			text := e.GetMessage().GetText()
			if text == "" {
				continue
			}
			if seen[text] {
				t.Fatalf("%q delivered twice", text)
			}
			seen[text] = true
		case <-ctx.Done():
			t.Fatalf("bob got %d of %d messages", len(seen), n)
		}
	}
}

func TestLinkStopsReadingAtMaxInFlightRequests(t *testing.T) {
	const limit, n = 4, 10
	g := startGatewayOpts(t, gatewayOptions{session: session.Config{MaxSessions: 10}, link: link.Config{MaxInFlight: limit}}, "alice")
	held := newHeldHandler(g.router)
	g.links.SetRequestHandler(held)
	alice := g.login(t, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := alice.Call(ctx, &devicev1.Message{Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{
				Status: devicev1.PresenceStatus_AWAY}}})
			errs <- err
		}()
	}
	held.waitHeld(t, limit)
	for g.links.Throttled() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the link never stopped reading")
		case <-time.After(time.Millisecond):
		}
	}
	if got := held.heldCount(); got != limit {
		t.Fatalf("%d requests in flight, want the limit %d", got, limit)
	}
	held.release()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestLogoutWaitsForTheRequestsBeforeIt(t *testing.T) {
	g := startGateway(t, "alice")
	held := newHeldHandler(g.router)
	g.links.SetRequestHandler(held)
	conn := rawLink(t, g)
	out, in := frame.NewWriter(conn, frame.Limits{}), frame.NewReader(conn, frame.Limits{})
	send := func(msgs ...*devicev1.Message) {
		t.Helper()
		body, err := proto.Marshal(&devicev1.Frame{Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		if err := out.WriteFrame(body, false); err != nil {
			t.Fatal(err)
		}
		if err := out.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	receive := func() ([]*devicev1.Message, error) {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		body, err := in.ReadFrame()
		if err != nil {
			return nil, err
		}
		var f devicev1.Frame
		if err := proto.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		return f.Messages, nil
	}
	send(&devicev1.Message{Id: 1, Body: &devicev1.Message_Hello{Hello: &devicev1.Hello{ProtocolVersion: link.ProtocolVersion}}})
	send(&devicev1.Message{Id: 2, Body: &devicev1.Message_Login{Login: &devicev1.Login{User: "alice", Password: "secret"}}})
	for opened := false; !opened; {
		msgs, err := receive()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			opened = opened || m.GetSessionOpened() != nil
		}
	}
	// Five requests and the Logout in one frame: the gateway reads the
	// Logout while the five are still held.
	const first, n, logoutID = 10, 5, 20
	var msgs []*devicev1.Message
	for i := range n {
		msgs = append(msgs, &devicev1.Message{Id: uint64(first + i), Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{
			Status: devicev1.PresenceStatus_BUSY}}})
	}
	send(append(msgs, &devicev1.Message{Id: logoutID, Body: &devicev1.Message_Logout{Logout: &devicev1.Logout{}}})...)
	held.waitHeld(t, n)
	held.release()
	var answered []uint64
	for {
		msgs, err := receive()
		if err != nil {
			break // the link closes after the Logout's answer
		}
		for _, m := range msgs {
			if m.Id != 0 {
				if e := m.GetError(); e != nil {
					t.Fatalf("request %d: %v", m.Id, e)
				}
				answered = append(answered, m.Id)
			}
		}
	}
	if len(answered) != n+1 || answered[n] != logoutID {
		t.Fatalf("answers %v: want the %d requests answered, then the Logout's Ok", answered, n)
	}
}
