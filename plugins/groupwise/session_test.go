package groupwise_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise"
	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

func TestSnapshotHasFoldersAndPlainUserIDs(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "bob")
	snap := e.open(t, "alice")
	if snap.Self.UserID != "alice" || snap.Self.DisplayName != "Alice Example" || snap.Self.Status != sdk.StatusAvailable {
		t.Errorf("self = %+v, want alice, Alice Example, available", snap.Self)
	}
	var work string
	for _, f := range snap.Folders {
		if f.Name == "Work" {
			work = f.ID
		}
	}
	if len(snap.Folders) != 2 || snap.Folders[0] != (sdk.Folder{ID: "0", Name: groupwise.DefaultRootFolderName}) || work == "" {
		t.Fatalf("folders = %+v, want the root folder and Work", snap.Folders)
	}
	want := map[string]sdk.Contact{
		"bob":   {UserID: "bob", DisplayName: "Bob Example", FolderID: "0", Status: sdk.StatusAvailable},
		"carol": {UserID: "carol", DisplayName: "Carol Example", FolderID: work, Status: sdk.StatusOffline},
	}
	if len(snap.Contacts) != len(want) {
		t.Fatalf("contacts = %+v, want bob and carol", snap.Contacts)
	}
	for _, c := range snap.Contacts {
		if c != want[c.UserID] {
			t.Errorf("contact %+v, want %+v", c, want[c.UserID])
		}
	}
}

func TestRootFolderNameSetting(t *testing.T) {
	e := newEnv(t, `{"root_folder_name": "Buddies"}`)
	snap := e.open(t, "alice")
	if snap.Folders[0] != (sdk.Folder{ID: "0", Name: "Buddies"}) {
		t.Fatalf("root folder = %+v, want Buddies", snap.Folders[0])
	}
}

func TestLoginRefusedIsUnauthenticated(t *testing.T) {
	e := newEnv(t, "")
	for _, tt := range []struct{ name, login, password string }{
		{"wrong password", "alice", "not-the-password"},
		{"unknown user", "mallory", "secret"},
		{"empty password", "alice", ""},
	} {
		_, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: "s1", Login: tt.login, Password: tt.password, Server: e.addr})
		wantReason(t, tt.name, err, sdk.ReasonUnauthenticated)
	}
	if e.srv.Online("alice") {
		t.Fatal("alice is online after refused logins")
	}
	// A refused login leaves no session behind.
	_, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s1", To: "bob", Text: "x"})
	wantReason(t, "send on the refused session", err, sdk.ReasonSessionNotFound)
}

// closedPort returns a local port nothing listens on.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return uint16(port)
}

func TestUnreachableServerIsBackendUnavailable(t *testing.T) {
	e := newEnv(t, "")
	other := gwtest.NewServer(t)
	for _, tt := range []struct {
		name   string
		server sdk.ServerAddress
	}{
		{"nothing listening", sdk.ServerAddress{Host: "127.0.0.1", Port: closedPort(t), TLS: true, CAPEM: e.srv.CACertPEM()}},
		{"certificate from another CA", sdk.ServerAddress{Host: e.addr.Host, Port: e.addr.Port, TLS: true, CAPEM: other.CACertPEM()}},
		{"certificate for another name", sdk.ServerAddress{Host: e.addr.Host, Port: e.addr.Port, TLS: true, CAPEM: e.srv.CACertPEM(), ServerName: "gw.example.com"}},
	} {
		_, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret", Server: tt.server})
		wantReason(t, tt.name, err, sdk.ReasonBackendUnavailable)
	}
}

func TestInsecureSkipVerifyOnlyWhenSet(t *testing.T) {
	e := newEnv(t, "")
	other := gwtest.NewServer(t)
	bad := e.addr
	bad.CAPEM = other.CACertPEM()
	_, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret", Server: bad})
	wantReason(t, "wrong CA", err, sdk.ReasonBackendUnavailable)
	bad.InsecureSkipVerify = true
	if _, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret", Server: bad}); err != nil {
		t.Fatalf("wrong CA with insecure_skip_verify: %v", err)
	}
	e.CloseSession(context.Background(), "s1")
}

