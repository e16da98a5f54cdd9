package router_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
	"github.com/parleygw/parley/plugins/sdk/sdktest/memory"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// backends serves one plugin client, or none (unavailable).
type backends struct{ c *sdk.Client }

func (b backends) Backend(string) (*sdk.Client, sdk.Info, error) {
	if b.c == nil {
		return nil, sdk.Info{}, router.ErrBackendUnavailable
	}
	return b.c, sdk.Info{}, nil
}

type fixture struct {
	r     *router.Router
	conn  *sdktest.Conn
	alice *session.Device
	bob   *session.Device
}

// newFixture logs alice and bob in to the memory backend, served over gRPC.
func newFixture(t *testing.T) *fixture {
	conn := sdktest.Connect(t, memory.New(), nil, sdk.ServerAddress{})
	m := session.NewManager(session.Config{}, func(*session.Session, string) {}, nil)
	f := &fixture{r: router.New(router.Options{Sessions: m, Backends: backends{conn.Client}}), conn: conn}
	open := func(ctx context.Context, s *session.Session) (sdk.Capabilities, error) {
		_, err := conn.OpenSession(ctx, sdk.Credentials{SessionID: s.ID, Login: s.Login, Password: "secret"})
		return sdk.Capabilities{}, err
	}
	for _, u := range []struct {
		name string
		dev  **session.Device
	}{{"alice", &f.alice}, {"bob", &f.bob}} {
		d, _, _, err := m.Login(context.Background(), u.name, "memory", u.name, "secret", u.name+"-phone", open)
		if err != nil {
			t.Fatal(err)
		}
		*u.dev = d
	}
	return f
}

func sendMessage(id uint64, text, clientMsgID string) *devicev1.Message {
	return &devicev1.Message{Id: id, Body: &devicev1.Message_SendMessage{SendMessage: &devicev1.SendMessage{
		To: "bob", Text: text, ClientMsgId: clientMsgID}}}
}

func TestHandleAsyncPipelinesMessagesInOrder(t *testing.T) {
	f := newFixture(t)
	const n = 200
	answers := make(chan *devicev1.Message, n)
	for i := range n {
		f.r.HandleAsync(context.Background(), f.alice, sendMessage(uint64(i+1), strconv.Itoa(i), "m"+strconv.Itoa(i)),
			func(m *devicev1.Message) { answers <- m })
	}
	seen := map[uint64]bool{}
	for range n {
		m := <-answers
		if m.GetMessageSent() == nil || m.GetMessageSent().Duplicate {
			t.Fatalf("answer %d: %v, want MessageSent", m.Id, m)
		}
		if seen[m.Id] || m.Id < 1 || m.Id > n {
			t.Fatalf("answer with id %d repeated or unknown", m.Id)
		}
		seen[m.Id] = true
	}
	bobID := f.bob.Session().ID
	f.conn.WaitEvent(t, bobID, "the last message", sdktest.MessageFrom("alice", strconv.Itoa(n-1)))
	var got []string
	for _, e := range f.conn.Events(bobID) {
		if m, ok := e.Kind.(sdk.MessageEvent); ok {
			got = append(got, m.Text)
		}
	}
	if len(got) != n-1 {
		t.Fatalf("bob got %d messages before the last, want %d", len(got), n-1)
	}
	for i, text := range got {
		if text != strconv.Itoa(i) {
			t.Fatalf("bob's message %d is %q: out of order", i, text)
		}
	}
}

func TestHandleAsyncAnswersARetryAsDuplicate(t *testing.T) {
	f := newFixture(t)
	answers := make(chan *devicev1.Message, 2)
	for id := uint64(1); id <= 2; id++ {
		f.r.HandleAsync(context.Background(), f.alice, sendMessage(id, "once", "same-id"), func(m *devicev1.Message) { answers <- m })
	}
	byID := map[uint64]*devicev1.MessageSent{}
	for range 2 {
		m := <-answers
		byID[m.Id] = m.GetMessageSent()
	}
	first, retry := byID[1], byID[2]
	if first == nil || first.Duplicate || retry == nil || !retry.Duplicate || retry.ConversationId != first.ConversationId {
		t.Fatalf("answers %v and %v, want a send and a duplicate of it", first, retry)
	}
	bobID := f.bob.Session().ID
	f.conn.WaitEvent(t, bobID, "the message", sdktest.MessageFrom("alice", "once"))
	// A later message proves the retry would have arrived by now.
	f.r.HandleAsync(context.Background(), f.alice, sendMessage(3, "after", "other-id"), func(*devicev1.Message) {})
	f.conn.WaitEvent(t, bobID, "the next message", sdktest.MessageFrom("alice", "after"))
	for _, e := range f.conn.Events(bobID) {
		if m, ok := e.Kind.(sdk.MessageEvent); ok && m.Text == "once" {
			t.Fatal("the retried message reached bob twice")
		}
	}
}

func TestHandleAsyncAnswersEveryKindOfRequest(t *testing.T) {
	f := newFixture(t)
	requests := []*devicev1.Message{
		{Id: 1, Body: &devicev1.Message_SendTyping{SendTyping: &devicev1.SendTyping{To: "bob", Typing: true}}},
		{Id: 2, Body: &devicev1.Message_SetPresence{SetPresence: &devicev1.SetPresence{Status: devicev1.PresenceStatus_AWAY}}},
		{Id: 3, Body: &devicev1.Message_GetContacts{GetContacts: &devicev1.GetContacts{}}},
		{Id: 4, Body: &devicev1.Message_SendMessage{SendMessage: &devicev1.SendMessage{Text: "nowhere"}}},
	}
	answers := make(chan *devicev1.Message, len(requests))
	for _, m := range requests {
		f.r.HandleAsync(context.Background(), f.alice, m, func(m *devicev1.Message) { answers <- m })
	}
	got := map[uint64]*devicev1.Message{}
	for range requests {
		m := <-answers
		got[m.Id] = m
	}
	for id, check := range map[uint64]func(*devicev1.Message) bool{
		1: func(m *devicev1.Message) bool { return m.GetOk() != nil },
		2: func(m *devicev1.Message) bool { return m.GetOk() != nil },
		3: func(m *devicev1.Message) bool { return m.GetSnapshot() != nil },
		4: func(m *devicev1.Message) bool { return m.GetError().GetCode() == devicev1.ErrorCode_INVALID_ARGUMENT },
	} {
		if !check(got[id]) {
			t.Errorf("answer to request %d: %v", id, got[id])
		}
	}
}

func TestHandleAsyncWithoutPluginAnswersUnavailable(t *testing.T) {
	f := newFixture(t)
	r := router.New(router.Options{Backends: backends{}})
	answers := make(chan *devicev1.Message, 1)
	r.HandleAsync(context.Background(), f.alice, sendMessage(7, "lost", "m"), func(m *devicev1.Message) { answers <- m })
	if answer := <-answers; answer.GetError().GetCode() != devicev1.ErrorCode_BACKEND_UNAVAILABLE || answer.Id != 7 {
		t.Fatalf("answer %v, want BACKEND_UNAVAILABLE for request 7", answer)
	}
}
