package sametime_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/parleygw/parley/plugins/sametime"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sametime/sttest"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

func errorsAs(err error, target **sdk.Error) bool { return errors.As(err, target) }

func TestConformance(t *testing.T) {
	sdktest.Run(t, sdktest.Harness{
		New:      func(*testing.T) sdk.Backend { return sametime.New() },
		Settings: []byte(`{"request_timeout": "5s"}`),
		Server: func(t *testing.T) sdk.ServerAddress {
			_, addr := startServer(t)
			return addr
		},
		Alice: sdktest.Account{Login: "alice", Password: "secret"},
		Bob:   sdktest.Account{Login: "bob", Password: "secret"},
	})
}

func TestInfoReportsConfiguredFileLimit(t *testing.T) {
	c := connect(t, `{"max_file_bytes": 250000}`, sdk.ServerAddress{})
	info, err := c.GetInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Capabilities{FileTransfer: true, MaxFileBytes: 250000, Typing: true, GroupChat: true, Presence: true, ContactManagement: true}
	if info.Name != "sametime" || info.Capabilities != want {
		t.Fatalf("info = %+v, want name sametime and capabilities %+v", info, want)
	}
	if def := sametime.New().Info().Capabilities.MaxFileBytes; def != 1<<20 {
		t.Errorf("default limit %d, want 1 MiB", def)
	}
}

func TestConfigureRefusesTLS(t *testing.T) {
	b := sametime.New()
	err := b.Configure(context.Background(), sdk.Config{DefaultServer: sdk.ServerAddress{Host: "st.example.com", TLS: true}, Events: discard{}})
	reasonOf(t, err, sdk.ReasonInvalidArgument)
}

type discard struct{}

func (discard) Emit(sdk.Event) {}

func TestServerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := serverAddress(t, ln.Addr().String())
	ln.Close() // nothing listens on the port any more
	c := connect(t, "", addr)
	_, err = c.OpenSession(context.Background(), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret", Server: addr})
	reasonOf(t, err, sdk.ReasonBackendUnavailable)
}

func TestWrongPasswordCountsAsLoginFailure(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, "", addr)
	_, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "nope", Server: addr})
	reasonOf(t, err, sdk.ReasonUnauthenticated)
	if st := srv.Stats(); st.LoginFailures != 1 || st.Logins != 0 {
		t.Errorf("server stats %+v, want one refused login", st)
	}
}

// TestCustomPortAndDefaultServer: a session without its own address uses
// the gateway's default server, on a port other than 1533.
func TestCustomPortAndDefaultServer(t *testing.T) {
	srv, addr := startServer(t)
	if addr.Port == stproto.DefaultPort {
		t.Skip("the fake server happened to get port 1533")
	}
	c := connect(t, "", addr)
	snap, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseSession(context.Background(), "s1") })
	if snap.Self.UserID != "alice" || !srv.Online("alice") {
		t.Fatalf("self %+v; server sees alice online: %v", snap.Self, srv.Online("alice"))
	}
}

// TestDefaultPort: port 0 means Sametime's well-known port 1533.
func TestDefaultPort(t *testing.T) {
	srv, err := sttest.Start(sttest.WithAddr("127.0.0.1:1533"))
	if err != nil {
		t.Skipf("port 1533 is not free here: %v", err)
	}
	t.Cleanup(srv.Close)
	addr := sdk.ServerAddress{Host: "127.0.0.1"}
	c := connect(t, "", addr)
	open(t, c, addr, "s1", "alice")
	if !srv.Online("alice") {
		t.Fatal("alice is not online on the server at port 1533")
	}
}

func TestKickedSessionEnds(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	if n := srv.KickUser("alice"); n != 1 {
		t.Fatalf("kicked %d sessions, want 1", n)
	}
	ev := c.WaitEvent(t, "s-alice", "session ended", eventOf(func(sdk.SessionEndedEvent) bool { return true }))
	if end := ev.Kind.(sdk.SessionEndedEvent); end.Reason != sdk.ReasonKicked || end.Message == "" {
		t.Fatalf("session ended with %+v, want reason kicked and a message", end)
	}
	_, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: "x"})
	reasonOf(t, err, sdk.ReasonSessionNotFound)
}

func TestServerGoneEndsSession(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	srv.Close()
	ev := c.WaitEvent(t, "s-alice", "session ended", eventOf(func(sdk.SessionEndedEvent) bool { return true }))
	if end := ev.Kind.(sdk.SessionEndedEvent); end.Reason != sdk.ReasonBackendUnavailable {
		t.Fatalf("session ended with %+v, want backend_unavailable", end)
	}
}

func TestStalledServerTimesOut(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, `{"request_timeout": "300ms"}`, addr)
	open(t, c, addr, "s-alice", "alice")
	srv.Stall()
	t.Cleanup(srv.Resume)
	_, err := c.CreateConversation(context.Background(), "s-alice", []string{"bob"})
	reasonOf(t, err, sdk.ReasonTimeout)
}

func TestDuplicateSessionID(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s1", "alice")
	_, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "s1", Login: "bob", Password: "secret", Server: addr})
	reasonOf(t, err, sdk.ReasonInvalidArgument)
}

func TestCloseSessionLogsOff(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-bob", "bob") // bob watches alice
	open(t, c, addr, "s-carol", "carol")
	open(t, c, addr, "s1", "alice")
	c.WaitEvent(t, "s-bob", "alice online", sdktest.PresenceOf("alice", sdk.StatusAvailable))
	if err := c.CloseSession(context.Background(), "s1"); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-bob", "alice offline", sdktest.PresenceOf("alice", sdk.StatusOffline))
	// Events are delivered in order: once a message sent after the close
	// arrived, a SessionEnded of s1 would have too.
	if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-bob", To: "carol", Text: "marker"}); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-carol", "marker", sdktest.MessageFrom("bob", "marker"))
	for _, e := range c.Events("s1") {
		if _, ended := e.Kind.(sdk.SessionEndedEvent); ended {
			t.Error("a session closed by the gateway reported SessionEnded")
		}
	}
	if err := c.CloseSession(context.Background(), "s1"); err != nil {
		t.Errorf("closing a closed session: %v", err)
	}
}