func TestCustomPort(t *testing.T) {
	port := closedPort(t)
	srv := gwtest.NewServer(t, gwtest.WithUsers(testUsers()), gwtest.WithAddr(net.JoinHostPort("127.0.0.1", itoa(port))))
	c := sdktest.Connect(t, groupwise.New(), nil, sdk.ServerAddress{})
	addr := sdk.ServerAddress{Host: "127.0.0.1", Port: port, TLS: true, CAPEM: srv.CACertPEM()}
	if _, err := c.OpenSession(ctx(t), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret", Server: addr}); err != nil {
		t.Fatalf("login on port %d: %v", port, err)
	}
	defer c.CloseSession(context.Background(), "s1")
	if !srv.Online("alice") {
		t.Fatal("the server on the custom port has no alice")
	}
}

func TestDefaultPortIs8300(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:8300")
	if err != nil {
		t.Skipf("port 8300 is taken on this machine (%v); the default port cannot be tested here", err)
	}
	srv := gwtest.NewServer(t, gwtest.WithListener(ln))
	c := sdktest.Connect(t, groupwise.New(), nil, sdk.ServerAddress{})
	addr := sdk.ServerAddress{Host: "127.0.0.1", TLS: true, CAPEM: srv.CACertPEM()} // port 0
	if _, err := c.OpenSession(ctx(t), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret", Server: addr}); err != nil {
		t.Fatalf("login without a port: %v", err)
	}
	defer c.CloseSession(context.Background(), "s1")
	if !srv.Online("alice") {
		t.Fatal("alice did not reach the server on port 8300")
	}
}

func TestDefaultServerFromConfigure(t *testing.T) {
	e := newEnv(t, "")
	// The gateway configured e.addr as the default: credentials without a
	// server use it.
	if _, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	e.CloseSession(context.Background(), "s1")
}

func TestSignedOnElsewhereIsKicked(t *testing.T) {
	e := newEnv(t, "")
	if _, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: "first", Login: "alice", Password: "secret", Server: e.addr}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: "second", Login: "alice", Password: "secret", Server: e.addr}); err != nil {
		t.Fatal(err)
	}
	defer e.CloseSession(context.Background(), "second")
	ev := e.WaitEvent(t, "first", "session ended", sessionEnded)
	if end := ev.Kind.(sdk.SessionEndedEvent); end.Reason != sdk.ReasonKicked {
		t.Fatalf("first session ended with %+v, want reason kicked", end)
	}
	_, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "first", To: "bob", Text: "x"})
	wantReason(t, "send on the kicked session", err, sdk.ReasonSessionNotFound)
	if _, err := e.Snapshot(ctx(t), "second"); err != nil {
		t.Fatalf("the new session is gone too: %v", err)
	}
}

func TestServerClosingTheConnectionEndsTheSession(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	if !e.srv.KickUser("alice") {
		t.Fatal("alice is not online")
	}
	ev := e.WaitEvent(t, "s-alice", "session ended", sessionEnded)
	if end := ev.Kind.(sdk.SessionEndedEvent); end.Reason != sdk.ReasonBackendUnavailable {
		t.Fatalf("session ended with %+v, want reason backend_unavailable", end)
	}
	_, err := e.Snapshot(ctx(t), "s-alice")
	wantReason(t, "snapshot of the ended session", err, sdk.ReasonSessionNotFound)
}

func TestServerDisconnectEventEndsTheSession(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	if err := e.srv.Push("alice", gwproto.Event{Type: gwproto.EventServerDisconnect, Source: e.srv.DN("alice")}); err != nil {
		t.Fatal(err)
	}
	ev := e.WaitEvent(t, "s-alice", "session ended", sessionEnded)
	if end := ev.Kind.(sdk.SessionEndedEvent); end.Reason != sdk.ReasonBackendUnavailable {
		t.Fatalf("session ended with %+v, want reason backend_unavailable", end)
	}
}

func TestStalledServerTimesOut(t *testing.T) {
	e := newEnv(t, `{"request_timeout": "300ms"}`)
	e.open(t, "alice")
	e.srv.Stall(true)
	defer e.srv.Stall(false)
	_, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: "anyone there?"})
	wantReason(t, "send to a stalled server", err, sdk.ReasonTimeout)
	ev := e.WaitEvent(t, "s-alice", "session ended", sessionEnded)
	if end := ev.Kind.(sdk.SessionEndedEvent); end.Reason != sdk.ReasonBackendUnavailable {
		t.Fatalf("session ended with %+v, want reason backend_unavailable", end)
	}
}

