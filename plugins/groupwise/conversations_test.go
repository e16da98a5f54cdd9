package groupwise_test

import (
	"sync"
	"testing"

	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

func TestThreePartyConference(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	e.open(t, "bob")
	e.open(t, "carol")
	conv, err := e.CreateConversation(ctx(t), "s-alice", []string{"bob", "carol"})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "carol"} {
		e.WaitEvent(t, "s-"+who, "invitation from alice", conversationEvent(sdk.ConversationInvited, conv, "alice"))
		e.WaitEvent(t, "s-alice", who+" joined", conversationEvent(sdk.ConversationJoined, conv, who))
	}

	say := func(from, text string, to ...string) {
		t.Helper()
		got, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-" + from, ConversationID: conv, Text: text})
		if err != nil || got != conv {
			t.Fatalf("%s → conference: %q, %v", from, got, err)
		}
		for _, who := range to {
			ev := e.WaitEvent(t, "s-"+who, text, sdktest.MessageFrom(from, text))
			if m := ev.Kind.(sdk.MessageEvent); m.ConversationID != conv {
				t.Fatalf("%s got %q in conversation %q, want %q", who, text, m.ConversationID, conv)
			}
		}
	}
	say("alice", "hello both ✓ — Grüße", "bob", "carol")
	say("carol", "hi from carol {rtf} \\ ünïcödé", "alice", "bob")
	say("bob", "bob here", "alice", "carol")

	if err := e.LeaveConversation(ctx(t), "s-bob", conv); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "carol"} {
		e.WaitEvent(t, "s-"+who, "bob left", conversationEvent(sdk.ConversationLeft, conv, "bob"))
	}
	say("alice", "just us now", "carol")

	if err := e.InviteToConversation(ctx(t), "s-carol", conv, "bob", "come back"); err != nil {
		t.Fatal(err)
	}
	ev := e.WaitEvent(t, "s-bob", "invitation from carol", conversationEvent(sdk.ConversationInvited, conv, "carol"))
	if text := ev.Kind.(sdk.ConversationEvent).Text; text != "come back" {
		t.Errorf("invitation text %q, want %q", text, "come back")
	}
	e.WaitEvent(t, "s-alice", "bob joined again", conversationEvent(sdk.ConversationJoined, conv, "bob"))
	say("carol", "welcome back", "alice", "bob")
}

func TestConversationErrors(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	_, err := e.CreateConversation(ctx(t), "s-alice", []string{"nobody-here"})
	wantReason(t, "conference with an unknown user", err, sdk.ReasonNotFound)
	_, err = e.CreateConversation(ctx(t), "s-alice", []string{"bob"}) // bob is offline
	wantReason(t, "conference with an offline user", err, sdk.ReasonNotFound)
	_, err = e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-alice", ConversationID: "[00000000-11111111-22222222-3333-4444]", Text: "x"})
	wantReason(t, "message to an unknown conversation", err, sdk.ReasonNotFound)
	_, err = e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-alice", To: "nobody-here", Text: "x"})
	wantReason(t, "message to an unknown user", err, sdk.ReasonNotFound)
	err = e.LeaveConversation(ctx(t), "s-alice", "[00000000-11111111-22222222-3333-4444]")
	wantReason(t, "leaving an unknown conversation", err, sdk.ReasonNotFound)
	err = e.SendTyping(ctx(t), "s-alice", sdk.Typing{Typing: true})
	wantReason(t, "typing to nobody", err, sdk.ReasonInvalidArgument)
	err = e.SetPresence(ctx(t), "s-alice", sdk.Presence{Status: sdk.StatusUnknown})
	wantReason(t, "publishing status unknown", err, sdk.ReasonInvalidArgument)
}

