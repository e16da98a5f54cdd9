package sametime_test

import (
	"context"
	"testing"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

// TestHTMLFromLibpurple: libpurple sends HTML with non-ASCII characters
// as character references and newlines as <br>; the device gets text.
func TestHTMLFromLibpurple(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	bob := dialPeer(t, addr, "bob")
	if err := bob.SendHTML(context.Background(), "alice", "gr&#252;&#223;e, <b>caf&#233;</b> &amp; &lt;tea&gt;<br>second line"); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-alice", "html message", sdktest.MessageFrom("bob", "grüße, café & <tea>\nsecond line"))
}

func TestMessageToPeerClient(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	bob := dialPeer(t, addr, "bob")
	text := "ünïcödé ✓ 日本語"
	conv, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	if conv != "im:bob" {
		t.Errorf("conversation %q, want im:bob", conv)
	}
	nextPeerEvent(t, bob, func(m stclient.MessageEvent) bool { return m.From == "alice" && m.Text == text })
}

func TestMessageToOfflineUser(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	_, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: "hello?"})
	reasonOf(t, err, sdk.ReasonNotFound)
	_, err = c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-alice", ConversationID: "no-such-conference", Text: "x"})
	reasonOf(t, err, sdk.ReasonNotFound)
}

func TestTypingBothWays(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	open(t, c, addr, "s-bob", "bob")
	// Typing needs an open conversation for "stopped"; "typing" opens it.
	for _, typing := range []bool{true, false} {
		if err := c.SendTyping(context.Background(), "s-alice", sdk.Typing{To: "bob", Typing: typing}); err != nil {
			t.Fatal(err)
		}
		c.WaitEvent(t, "s-bob", "typing", eventOf(func(e sdk.TypingEvent) bool {
			return e.From == "alice" && e.ConversationID == "im:alice" && e.Typing == typing
		}))
	}
	if err := c.SendTyping(context.Background(), "s-bob", sdk.Typing{ConversationID: "im:alice", Typing: true}); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-alice", "typing", eventOf(func(e sdk.TypingEvent) bool { return e.From == "bob" && e.Typing }))
}

func TestPresenceAndStatusMessage(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-bob", "bob")
	snap := open(t, c, addr, "s-alice", "alice")
	bob := contactOf(t, snap, "bob")
	if bob.Status != sdk.StatusAvailable || bob.DisplayName == "" {
		t.Errorf("bob in alice's snapshot: %+v, want available with a name", bob)
	}
	for _, st := range []sdk.PresenceStatus{sdk.StatusAway, sdk.StatusBusy, sdk.StatusIdle, sdk.StatusAvailable} {
		if err := c.SetPresence(context.Background(), "s-bob", sdk.Presence{Status: st, Note: "note " + st.String()}); err != nil {
			t.Fatal(err)
		}
		c.WaitEvent(t, "s-alice", "bob "+st.String(), eventOf(func(p sdk.PresenceEvent) bool {
			return p.UserID == "bob" && p.Status == st && p.Note == "note "+st.String()
		}))
	}
	err := c.SetPresence(context.Background(), "s-bob", sdk.Presence{Status: sdk.StatusOffline})
	reasonOf(t, err, sdk.ReasonInvalidArgument)
	self, err := c.Snapshot(context.Background(), "s-bob")
	if err != nil {
		t.Fatal(err)
	}
	if self.Self.Status != sdk.StatusAvailable || self.Self.Note != "note available" {
		t.Errorf("bob's own presence %+v", self.Self)
	}
}

// TestPeerStatusCodes: a native client's statuses, mobile flag included.
func TestPeerStatusCodes(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	bob := dialPeer(t, addr, "bob")
	if err := bob.SetStatus(context.Background(), stproto.StatusAway|stproto.StatusMobileFlag, "on the phone"); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-alice", "bob away", sdktest.PresenceOf("bob", sdk.StatusAway))
}

func contactOf(t testing.TB, snap sdk.Snapshot, id string) sdk.Contact {
	t.Helper()
	for _, c := range snap.Contacts {
		if c.UserID == id {
			return c
		}
	}
	t.Fatalf("%s is not in the contacts %+v", id, snap.Contacts)
	return sdk.Contact{}
}
