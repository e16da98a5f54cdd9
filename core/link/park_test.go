package link_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleygw/parley/core/frame"
	"github.com/parleygw/parley/core/link"
	"github.com/parleygw/parley/core/session"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// waitParked waits until n links of the gateway have given up their
// writer goroutine.
func waitParked(t *testing.T, g *gateway, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.links.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d links parked, want %d", g.links.Parked(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIdleLinksGiveUpTheirWriterAndStillGetEverything(t *testing.T) {
	g := startGatewayOpts(t, gatewayOptions{session: session.Config{MaxSessions: 10},
		link: link.Config{QuietPeriod: 10 * time.Millisecond}}, "alice", "bob")
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	waitParked(t, g, 2)
	for i, text := range []string{"wakes bob's link", "and again after it parked"} {
		if _, err := alice.SendMessage(context.Background(), "bob", "", text, text); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		waitMessage(t, bob, "alice", text)
		waitParked(t, g, 2)
	}
	// a request on a parked link is answered
	if _, err := bob.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	// and a parked link learns that its device came back on a new link
	again := g.dial(t, "bob-phone")
	if _, err := again.Login(context.Background(), "bob", "secret"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bob.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the superseded parked link stayed open")
	}
}

func TestParkedLinkSendsItsHeartbeat(t *testing.T) {
	g := startGatewayOpts(t, gatewayOptions{session: session.Config{MaxSessions: 10},
		link: link.Config{Heartbeat: time.Second, QuietPeriod: 10 * time.Millisecond}}, "alice")
	conn := rawLink(t, g)
	out, in := frame.NewWriter(conn, frame.Limits{}), frame.NewReader(conn, frame.Limits{})
	send := func(m *devicev1.Message) {
		t.Helper()
		body, _ := proto.Marshal(&devicev1.Frame{Messages: []*devicev1.Message{m}})
		if err := out.WriteFrame(body, false); err != nil {
			t.Fatal(err)
		}
		if err := out.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	next := func() []*devicev1.Message {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		body, err := in.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		var f devicev1.Frame
		if err := proto.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		return f.Messages
	}
	send(&devicev1.Message{Id: 1, Body: &devicev1.Message_Hello{Hello: &devicev1.Hello{ProtocolVersion: link.ProtocolVersion}}})
	next()
	send(&devicev1.Message{Id: 2, Body: &devicev1.Message_Login{Login: &devicev1.Login{User: "alice", Password: "secret"}}})
	next()
	waitParked(t, g, 1)
	for pings := 0; pings < 2; {
		for _, m := range next() {
			if p := m.GetPing(); p != nil {
				pings++
				send(&devicev1.Message{Body: &devicev1.Message_Pong{Pong: &devicev1.Pong{Nonce: p.Nonce}}})
			}
		}
	}
}
