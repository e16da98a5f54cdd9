package groupwise_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

// sendAll sends texts from alice's session without waiting between them
// (the SDK pipelines them to the adapter) and returns their errors.
func sendAll(e *env, msgs []sdk.OutgoingMessage) []error {
	errs := make([]error, len(msgs))
	done := make(chan struct{}, len(msgs))
	for i, m := range msgs {
		e.SendMessageAsync(context.Background(), m, func(_ string, err error) {
			errs[i] = err
			done <- struct{}{}
		})
	}
	for range msgs {
		<-done
	}
	return errs
}

// aliceMessagesBob opens sessions for alice and bob, sends bob text from
// alice and waits until bob has it; it returns their conversation's id.
func aliceMessagesBob(t *testing.T, e *env, text string) string {
	t.Helper()
	e.open(t, "alice")
	e.open(t, "bob")
	conv, err := e.SendMessage(ctx(t), sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-bob", text, sdktest.MessageFrom("alice", text))
	return conv
}

// messagesTo returns the texts of the chat messages the session got.
func messagesTo(e *env, session string) []string {
	var got []string
	for _, ev := range e.Events(session) {
		if m, ok := ev.Kind.(sdk.MessageEvent); ok {
			got = append(got, m.Text)
		}
	}
	return got
}

func TestPipelinedMessagesArriveInOrder(t *testing.T) {
	e := newEnv(t, "")
	conv := aliceMessagesBob(t, e, "first")
	const n = 300 // several times the SDK's window per session
	var msgs []sdk.OutgoingMessage
	var want []string
	for i := range n {
		text := "message " + strconv.Itoa(i)
		msgs = append(msgs, sdk.OutgoingMessage{SessionID: "s-alice", ConversationID: conv, Text: text})
		want = append(want, text)
	}
	for i, err := range sendAll(e, msgs) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	e.WaitEvent(t, "s-bob", want[n-1], sdktest.MessageFrom("alice", want[n-1])) // taken off the list
	got := append(messagesTo(e, "s-bob"), want[n-1])
	if len(got) != n {
		t.Fatalf("bob got %d messages, want %d", len(got), n)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("bob's message %d is %q, want %q: out of order", i, got[i], want[i])
		}
	}
}

func TestFailingMessageAmidPipelinedOnes(t *testing.T) {
	e := newEnv(t, "")
	conv := aliceMessagesBob(t, e, "first")
	errs := sendAll(e, []sdk.OutgoingMessage{
		{SessionID: "s-alice", ConversationID: conv, Text: "before"},
		{SessionID: "s-alice", ConversationID: "[no-such-conference]", Text: "lost"},
		{SessionID: "s-alice", ConversationID: conv, Text: "too long " + string(make([]byte, gwproto.MaxMessageText))},
		{SessionID: "s-alice", ConversationID: conv, Text: "after"},
	})
	if errs[0] != nil || errs[3] != nil {
		t.Fatalf("the good messages failed: %v, %v", errs[0], errs[3])
	}
	wantReason(t, "message to an unknown conversation", errs[1], sdk.ReasonNotFound)
	wantReason(t, "message over the size limit", errs[2], sdk.ReasonInvalidArgument)
	e.WaitEvent(t, "s-bob", "after", sdktest.MessageFrom("alice", "after")) // taken off the list
	if got := messagesTo(e, "s-bob"); len(got) != 1 || got[0] != "before" {
		t.Fatalf("bob got %q before \"after\", want only \"before\"", got)
	}
}

func TestBurstOfServerPushesKeepsTheSession(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	const burst = 1000 // more than gwclient's default event buffer
	for range burst {
		ev := gwproto.Event{Type: gwproto.EventUserTyping, Source: e.srv.DN("bob"), GUID: "[G]"}
		if err := e.srv.Push("alice", ev); err != nil {
			t.Fatal(err)
		}
	}
	for i := range burst {
		e.WaitEvent(t, "s-alice", "typing event "+strconv.Itoa(i), func(ev sdk.Event) bool {
			_, ok := ev.Kind.(sdk.TypingEvent)
			return ok
		})
	}
	for _, ev := range e.Events("s-alice") {
		if sessionEnded(ev) {
			t.Fatalf("session ended: %+v", ev.Kind)
		}
	}
}
