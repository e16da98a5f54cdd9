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

func gwPresence(user string, status devicev1.PresenceStatus) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		p := e.GetPresence()
		return p != nil && p.UserId == user && p.Status == status
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

func TestGroupWiseFoldersPresence(t *testing.T) {
	_, d := gwStart(t)
	alice, opened := loginDevice(t, d, "alice")
	snap := opened.GetSnapshot()
	if self := snap.GetSelf(); self.GetUserId() != "alice" || self.GetDisplayName() != "Alice Example" {
		t.Errorf("self = %v, want alice (Alice Example)", self)
	}
	work := gwFolder(snap, "Work")
	if work == "" || gwFolder(snap, "GroupWise Messenger") != "0" {
		t.Fatalf("folders %v: want the root folder and Work", snap.GetFolders())
	}
	bob, carol := contactIn(snap, "bob"), contactIn(snap, "carol")
	if bob.GetFolderId() != "0" || bob.GetDisplayName() != "Bob Example" || bob.GetStatus() != devicev1.PresenceStatus_OFFLINE {
		t.Errorf("bob = %v, want in the root folder, Bob Example, offline", bob)
	}
	if carol.GetFolderId() != work || carol.GetStatus() != devicev1.PresenceStatus_OFFLINE {
		t.Errorf("carol = %v, want in Work (%s), offline", carol, work)
	}
	if caps := opened.GetCapabilities(); caps.GetFileTransfer() || !caps.GetTyping() || !caps.GetGroupChat() || !caps.GetPresence() {
		t.Errorf("capabilities %v: want typing, group chat and presence, no file transfer", caps)
	}

	bobLink, _ := loginDevice(t, d, "bob")
	waitEvents(t, alice, "bob online", gwPresence("bob", devicev1.PresenceStatus_AVAILABLE))
	call(t, bobLink, &devicev1.Message{Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{
		Status: devicev1.PresenceStatus_AWAY, Note: "in a meeting — back at 3 ✓"}}})
	ev := waitEvents(t, alice, "bob away", gwPresence("bob", devicev1.PresenceStatus_AWAY))[0]
	if note := ev.GetPresence().Note; note != "in a meeting — back at 3 ✓" {
		t.Errorf("note %q", note)
	}
	call(t, bobLink, &devicev1.Message{Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{Status: devicev1.PresenceStatus_AVAILABLE}}})
	waitEvents(t, alice, "bob back", gwPresence("bob", devicev1.PresenceStatus_AVAILABLE))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bobLink.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, alice, "bob offline", gwPresence("bob", devicev1.PresenceStatus_OFFLINE))
}

