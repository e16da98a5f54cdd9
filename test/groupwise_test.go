package test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

func init() { binaries["plugins/parley-backend-groupwise"] = "./cmd/parley-backend-groupwise" }

// gwUsers are the fake server's accounts: alice has bob in the root folder
// and carol in "Work"; bob has alice; carol has alice and bob; echo
// answers every message with the same text.
func gwUsers() []gwtest.User {
	return []gwtest.User{
		{ID: "alice", Password: "secret", FullName: "Alice Example", Contacts: []string{"bob"},
			Folders: []gwtest.Folder{{Name: "Work", Contacts: []string{"carol"}}}},
		{ID: "bob", Password: "secret", FullName: "Bob Example", Contacts: []string{"alice"}},
		{ID: "carol", Password: "secret", FullName: "Carol Example", Contacts: []string{"alice", "bob"}},
		{ID: "echo", Password: "secret", FullName: "Echo Bot", Echo: true},
	}
}

// gwParleyUsers are the same people in the gateway's configuration database.
var gwParleyUsers = []user{{"alice", "groupwise", true}, {"bob", "groupwise", true}, {"carol", "groupwise", true}}

// gwBackend is a backend block for the fake server srv on port, verified
// with srv's CA written to a file, the way an operator configures a
// private CA.
func gwBackend(t *testing.T, name string, srv *gwtest.Server, host string, port int, serverName string) string {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "gw-ca.pem")
	if err := os.WriteFile(caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsServerName := ""
	if serverName != "" {
		tlsServerName = fmt.Sprintf("server_name = %q", serverName)
	}
	return fmt.Sprintf(`
backend %q {
  plugin = "parley-backend-groupwise"
  server {
    host = %q
    port = %d
    tls {
      enabled = true
      ca_file = %q
      %s
    }
  }
  settings {
    request_timeout = "5s"
  }
}
`, name, host, port, caFile, tlsServerName)
}

// gwStart starts a fake GroupWise server and parleyd with a "groupwise"
// backend on it.
func gwStart(t *testing.T) (*gwtest.Server, *daemon) {
	t.Helper()
	srv := gwtest.NewServer(t, gwtest.WithUsers(gwUsers()))
	return srv, startDaemonWith(t, gwBackend(t, "groupwise", srv, "127.0.0.1", gwPort(t, srv), ""), gwParleyUsers...)
}

func gwPort(t *testing.T, srv *gwtest.Server) int {
	t.Helper()
	_, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gwFreePort returns a local port nothing listens on.
func gwFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// gwLogin logs name in from a new device and returns the link and what
// the gateway answered.
func gwLogin(t *testing.T, d *daemon, name string) (*client.Conn, *devicev1.SessionOpened) {
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

func gwCall(t *testing.T, c *client.Conn, m *devicev1.Message) *devicev1.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := c.Call(ctx, m)
	if err != nil {
		t.Fatalf("%T: %v", m.Body, err)
	}
	return resp
}

// gwWait reads c's events until every matcher has matched one (in any
// order) and returns the matching events in the matchers' order.
func gwWait(t *testing.T, c *client.Conn, what string, matchers ...func(*devicev1.Event) bool) []*devicev1.Event {
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

func gwPresence(user string, status devicev1.PresenceStatus) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		p := e.GetPresence()
		return p != nil && p.UserId == user && p.Status == status
	}
}

func gwMessage(from, conv, text string) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		m := e.GetMessage()
		return m != nil && m.From == from && m.Text == text && (conv == "" || m.ConversationId == conv)
	}
}

func gwConversation(change devicev1.ConversationChanged_Change, conv, user string) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		c := e.GetConversation()
		return c != nil && c.Change == change && c.ConversationId == conv && c.UserId == user
	}
}

func gwContact(change devicev1.ContactChanged_Change, user string) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		c := e.GetContact()
		return c != nil && c.Change == change && c.Contact.GetUserId() == user
	}
}

func gwSessionEnded(e *devicev1.Event) bool { return e.GetSessionEnded() != nil }

