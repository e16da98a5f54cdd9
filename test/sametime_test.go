package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sametime/sttest"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

func init() { binaries["plugins/parley-backend-sametime"] = "./cmd/parley-backend-sametime" }

// The fake Sametime server's accounts are sttest.DemoUsers: alice has bob
// and carol in the group "Buddies", bob has alice, carol has nobody; all
// have the password "secret". Every fake listens on a random port, so each
// test also covers a server on a port other than Sametime's 1533.

// stUsers are the same people in the gateway's configuration database.
var stUsers = []user{{"alice", "sametime", true}, {"bob", "sametime", true}, {"carol", "sametime", true}}

// stBackend is a backend block named name for a Sametime server at
// 127.0.0.1:port, with extra settings lines.
func stBackend(name string, port int, settings string) string {
	return fmt.Sprintf(`
backend %q {
  plugin = "parley-backend-sametime"
  server {
    host = "127.0.0.1"
    port = %d
  }
  settings {
    request_timeout = "5s"
    %s
  }
}
`, name, port, settings)
}

func stPort(t *testing.T, hostport string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	if p == stproto.DefaultPort {
		t.Skip("the random port happens to be Sametime's default")
	}
	return p
}

// stStart starts a fake Sametime server and parleyd with a "sametime"
// backend on it.
func stStart(t *testing.T) (*sttest.Server, *daemon) {
	t.Helper()
	srv := sttest.NewServer(t)
	return srv, startDaemonWith(t, stBackend("sametime", stPort(t, srv.Addr()), ""), stUsers...)
}

func stSend(t *testing.T, c *client.Conn, to, conv, text, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sent, err := c.SendMessage(ctx, to, conv, text, id)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return sent.GetConversationId()
}

func stPresence(user string, status devicev1.PresenceStatus, note string) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		p := e.GetPresence()
		return p != nil && p.UserId == user && p.Status == status && p.Note == note
	}
}

func TestSametimeBuddyListPresence(t *testing.T) {
	_, d := stStart(t)
	alice, opened := loginDevice(t, d, "alice")
	snap := opened.GetSnapshot()
	if self := snap.GetSelf(); self.GetUserId() != "alice" || self.GetDisplayName() != "Alice Example" {
		t.Errorf("self = %v, want alice (Alice Example)", self)
	}
	if f := snap.GetFolders(); len(f) != 1 || f[0].Id != "Buddies" {
		t.Errorf("folders %v, want the stored group Buddies", f)
	}
	for _, id := range []string{"bob", "carol"} {
		c := contactIn(snap, id)
		if c.GetFolderId() != "Buddies" || c.GetStatus() != devicev1.PresenceStatus_OFFLINE || c.GetDisplayName() == "" {
			t.Errorf("%s = %v, want in Buddies, named, offline", id, c)
		}
	}
	caps := opened.GetCapabilities()
	if !caps.GetFileTransfer() || caps.GetMaxFileBytes() != 1<<20 || !caps.GetTyping() || !caps.GetGroupChat() || !caps.GetPresence() {
		t.Errorf("capabilities %v: want file transfer up to 1 MiB, typing, group chat, presence", caps)
	}

	// bob sees alice online at login; alice is told bob came online.
	bob, opened := loginDevice(t, d, "bob")
	if c := contactIn(opened.GetSnapshot(), "alice"); c.GetStatus() != devicev1.PresenceStatus_AVAILABLE {
		t.Errorf("alice in bob's snapshot: %v, want available", c)
	}
	waitEvent(t, alice, "bob online", stPresence("bob", devicev1.PresenceStatus_AVAILABLE, ""))

	note := "in a meeting — back at 3 ✓"
	call(t, bob, &devicev1.Message{Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{
		Status: devicev1.PresenceStatus_AWAY, Note: note}}})
	waitEvent(t, alice, "bob away", stPresence("bob", devicev1.PresenceStatus_AWAY, note))
	call(t, alice, &devicev1.Message{Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{
		Status: devicev1.PresenceStatus_BUSY, Note: "do not disturb"}}})
	waitEvent(t, bob, "alice busy", stPresence("alice", devicev1.PresenceStatus_BUSY, "do not disturb"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The gateway sometimes closes the link before its answer to Logout
	// arrives (the session's end closes the device); the logout happened
	// all the same, which is what alice must see.
	if err := bob.Logout(ctx); err != nil && !errors.Is(err, client.ErrClosed) {
		t.Fatal(err)
	}
	waitEvent(t, alice, "bob offline", stPresence("bob", devicev1.PresenceStatus_OFFLINE, ""))
}

// recorder is a TCP proxy in front of the Sametime server that keeps a
// copy of everything that passes, to look at what the plugin puts on the
// wire.
type recorder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	seen   bytes.Buffer
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, target: target}
	var wg sync.WaitGroup
	var conns []net.Conn
	var connsMu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			connsMu.Lock()
			conns = append(conns, in, out)
			connsMu.Unlock()
			wg.Add(2)
			go r.pipe(&wg, out, in)
			go r.pipe(&wg, in, out)
		}
	}()
	return r
}

