package sdktest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sdk"
)

// Account is a login on the backend's IM server.
type Account struct {
	Login    string
	Password string
	// UserID is how other users see this account (defaults to Login).
	UserID string
}

func (a Account) id() string {
	if a.UserID != "" {
		return a.UserID
	}
	return a.Login
}

// Harness describes the backend under test.
type Harness struct {
	// New returns a fresh, unconfigured backend.
	New func(t *testing.T) sdk.Backend
	// Settings are the backend's opaque settings (JSON).
	Settings []byte
	// Server, if set, starts the IM server for one test and returns its
	// address. Backends without a server leave it nil.
	Server func(t *testing.T) sdk.ServerAddress
	// Alice and Bob are two accounts that have each other as contacts.
	Alice, Bob Account
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	semverRE = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// Run checks the backend against the contract. Each check is a subtest.
func Run(t *testing.T, h Harness) {
	setup := func(t *testing.T) (*Conn, sdk.ServerAddress) {
		var addr sdk.ServerAddress
		if h.Server != nil {
			addr = h.Server(t)
		}
		return Connect(t, h.New(t), h.Settings, addr), addr
	}
	open := func(t *testing.T, c *Conn, addr sdk.ServerAddress, a Account, sid string) sdk.Snapshot {
		t.Helper()
		snap, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: sid, Login: a.Login, Password: a.Password, Server: addr})
		if err != nil {
			t.Fatalf("OpenSession(%s): %v", a.Login, err)
		}
		t.Cleanup(func() { c.CloseSession(context.Background(), sid) })
		return snap
	}

	t.Run("Info", func(t *testing.T) {
		c, _ := setup(t)
		info, err := c.GetInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !nameRE.MatchString(info.Name) {
			t.Errorf("name %q: want lower-case letters, digits and dashes (the binary is parley-backend-<name>)", info.Name)
		}
		if !semverRE.MatchString(info.Version) {
			t.Errorf("version %q is not semver", info.Version)
		}
		if !slices.Contains(info.APIVersions, sdk.APIVersion) {
			t.Errorf("api versions %v do not include %d", info.APIVersions, sdk.APIVersion)
		}
		if info.Capabilities.FileTransfer && info.Capabilities.MaxFileBytes == 0 {
			t.Errorf("file transfer without a max file size")
		}
	})

	t.Run("LoginReturnsContacts", func(t *testing.T) {
		c, addr := setup(t)
		snap := open(t, c, addr, h.Alice, "s-alice")
		if !strings.EqualFold(snap.Self.UserID, h.Alice.id()) {
			t.Errorf("self is %q, want %q", snap.Self.UserID, h.Alice.id())
		}
		if !slices.ContainsFunc(snap.Contacts, func(ct sdk.Contact) bool { return strings.EqualFold(ct.UserID, h.Bob.id()) }) {
			t.Errorf("contacts %+v do not include %q", snap.Contacts, h.Bob.id())
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		c, addr := setup(t)
		_, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "s-bad", Login: h.Alice.Login, Password: h.Alice.Password + "-wrong", Server: addr})
		if !IsReason(err, sdk.ReasonUnauthenticated) {
			t.Fatalf("wrong password: got %v, want reason %q", err, sdk.ReasonUnauthenticated)
		}
	})

	t.Run("UnknownSession", func(t *testing.T) {
		c, _ := setup(t)
		_, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "no-such-session", To: h.Bob.id(), Text: "x"})
		if !IsReason(err, sdk.ReasonSessionNotFound) {
			t.Fatalf("send on an unknown session: got %v, want reason %q", err, sdk.ReasonSessionNotFound)
		}
	})

	t.Run("MessagesBothWays", func(t *testing.T) {
		c, addr := setup(t)
		open(t, c, addr, h.Alice, "s-alice")
		open(t, c, addr, h.Bob, "s-bob")
		text := fmt.Sprintf("hello bob ünïcödé ✓ %d", time.Now().UnixNano())
		if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-alice", To: h.Bob.id(), Text: text, IdempotencyKey: "m1"}); err != nil {
			t.Fatalf("alice → bob: %v", err)
		}
		got := c.WaitEvent(t, "s-bob", "message from alice", MessageFrom(h.Alice.id(), text))
		conv := got.Kind.(sdk.MessageEvent).ConversationID
		reply := "hi alice, bob here ✓ ßüñ"
		if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-bob", ConversationID: conv, To: h.Alice.id(), Text: reply, IdempotencyKey: "r1"}); err != nil {
			t.Fatalf("bob → alice: %v", err)
		}
		c.WaitEvent(t, "s-alice", "reply from bob", MessageFrom(h.Bob.id(), reply))
	})

	t.Run("IdempotencyKey", func(t *testing.T) {
		c, addr := setup(t)
		open(t, c, addr, h.Alice, "s-alice")
		open(t, c, addr, h.Bob, "s-bob")
		for range 2 {
			if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-alice", To: h.Bob.id(), Text: "once", IdempotencyKey: "k-1"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-alice", To: h.Bob.id(), Text: "marker", IdempotencyKey: "k-2"}); err != nil {
			t.Fatal(err)
		}
		c.WaitEvent(t, "s-bob", "marker message", MessageFrom(h.Alice.id(), "marker"))
		c.WaitEvent(t, "s-bob", "the keyed message", MessageFrom(h.Alice.id(), "once"))
		for _, e := range c.Events("s-bob") {
			if MessageFrom(h.Alice.id(), "once")(e) {
				t.Fatal("a message sent twice with one idempotency key arrived twice")
			}
		}
	})

	t.Run("Presence", func(t *testing.T) {
		c, addr := setup(t)
		info, err := c.GetInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !info.Capabilities.Presence {
			t.Skip("backend reports no presence capability")
		}
		open(t, c, addr, h.Alice, "s-alice")
		open(t, c, addr, h.Bob, "s-bob")
		c.WaitEvent(t, "s-alice", "bob online", func(e sdk.Event) bool {
			p, ok := e.Kind.(sdk.PresenceEvent)
			return ok && strings.EqualFold(p.UserID, h.Bob.id()) && p.Status != sdk.StatusOffline
		})
		if err := c.CloseSession(context.Background(), "s-bob"); err != nil {
			t.Fatal(err)
		}
		c.WaitEvent(t, "s-alice", "bob offline", func(e sdk.Event) bool {
			p, ok := e.Kind.(sdk.PresenceEvent)
			return ok && strings.EqualFold(p.UserID, h.Bob.id()) && p.Status == sdk.StatusOffline
		})
	})

	t.Run("CapabilitiesHonest", func(t *testing.T) {
		c, addr := setup(t)
		info, err := c.GetInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		open(t, c, addr, h.Alice, "s-alice")
		if !info.Capabilities.FileTransfer {
			_, err := c.SendFile(context.Background(), sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: h.Bob.id(), Name: "a.txt", Size: 1}, strings.NewReader("x"))
			if !IsReason(err, sdk.ReasonUnsupported) {
				t.Errorf("file offer on a backend without file transfer: got %v, want %q", err, sdk.ReasonUnsupported)
			}
		}
		if !info.Capabilities.Typing {
			err := c.SendTyping(context.Background(), "s-alice", sdk.Typing{To: h.Bob.id(), Typing: true})
			if !IsReason(err, sdk.ReasonUnsupported) {
				t.Errorf("typing on a backend without typing: got %v, want %q", err, sdk.ReasonUnsupported)
			}
		}
	})
}