func gwFolder(snap *devicev1.Snapshot, name string) string {
	for _, f := range snap.GetFolders() {
		if f.Name == name {
			return f.Id
		}
	}
	return ""
}

func gwContactIn(snap *devicev1.Snapshot, user string) *devicev1.Contact {
	for _, c := range snap.GetContacts() {
		if c.UserId == user {
			return c
		}
	}
	return nil
}

func TestGroupWiseFoldersPresence(t *testing.T) {
	_, d := gwStart(t)
	alice, opened := gwLogin(t, d, "alice")
	snap := opened.GetSnapshot()
	if self := snap.GetSelf(); self.GetUserId() != "alice" || self.GetDisplayName() != "Alice Example" {
		t.Errorf("self = %v, want alice (Alice Example)", self)
	}
	work := gwFolder(snap, "Work")
	if work == "" || gwFolder(snap, "GroupWise Messenger") != "0" {
		t.Fatalf("folders %v: want the root folder and Work", snap.GetFolders())
	}
	bob, carol := gwContactIn(snap, "bob"), gwContactIn(snap, "carol")
	if bob.GetFolderId() != "0" || bob.GetDisplayName() != "Bob Example" || bob.GetStatus() != devicev1.PresenceStatus_OFFLINE {
		t.Errorf("bob = %v, want in the root folder, Bob Example, offline", bob)
	}
	if carol.GetFolderId() != work || carol.GetStatus() != devicev1.PresenceStatus_OFFLINE {
		t.Errorf("carol = %v, want in Work (%s), offline", carol, work)
	}
	if caps := opened.GetCapabilities(); caps.GetFileTransfer() || !caps.GetTyping() || !caps.GetGroupChat() || !caps.GetPresence() {
		t.Errorf("capabilities %v: want typing, group chat and presence, no file transfer", caps)
	}

	bobLink, _ := gwLogin(t, d, "bob")
	gwWait(t, alice, "bob online", gwPresence("bob", devicev1.PresenceStatus_AVAILABLE))
	gwCall(t, bobLink, &devicev1.Message{Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{
		Status: devicev1.PresenceStatus_AWAY, Note: "in a meeting — back at 3 ✓"}}})
	ev := gwWait(t, alice, "bob away", gwPresence("bob", devicev1.PresenceStatus_AWAY))[0]
	if note := ev.GetPresence().Note; note != "in a meeting — back at 3 ✓" {
		t.Errorf("note %q", note)
	}
	gwCall(t, bobLink, &devicev1.Message{Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{Status: devicev1.PresenceStatus_AVAILABLE}}})
	gwWait(t, alice, "bob back", gwPresence("bob", devicev1.PresenceStatus_AVAILABLE))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bobLink.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	gwWait(t, alice, "bob offline", gwPresence("bob", devicev1.PresenceStatus_OFFLINE))
}