func TestAfterThePeerLeftAMessageOpensANewConversation(t *testing.T) {
	e := newEnv(t, "")
	first := aliceMessagesBob(t, e, "one")
	if err := e.LeaveConversation(ctx(t), "s-bob", first); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-alice", "bob left", conversationEvent(sdk.ConversationLeft, first, "bob"))
	second, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-alice", ConversationID: first, To: "bob", Text: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("the message went to the conversation bob left")
	}
	ev := e.WaitEvent(t, "s-bob", "two", sdktest.MessageFrom("alice", "two"))
	if ev.Kind.(sdk.MessageEvent).ConversationID != second {
		t.Fatalf("bob got the message in %q, want %q", ev.Kind.(sdk.MessageEvent).ConversationID, second)
	}
}

func TestTyping(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	e.open(t, "bob")
	// No conversation with bob yet: libpurple sends nothing, and neither
	// does the backend.
	if err := e.SendTyping(ctx(t), "s-alice", sdk.Typing{To: "bob", Typing: true}); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.RequestCount("sendtyping"); n != 0 {
		t.Fatalf("%d sendtyping requests without a conversation", n)
	}
	conv, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-bob", "hi", sdktest.MessageFrom("alice", "hi"))
	typing := func(from string, on bool) func(sdk.Event) bool {
		return func(ev sdk.Event) bool {
			ty, ok := ev.Kind.(sdk.TypingEvent)
			return ok && ty.From == from && ty.Typing == on && ty.ConversationID == conv
		}
	}
	if err := e.SendTyping(ctx(t), "s-bob", sdk.Typing{ConversationID: conv, Typing: true}); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-alice", "bob typing", typing("bob", true))
	if err := e.SendTyping(ctx(t), "s-bob", sdk.Typing{To: "alice", Typing: false}); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-alice", "bob stopped typing", typing("bob", false))
	if err := e.SendTyping(ctx(t), "s-alice", sdk.Typing{To: "bob", Typing: true}); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-bob", "alice typing", typing("alice", true))
}

func TestPresenceAndAutoReply(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	e.open(t, "bob")
	if err := e.SetPresence(ctx(t), "s-alice", sdk.Presence{Status: sdk.StatusAway, Note: "at lunch 🍜"}); err != nil {
		t.Fatal(err)
	}
	ev := e.WaitEvent(t, "s-bob", "alice away", sdktest.PresenceOf("alice", sdk.StatusAway))
	if note := ev.Kind.(sdk.PresenceEvent).Note; note != "at lunch 🍜" {
		t.Errorf("note %q, want %q", note, "at lunch 🍜")
	}
	if _, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-bob", To: "alice", Text: "lunch?"}); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-bob", "auto-reply", sdktest.MessageFrom("alice", "(auto-reply) at lunch 🍜"))
	e.WaitEvent(t, "s-alice", "the message itself", sdktest.MessageFrom("bob", "lunch?"))

	for _, st := range []sdk.PresenceStatus{sdk.StatusBusy, sdk.StatusIdle, sdk.StatusOffline, sdk.StatusAvailable} {
		if err := e.SetPresence(ctx(t), "s-alice", sdk.Presence{Status: st}); err != nil {
			t.Fatal(err)
		}
		e.WaitEvent(t, "s-bob", "alice "+st.String(), sdktest.PresenceOf("alice", st))
	}
	snap, err := e.Snapshot(ctx(t), "s-bob")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Contacts[0].UserID != "alice" || snap.Contacts[0].Status != sdk.StatusAvailable {
		t.Fatalf("bob's snapshot shows %+v, want alice available", snap.Contacts[0])
	}
}

func TestConcurrentRetriesAreSentOnce(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	e.open(t, "bob")
	var wg sync.WaitGroup
	convs := make([]string, 8)
	for i := range convs {
		wg.Go(func() {
			conv, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: "once", IdempotencyKey: "k1"})
			if err != nil {
				t.Error(err)
			}
			convs[i] = conv
		})
	}
	wg.Wait()
	for _, c := range convs {
		if c != convs[0] {
			t.Fatalf("retries answered with different conversations: %q", convs)
		}
	}
	if n := e.srv.RequestCount("sendmessage"); n != 1 {
		t.Fatalf("%d sendmessage requests for one idempotency key", n)
	}
}
