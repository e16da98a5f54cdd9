package sametime_test

import (
	"context"
	"testing"

	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

func TestConference(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, "", addr)
	ctx := context.Background()
	open(t, c, addr, "s-alice", "alice")
	open(t, c, addr, "s-bob", "bob")
	open(t, c, addr, "s-carol", "carol")

	conv, err := c.CreateConversation(ctx, "s-alice", []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-bob", "invitation", eventOf(func(e sdk.ConversationEvent) bool {
		return e.Change == sdk.ConversationInvited && e.ConversationID == conv && e.UserID == "alice"
	}))
	// The invited user is joined at once: a message right after the
	// invitation waits for the join instead of failing.
	if _, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s-bob", ConversationID: conv, Text: "early"}); err != nil {
		t.Fatalf("message right after the invitation: %v", err)
	}
	c.WaitEvent(t, "s-alice", "early message", sdktest.MessageFrom("bob", "early"))
	c.WaitEvent(t, "s-alice", "bob joined", eventOf(func(e sdk.ConversationEvent) bool {
		return e.Change == sdk.ConversationJoined && e.ConversationID == conv && e.UserID == "bob"
	}))
	if err := c.InviteToConversation(ctx, "s-alice", conv, "carol", "join us"); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-carol", "invitation", eventOf(func(e sdk.ConversationEvent) bool {
		return e.Change == sdk.ConversationInvited && e.ConversationID == conv && e.Text == "join us"
	}))
	c.WaitEvent(t, "s-alice", "carol joined", eventOf(func(e sdk.ConversationEvent) bool {
		return e.Change == sdk.ConversationJoined && e.UserID == "carol"
	}))

	text := "hello all ✓ ünïcödé"
	if got, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s-alice", ConversationID: conv, Text: text}); err != nil || got != conv {
		t.Fatalf("send to conference: %q, %v", got, err)
	}
	for _, sid := range []string{"s-bob", "s-carol"} {
		ev := c.WaitEvent(t, sid, "conference message", sdktest.MessageFrom("alice", text))
		if ev.Kind.(sdk.MessageEvent).ConversationID != conv {
			t.Errorf("%s got the message in %q", sid, ev.Kind.(sdk.MessageEvent).ConversationID)
		}
	}
	if _, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s-bob", ConversationID: conv, Text: "reply"}); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-alice", "reply", sdktest.MessageFrom("bob", "reply"))
	if err := c.SendTyping(ctx, "s-carol", sdk.Typing{ConversationID: conv, Typing: true}); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-alice", "carol typing", eventOf(func(e sdk.TypingEvent) bool {
		return e.ConversationID == conv && e.From == "carol" && e.Typing
	}))
	for _, e := range c.Events("s-alice") {
		if sdktest.MessageFrom("alice", text)(e) {
			t.Error("alice received her own conference message")
		}
	}
	if n := srv.Stats().ConferenceTexts; n != 3 {
		t.Errorf("server delivered %d conference texts, want 3", n)
	}

	if err := c.LeaveConversation(ctx, "s-bob", conv); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-alice", "bob left", eventOf(func(e sdk.ConversationEvent) bool {
		return e.Change == sdk.ConversationLeft && e.ConversationID == conv && e.UserID == "bob"
	}))
	_, err = c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s-bob", ConversationID: conv, Text: "still here?"})
	reasonOf(t, err, sdk.ReasonNotFound)
}

func TestConversationErrors(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	ctx := context.Background()
	open(t, c, addr, "s-alice", "alice")
	_, err := c.CreateConversation(ctx, "s-alice", []string{"mallory"})
	reasonOf(t, err, sdk.ReasonNotFound)
	_, err = c.CreateConversation(ctx, "s-alice", nil)
	reasonOf(t, err, sdk.ReasonInvalidArgument)
	reasonOf(t, c.InviteToConversation(ctx, "s-alice", "im:bob", "carol", ""), sdk.ReasonInvalidArgument)
	reasonOf(t, c.LeaveConversation(ctx, "s-alice", "nope"), sdk.ReasonNotFound)
}