func TestGroupWiseMessagesTyping(t *testing.T) {
	_, d := gwStart(t)
	alice, _ := loginDevice(t, d, "alice")
	bob, _ := loginDevice(t, d, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	text := "hello bob ünïcödé ✓ {braces} \\backslash & <b>not bold</b> 日本語 🎉"
	sent, err := alice.SendMessage(ctx, "bob", "", text, "a1")
	if err != nil {
		t.Fatal(err)
	}
	conv := sent.GetConversationId()
	waitEvents(t, bob, "alice's message", isMessage("alice", conv, text))
	reply := "hi alice, bob here ✓ ßüñ"
	if _, err := bob.SendMessage(ctx, "", conv, reply, "b1"); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, alice, "bob's reply", isMessage("bob", conv, reply))

	call(t, bob, &devicev1.Message{Body: &devicev1.Message_SendTyping{SendTyping: &devicev1.SendTyping{ConversationId: conv, Typing: true}}})
	waitEvents(t, alice, "bob typing", func(e *devicev1.Event) bool {
		ty := e.GetTyping()
		return ty != nil && ty.From == "bob" && ty.ConversationId == conv && ty.Typing
	})
	call(t, alice, &devicev1.Message{Body: &devicev1.Message_SendTyping{SendTyping: &devicev1.SendTyping{To: "bob", Typing: true}}})
	waitEvents(t, bob, "alice typing", func(e *devicev1.Event) bool {
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
	alice, _ := loginDevice(t, d, "alice")
	bob, _ := loginDevice(t, d, "bob")
	carol, _ := loginDevice(t, d, "carol")
	resp := call(t, alice, &devicev1.Message{Body: &devicev1.Message_CreateConversation{CreateConversation: &devicev1.CreateConversation{
		Participants: []string{"bob", "carol"}}}})
	conv := resp.GetConversationCreated().GetConversationId()
	if conv == "" {
		t.Fatalf("CreateConversation answered %v", resp)
	}
	invited := devicev1.ConversationChanged_INVITED
	waitEvents(t, bob, "invitation", isConversation(invited, conv, "alice"))
	waitEvents(t, carol, "invitation", isConversation(invited, conv, "alice"))
	joined := devicev1.ConversationChanged_JOINED
	waitEvents(t, alice, "bob and carol joining", isConversation(joined, conv, "bob"), isConversation(joined, conv, "carol"))

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
	waitEvents(t, bob, "alice's message", isMessage("alice", conv, "welcome to the conference ✓"))
	waitEvents(t, carol, "alice's message", isMessage("alice", conv, "welcome to the conference ✓"))
	send(carol, "c1", "carol here — ünïcödé")
	waitEvents(t, alice, "carol's message", isMessage("carol", conv, "carol here — ünïcödé"))
	waitEvents(t, bob, "carol's message", isMessage("carol", conv, "carol here — ünïcödé"))

	call(t, bob, &devicev1.Message{Body: &devicev1.Message_LeaveConversation{LeaveConversation: &devicev1.LeaveConversation{ConversationId: conv}}})
	left := devicev1.ConversationChanged_LEFT
	waitEvents(t, alice, "bob leaving", isConversation(left, conv, "bob"))
	waitEvents(t, carol, "bob leaving", isConversation(left, conv, "bob"))
}

func TestGroupWiseContacts(t *testing.T) {
	_, d := gwStart(t)
	bob, opened := loginDevice(t, d, "bob")
	if contactIn(opened.GetSnapshot(), "carol") != nil {
		t.Fatal("carol is already bob's contact")
	}
	call(t, bob, &devicev1.Message{Body: &devicev1.Message_AddContact{AddContact: &devicev1.AddContact{
		UserId: "carol", FolderId: "Friends", DisplayName: "Carol (book club)"}}})
	ev := waitEvents(t, bob, "carol added", gwContact(devicev1.ContactChanged_ADDED, "carol"))[0]
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	snap, err := bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	friends := gwFolder(snap, "Friends")
	carol := contactIn(snap, "carol")
	if friends == "" || carol.GetFolderId() != friends || carol.GetDisplayName() != "Carol (book club)" || ev.GetContact().Contact.GetFolderId() != friends {
		t.Fatalf("after adding carol to Friends: folders %v, carol %v", snap.GetFolders(), carol)
	}

	// Her presence now reaches bob.
	loginDevice(t, d, "carol")
	waitEvents(t, bob, "carol online", gwPresence("carol", devicev1.PresenceStatus_AVAILABLE))

	call(t, bob, &devicev1.Message{Body: &devicev1.Message_RemoveContact{RemoveContact: &devicev1.RemoveContact{UserId: "carol"}}})
	waitEvents(t, bob, "carol removed", gwContact(devicev1.ContactChanged_REMOVED, "carol"))
	snap, err = bob.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := contactIn(snap, "carol"); c != nil {
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
	loginDevice(t, d, "alice")
}

func TestGroupWiseServerCloses(t *testing.T) {
	srv, d := gwStart(t)
	alice, _ := loginDevice(t, d, "alice")
	if !srv.KickUser("alice") {
		t.Fatal("alice is not on the GroupWise server")
	}
	ev := waitEvents(t, alice, "session ended", gwSessionEnded)[0]
	if r := ev.GetSessionEnded().Reason; r != devicev1.ErrorCode_BACKEND_UNAVAILABLE {
		t.Fatalf("session ended with %v, want BACKEND_UNAVAILABLE", r)
	}
}

func TestGroupWiseKicked(t *testing.T) {
	srv, d := gwStart(t)
	bob, _ := loginDevice(t, d, "bob")
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
	ev := waitEvents(t, bob, "session ended", gwSessionEnded)[0]
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
	alice, _ := loginDevice(t, d, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := alice.SendMessage(ctx, "echo", "", "ping on a custom port ✓", "e1"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, alice, "echo", "ping on a custom port ✓")
}