func (r *recorder) pipe(wg *sync.WaitGroup, dst, src net.Conn) {
	defer wg.Done()
	defer dst.Close()
	io.Copy(io.MultiWriter(dst, r), src)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen.Write(p)
}

func (r *recorder) saw(text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Contains(r.seen.Bytes(), []byte(text))
}

func (r *recorder) port(t *testing.T) int { return stPort(t, r.ln.Addr().String()) }

// TestSametimeMessagesTyping: messages both ways with unicode intact and
// typing both ways. IM channels are RC2-encrypted: the text never crosses
// the wire in clear, unless encryption is switched off, as carol's backend
// shows.
func TestSametimeMessagesTyping(t *testing.T) {
	srv := sttest.NewServer(t)
	encrypted, plain := newRecorder(t, srv.Addr()), newRecorder(t, srv.Addr())
	backends := stBackend("sametime", encrypted.port(t), "") +
		stBackend("st-plain", plain.port(t), "disable_encryption = true")
	d := startDaemonWith(t, backends, user{"alice", "sametime", true}, user{"bob", "sametime", true}, user{"carol", "st-plain", true})
	alice, _ := loginDevice(t, d, "alice")
	bob, _ := loginDevice(t, d, "bob")

	text := "hello bob ünïcödé ✓ {braces} & <b>not bold</b> 日本語 🎉"
	conv := stSend(t, alice, "bob", "", text, "a1")
	if conv != "im:bob" {
		t.Errorf("alice's conversation with bob is %q", conv)
	}
	ev := waitEvent(t, bob, "alice's message", isMessage("alice", "", text))
	back := ev.GetMessage().ConversationId
	reply := "hi alice, bob here ✓ ßüñ"
	stSend(t, bob, "", back, reply, "b1")
	waitEvent(t, alice, "bob's reply", isMessage("bob", conv, reply))
	if srv.Stats().MessagesRelayed < 2 {
		t.Errorf("server stats %+v: the messages did not go through it", srv.Stats())
	}
	for _, s := range []string{"ünïcödé ✓", "ßüñ"} {
		if encrypted.saw(s) {
			t.Errorf("%q crossed the wire in clear on an encrypted IM channel", s)
		}
	}

	call(t, bob, &devicev1.Message{Body: &devicev1.Message_SendTyping{SendTyping: &devicev1.SendTyping{ConversationId: back, Typing: true}}})
	waitEvent(t, alice, "bob typing", func(e *devicev1.Event) bool {
		ty := e.GetTyping()
		return ty != nil && ty.From == "bob" && ty.ConversationId == conv && ty.Typing
	})
	call(t, alice, &devicev1.Message{Body: &devicev1.Message_SendTyping{SendTyping: &devicev1.SendTyping{To: "bob", Typing: true}}})
	waitEvent(t, bob, "alice typing", func(e *devicev1.Event) bool {
		ty := e.GetTyping()
		return ty != nil && ty.From == "alice" && ty.ConversationId == back && ty.Typing
	})

	// The control: carol's backend opens channels without encryption.
	carol, _ := loginDevice(t, d, "carol")
	clear := "carol in clear ✓"
	stSend(t, carol, "alice", "", clear, "c1")
	waitEvent(t, alice, "carol's message", isMessage("carol", "im:carol", clear))
	if !plain.saw(clear) {
		t.Error("with encryption disabled the text should be visible on the wire; the check above proves nothing")
	}
}