func TestGroupWiseMessagesTyping(t *testing.T) {
	_, d := gwStart(t)
	alice, _ := gwLogin(t, d, "alice")
	bob, _ := gwLogin(t, d, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	text := "hello bob ünïcödé ✓ {braces} \\backslash & <b>not bold</b> 日本語 🎉"
	sent, err := alice.SendMessage(ctx, "bob", "", text, "a1")
	if err != nil {
		t.Fatal(err)
	}
	conv := sent.GetConversationId()
	gwWait(t, bob, "alice's message", gwMessage("alice", conv, text))
	reply := "hi alice, bob here ✓ ßüñ"
	if _, err := bob.SendMessage(ctx, "", conv, reply, "b1"); err != nil {
		t.Fatal(err)
	}
	gwWait(t, alice, "bob's reply", gwMessage("bob", conv, reply))

	gwCall(t, bob, &devicev1.Message{Body: &devicev1.Message_SendTyping{SendTyping: &devicev1.SendTyping{ConversationId: conv, Typing: true}}})
	gwWait(t, alice, "bob typing", func(e *devicev1.Event) bool {
		ty := e.GetTyping()
		return ty != nil && ty.From == "bob" && ty.ConversationId == conv && ty.Typing
	})
	gwCall(t, alice, &devicev1.Message{Body: &devicev1.Message_SendTyping{SendTyping: &devicev1.SendTyping{To: "bob", Typing: true}}})
	gwWait(t, bob, "alice typing", func(e *devicev1.Event) bool {
		ty := e.GetTyping()
		return ty != nil && ty.From == "alice" && ty.ConversationId == conv && ty.Typing
	})

	// A file offer is refused at once: GroupWise Messenger has no file
	// transfer.
	start := time.Now()
	_, err = alice.Call(ctx, &devicev1.Message{Body: &devicev1.Message_OfferFile{OfferFile: &devicev1.OfferFile{
		To: "bob", Name: "report.pdf", Size: 1234}}})
	if client.Code(err) != devicev1.ErrorCode_UNSUPPORTED {
		t.Fatalf("file offer: got %v, want UNSUPPORTED", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the file offer took %v to be refused", took)
	}
}

func TestGroupWiseConference(t *testing.T) {
	_, d := gwStart(t)
	alice, _ := gwLogin(t, d, "alice")
	bob, _ := gwLogin(t, d, "bob")
	carol, _ := gwLogin(t, d, "carol")
	resp := gwCall(t, alice, &devicev1.Message{Body: &devicev1.Message_CreateConversation{CreateConversation: &devicev1.CreateConversation{
		Participants: []string{"bob", "carol"}}}})
	conv := resp.GetConversationCreated().GetConversationId()
	if conv == "" {
		t.Fatalf("CreateConversation answered %v", resp)
	}
	invited := devicev1.ConversationChanged_INVITED
	gwWait(t, bob, "invitation", gwConversation(invited, conv, "alice"))
	gwWait(t, carol, "invitation", gwConversation(invited, conv, "alice"))
	joined := devicev1.ConversationChanged_JOINED
	gwWait(t, alice, "bob and carol joining", gwConversation(joined, conv, "bob"), gwConversation(joined, conv, "carol"))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	send := func(c *client.Conn, id, text string) {
		t.Helper()
		sent, err := c.SendMessage(ctx, "", conv, text, id)
		if err != nil || sent.GetConversationId() != conv {
			t.Fatalf("send %q: %v, %v", text, sent, err)
		}
	}
	send(alice, "a1", "welcome to the conference ✓")
	gwWait(t, bob, "alice's message", gwMessage("alice", conv, "welcome to the conference ✓"))
	gwWait(t, carol, "alice's message", gwMessage("alice", conv, "welcome to the conference ✓"))
	send(carol, "c1", "carol here — ünïcödé")
	gwWait(t, alice, "carol's message", gwMessage("carol", conv, "carol here — ünïcödé"))
	gwWait(t, bob, "carol's message", gwMessage("carol", conv, "carol here — ünïcödé"))

	gwCall(t, bob, &devicev1.Message{Body: &devicev1.Message_LeaveConversation{LeaveConversation: &devicev1.LeaveConversation{ConversationId: conv}}})
	left := devicev1.ConversationChanged_LEFT
	gwWait(t, alice, "bob leaving", gwConversation(left, conv, "bob"))
	gwWait(t, carol, "bob leaving", gwConversation(left, conv, "bob"))
}

func TestGroupWiseContacts(t *testing.T) {
	_, d := gwStart(t)
	bob, opened := gwLogin(t, d, "bob")
	if gwContactIn(opened.GetSnapshot(), "carol") != nil {
		t.Fatal("carol is already bob's contact")
	}
	gwCall(t, bob, &devicev1.Message{Body: &devicev1.Message_AddContact{AddContact: &devicev1.AddContact{
		UserId: "carol", FolderId: "Friends", DisplayName: "Carol (book club)"}}})
	ev := gwWait(t, bob, "carol added", gwContact(devicev1.ContactChanged_ADDED, "carol"))[0]
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	snap, err := bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	friends := gwFolder(snap, "Friends")
	carol := gwContactIn(snap, "carol")
	if friends == "" || carol.GetFolderId() != friends || carol.GetDisplayName() != "Carol (book club)" || ev.GetContact().Contact.GetFolderId() != friends {
		t.Fatalf("after adding carol to Friends: folders %v, carol %v", snap.GetFolders(), carol)
	}

	// Her presence now reaches bob.
	gwLogin(t, d, "carol")
	gwWait(t, bob, "carol online", gwPresence("carol", devicev1.PresenceStatus_AVAILABLE))

	gwCall(t, bob, &devicev1.Message{Body: &devicev1.Message_RemoveContact{RemoveContact: &devicev1.RemoveContact{UserId: "carol"}}})
	gwWait(t, bob, "carol removed", gwContact(devicev1.ContactChanged_REMOVED, "carol"))
	snap, err = bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := gwContactIn(snap, "carol"); c != nil {
		t.Fatalf("carol is still a contact: %v", c)
	}
}

func TestGroupWiseLoginErrors(t *testing.T) {
	srv := gwtest.NewServer(t, gwtest.WithUsers(gwUsers()))
	backends := gwBackend(t, "groupwise", srv, "127.0.0.1", gwPort(t, srv), "") +
		gwBackend(t, "gw-down", srv, "127.0.0.1", gwFreePort(t), "")
	d := startDaemonWith(t, backends, user{"alice", "groupwise", true}, user{"dave", "gw-down", true})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	_, err := d.dial(t, "alice-phone").Login(ctx, "alice", "not-her-password")
	if client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("wrong password: got %v, want UNAUTHENTICATED", err)
	}
	_, err = d.dial(t, "dave-phone").Login(ctx, "dave", "secret")
	if client.Code(err) != devicev1.ErrorCode_BACKEND_UNAVAILABLE {
		t.Fatalf("server unreachable: got %v, want BACKEND_UNAVAILABLE", err)
	}
	// The right password still works after a wrong one.
	gwLogin(t, d, "alice")
}

func TestGroupWiseServerCloses(t *testing.T) {
	srv, d := gwStart(t)
	alice, _ := gwLogin(t, d, "alice")
	if !srv.KickUser("alice") {
		t.Fatal("alice is not on the GroupWise server")
	}
	ev := gwWait(t, alice, "session ended", gwSessionEnded)[0]
	if r := ev.GetSessionEnded().Reason; r != devicev1.ErrorCode_BACKEND_UNAVAILABLE {
		t.Fatalf("session ended with %v, want BACKEND_UNAVAILABLE", r)
	}
}

func TestGroupWiseKicked(t *testing.T) {
	srv, d := gwStart(t)
	bob, _ := gwLogin(t, d, "bob")
	// bob signs on with another GroupWise client; the server tells the
	// gateway's connection (event 114).
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	other, err := gwclient.Dial(ctx, gwclient.Config{Server: "127.0.0.1", Port: gwPort(t, srv), RootCAs: srv.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Login(ctx, "bob", "secret"); err != nil {
		t.Fatal(err)
	}
	ev := gwWait(t, bob, "session ended", gwSessionEnded)[0]
	if r := ev.GetSessionEnded().Reason; r != devicev1.ErrorCode_RELOGIN_REQUIRED {
		t.Fatalf("session ended with %v, want RELOGIN_REQUIRED", r)
	}
}

func TestGroupWiseCustomPort(t *testing.T) {
	port := gwFreePort(t)
	if port == 8300 {
		t.Skip("the free port happens to be GroupWise's default")
	}
	srv := gwtest.NewServer(t, gwtest.WithUsers(gwUsers()), gwtest.WithAddr(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))))
	// Reach the server by IP and verify its certificate as "localhost".
	d := startDaemonWith(t, gwBackend(t, "groupwise", srv, "127.0.0.1", port, "localhost"), gwParleyUsers...)
	alice, _ := gwLogin(t, d, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := alice.SendMessage(ctx, "echo", "", "ping on a custom port ✓", "e1"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, alice, "echo", "ping on a custom port ✓")
}
