package stclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// waitDone waits for the end of the session.
func waitDone(t *testing.T, c *stclient.Client) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(testTimeout):
		t.Fatal("session did not end")
	}
}

// drainToDisconnect reads events until the channel closes and returns the
// DisconnectEvent seen, if any.
func drainToDisconnect(t *testing.T, c *stclient.Client) *stclient.DisconnectEvent {
	t.Helper()
	var last *stclient.DisconnectEvent
	timeout := time.After(testTimeout)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return last
			}
			if d, ok := ev.(stclient.DisconnectEvent); ok {
				last = &d
			}
		case <-timeout:
			t.Fatal("events channel not closed")
		}
	}
}

func TestServerClosesConnection(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	_ = s.sc.conn.Close()
	waitDone(t, s.c)
	errorIs(t, s.c.Err(), stclient.ErrConnectionLost)
	d := drainToDisconnect(t, s.c)
	if d == nil || !errors.Is(d.Err, stclient.ErrConnectionLost) {
		t.Fatalf("disconnect event %+v", d)
	}
	// Calls after the end fail fast with the cause.
	err := s.c.SendText(context.Background(), "bob", "hello")
	errorIs(t, err, stclient.ErrConnectionLost)
}

func TestServerEndsSession(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	s.sc.send(&stproto.Message{Body: &stproto.ChannelDestroy{Reason: stproto.ReasonMultiLogin}})
	waitDone(t, s.c)
	errorIs(t, s.c.Err(), stclient.ErrLoggedOff)
	errorIs(t, s.c.Err(), stproto.ReasonMultiLogin)
	if id, d := s.sc.nextDestroy(); id != 0 || d.Reason != stproto.ReasonMultiLogin {
		t.Errorf("echo: destroy ch %d reason %v", id, d.Reason)
	}
}

func TestCloseLogsOff(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	if err := s.c.Close(); err != nil {
		t.Fatal(err)
	}
	// One destroy per open channel, then channel 0 (spec §3.8).
	closed := map[uint32]bool{}
	for {
		id, d := s.sc.nextDestroy()
		if d.Reason != 0 {
			t.Errorf("destroy ch %d with reason %v", id, d.Reason)
		}
		if id == 0 {
			break
		}
		closed[id] = true
	}
	for svc, id := range s.services {
		if !closed[id] {
			t.Errorf("%v channel %d not closed before logoff", svc, id)
		}
	}
	errorIs(t, s.c.Err(), stclient.ErrClosed)
	drainToDisconnect(t, s.c)
	if err := s.c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStalledServerRequest(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.RequestTimeout = 200 * time.Millisecond
	s := loginSession(t, srv, cfg)
	// The storage channel is open but the server never answers LOAD.
	_, err := s.c.LoadBuddyList(context.Background())
	errorIs(t, err, stclient.ErrTimeout)
	// The session itself survives a slow reply.
	if s.c.Err() != nil {
		t.Fatalf("session ended: %v", s.c.Err())
	}
}

func TestStalledChannelOpen(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.RequestTimeout = 200 * time.Millisecond
	s := loginSession(t, srv, cfg)
	err := s.c.SendText(context.Background(), "bob", "anyone there?")
	errorIs(t, err, stclient.ErrTimeout)
	// The abandoned channel is closed again.
	create := s.sc.nextCreate(stproto.ServiceIM)
	if id, _ := s.sc.nextDestroy(); id != create.ID {
		t.Errorf("destroyed ch %d, want the abandoned %d", id, create.ID)
	}
}

func TestContextBoundsRequests(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.c.Resolve(ctx, stproto.ResolveCheckUsers, "bob")
	errorIs(t, err, context.DeadlineExceeded)
}

func TestSlowConsumerEndsSession(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.EventBuffer = 1
	cfg.EventTimeout = 100 * time.Millisecond
	s := loginSession(t, srv, cfg)
	for range 3 {
		s.sc.send(&stproto.Message{Body: &stproto.Admin{Text: "maintenance tonight"}})
	}
	waitDone(t, s.c)
	errorIs(t, s.c.Err(), stclient.ErrSlowConsumer)
	// What was queued is still delivered.
	if ev, ok := <-s.c.Events(); !ok || ev.(stclient.AdminEvent).Text != "maintenance tonight" {
		t.Errorf("first event %v %v", ev, ok)
	}
}

func TestKeepalive(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.KeepaliveInterval = 20 * time.Millisecond
	s := loginSession(t, srv, cfg)
	// Read the login-time frames: the status and the awareness set-up.
	for status, watch, attr := false, false, false; !status || !watch || !attr; {
		m := s.sc.read()
		switch b := m.Body.(type) {
		case *stproto.SetUserStatus:
			status = true
		case *stproto.ChannelSend:
			watch = watch || b.Type == stproto.AwareMsgOptWatch
			attr = attr || b.Type == stproto.AwareMsgOptDoSet
		}
	}
	// Nothing else is pending, so the next byte must be a keepalive.
	_ = s.sc.conn.SetReadDeadline(time.Now().Add(testTimeout))
	b, err := s.sc.br.ReadByte()
	if err != nil || b != stproto.Keepalive {
		t.Fatalf("read %#x %v, want keepalive 0x80", b, err)
	}
	// Keepalives from the server are ignored.
	if _, err := s.sc.conn.Write([]byte{0x80, 0x80}); err != nil {
		t.Fatal(err)
	}
	s.sc.send(&stproto.Message{Body: &stproto.Admin{Text: "still here"}})
	if ev := nextEvent[stclient.AdminEvent](t, s.c); ev.Text != "still here" {
		t.Errorf("admin text %q", ev.Text)
	}
}

func TestServerMessages(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	s.sc.send(&stproto.Message{Body: &stproto.SetUserStatus{Status: stproto.UserStatus{Status: stproto.StatusAway, Desc: "lunch"}}})
	if ev := nextEvent[stclient.StatusEvent](t, s.c); ev.Status.Status != stproto.StatusAway || ev.Status.Desc != "lunch" {
		t.Errorf("status event %+v", ev)
	}
	sender := loginInfo("carol", "carol-login-03")
	s.sc.send(&stproto.Message{Body: &stproto.Announce{Sender: &sender, MayReply: true, Text: "fire drill", Recipients: []string{"@U alice"}}})
	if ev := nextEvent[stclient.AnnouncementEvent](t, s.c); ev.From != "carol" || ev.Text != "fire drill" || !ev.MayReply {
		t.Errorf("announcement %+v", ev)
	}
}

func TestRejectsMisnumberedChannel(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	creator := loginInfo("carol", "carol-login-03")
	addtl, _ := stproto.IMCreateAddtl{ClientType: stproto.IMClientPlain}.Marshal()
	s.sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: 7, Service: stproto.ServiceIM, ProtoType: 0x1000, ProtoVer: 3, Addtl: addtl, Creator: &creator,
	}})
	if id, d := s.sc.nextDestroy(); id != 7 || d.Reason != stproto.ReasonRequestInvalid {
		t.Errorf("destroy ch %d reason %v, want 7 %v", id, d.Reason, stproto.ReasonRequestInvalid)
	}
	s.sc.send(&stproto.Message{Body: &stproto.ChannelCreate{ID: 0x80000009, Service: stproto.ServicePlace, Creator: &creator}})
	if id, d := s.sc.nextDestroy(); id != 0x80000009 || d.Reason != stproto.ReasonServiceNotSupported {
		t.Errorf("destroy ch %#x reason %v", id, d.Reason)
	}
}