func TestSametimeConference(t *testing.T) {
	srv, d := stStart(t)
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
	waitEvent(t, bob, "invitation", isConversation(invited, conv, "alice"))
	waitEvent(t, carol, "invitation", isConversation(invited, conv, "alice"))
	joined := devicev1.ConversationChanged_JOINED
	waitEvents(t, alice, "bob and carol joining", isConversation(joined, conv, "bob"), isConversation(joined, conv, "carol"))

	welcome := "welcome to the conference ✓"
	if got := stSend(t, alice, "", conv, welcome, "a1"); got != conv {
		t.Errorf("sent to %q, want %q", got, conv)
	}
	waitEvent(t, bob, "alice's message", isMessage("alice", conv, welcome))
	waitEvent(t, carol, "alice's message", isMessage("alice", conv, welcome))
	stSend(t, carol, "", conv, "carol here — ünïcödé", "c1")
	waitEvent(t, alice, "carol's message", isMessage("carol", conv, "carol here — ünïcödé"))
	waitEvent(t, bob, "carol's message", isMessage("carol", conv, "carol here — ünïcödé"))
	if n := srv.Stats().ConferenceTexts; n != 2 {
		t.Errorf("the server delivered %d conference texts, want 2", n)
	}

	call(t, bob, &devicev1.Message{Body: &devicev1.Message_LeaveConversation{LeaveConversation: &devicev1.LeaveConversation{ConversationId: conv}}})
	left := devicev1.ConversationChanged_LEFT
	waitEvent(t, alice, "bob leaving", isConversation(left, conv, "bob"))
	waitEvent(t, carol, "bob leaving", isConversation(left, conv, "bob"))
}

func TestSametimeLoginErrors(t *testing.T) {
	srv := sttest.NewServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downPort := stPort(t, closed.Addr().String())
	closed.Close() // nothing listens there any more
	backends := stBackend("sametime", stPort(t, srv.Addr()), "") + stBackend("st-down", downPort, "")
	d := startDaemonWith(t, backends, user{"alice", "sametime", true}, user{"bob", "st-down", true})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	_, err = d.dial(t, "alice-phone").Login(ctx, "alice", "not-her-password")
	if client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("wrong password: got %v, want UNAUTHENTICATED", err)
	}
	if st := srv.Stats(); st.LoginFailures != 1 {
		t.Errorf("server stats %+v: want the server to have refused one login", st)
	}
	_, err = d.dial(t, "bob-phone").Login(ctx, "bob", "secret")
	if client.Code(err) != devicev1.ErrorCode_BACKEND_UNAVAILABLE {
		t.Fatalf("server unreachable: got %v, want BACKEND_UNAVAILABLE", err)
	}
	// The right password still works after a wrong one.
	loginDevice(t, d, "alice")
}

func TestSametimeKicked(t *testing.T) {
	srv, d := stStart(t)
	alice, _ := loginDevice(t, d, "alice")
	if n := srv.KickUser("alice"); n != 1 {
		t.Fatalf("kicked %d sessions of alice, want 1", n)
	}
	ev := waitEvent(t, alice, "session ended", func(e *devicev1.Event) bool { return e.GetSessionEnded() != nil })
	if r := ev.GetSessionEnded().Reason; r != devicev1.ErrorCode_RELOGIN_REQUIRED {
		t.Fatalf("session ended with %v, want RELOGIN_REQUIRED", r)
	}
	// Logging in again starts a new Sametime session.
	loginDevice(t, d, "alice")
	if !srv.Online("alice") {
		t.Error("alice is not back on the server")
	}
}