func TestClosedSessionSignsOffWithoutAnEvent(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "bob")
	e.open(t, "alice")
	if err := e.CloseSession(ctx(t), "s-alice"); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-bob", "alice offline", sdktest.PresenceOf("alice", sdk.StatusOffline))
	if slices.ContainsFunc(e.Events("s-alice"), sessionEnded) {
		t.Fatal("a session the gateway closed reported its own end")
	}
	if err := e.CloseSession(ctx(t), "s-alice"); err != nil {
		t.Fatalf("closing a closed session: %v", err)
	}
}

func TestFileOfferIsUnsupported(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	info, err := e.GetInfo(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Capabilities.FileTransfer {
		t.Fatal("the backend claims file transfer; GroupWise Messenger has none")
	}
	_, err = e.SendFile(ctx(t), sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob", Name: "a.txt", Size: 1}, strings.NewReader("x"))
	wantReason(t, "file offer", err, sdk.ReasonUnsupported)
}

func TestSettingsAreValidated(t *testing.T) {
	srv := gwtest.NewServer(t)
	addr := serverAddress(t, srv)
	for _, tt := range []struct {
		name, settings, mention string
		server                  sdk.ServerAddress
	}{
		{"unknown field", `{"request_timeout": "10s", "keepalive": "30s"}`, `"keepalive"`, addr},
		{"not a duration", `{"request_timeout": "soon"}`, "request_timeout", addr},
		{"a number for a duration", `{"dial_timeout": 10}`, "dial_timeout", addr},
		{"zero duration", `{"keepalive_interval": "0s"}`, "keepalive_interval", addr},
		{"user agent with a newline", `{"user_agent": "a\nb"}`, "user_agent", addr},
		{"not an object", `["request_timeout"]`, "JSON object", addr},
		{"plain-text server", `{}`, "TLS", sdk.ServerAddress{Host: "127.0.0.1", Port: 8300}},
		{"CA without certificate", `{}`, "CA", sdk.ServerAddress{Host: "127.0.0.1", TLS: true, CAPEM: []byte("not PEM")}},
	} {
		err := groupwise.New().Configure(context.Background(), sdk.Config{Settings: []byte(tt.settings), DefaultServer: tt.server})
		if !sdktest.IsReason(err, sdk.ReasonInvalidArgument) || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: got %v, want invalid_argument mentioning %s", tt.name, err, tt.mention)
		}
	}
	ok := `{"dial_timeout": "5s", "request_timeout": "10s", "keepalive_interval": "30s", "user_agent": "Parley test", "root_folder_name": "Contacts"}`
	if err := groupwise.New().Configure(context.Background(), sdk.Config{Settings: []byte(ok), DefaultServer: addr}); err != nil {
		t.Fatalf("valid settings: %v", err)
	}
}

func TestServerThatNeverAnswersTheHandshakeIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn // accepted, never answered
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, conn)
		}
	}()
	defer func() {
		ln.Close()
		<-accepting
		for _, conn := range held {
			conn.Close()
		}
	}()
	c := sdktest.Connect(t, groupwise.New(), nil, sdk.ServerAddress{})
	addr := sdk.ServerAddress{Host: "127.0.0.1", Port: uint16(ln.Addr().(*net.TCPAddr).Port), TLS: true}
	// The gateway allows the call a second; the dial gives up in time to
	// say why.
	callCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = c.OpenSession(callCtx, sdk.Credentials{SessionID: "s1", Login: "alice", Password: "secret", Server: addr})
	wantReason(t, "server that never answers the TLS handshake", err, sdk.ReasonBackendUnavailable)
}

func TestSignOnIsAnnouncedOnce(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	e.open(t, "bob")
	e.WaitEvent(t, "s-alice", "bob online", sdktest.PresenceOf("bob", sdk.StatusAvailable))
	// The server announces bob at login and again for his client's first
	// setstatus; a later change is the marker that both have arrived.
	if err := e.SetPresence(ctx(t), "s-bob", sdk.Presence{Status: sdk.StatusBusy}); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-alice", "bob busy", sdktest.PresenceOf("bob", sdk.StatusBusy))
	if slices.ContainsFunc(e.Events("s-alice"), sdktest.PresenceOf("bob", sdk.StatusAvailable)) {
		t.Fatal("alice was told twice that bob is available")
	}
}
