package sdk

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

// pipeBackend is a MessagePipeliner that completes nothing by itself: each
// started message goes to started, and the test calls its done. A message
// whose text is "honour deadline" is completed when its context ends.
type pipeBackend struct {
	recorder
	started chan *startedMessage

	mu          sync.Mutex
	outstanding int // started, not done
	most        int // the largest outstanding seen
	typingSaw   []int
}

type startedMessage struct {
	text    string
	ctx     context.Context
	done    func(string, error)
	sdkDone func(string, error) // the SDK's own done, unguarded
}

func newPipeBackend() *pipeBackend {
	return &pipeBackend{recorder: *newRecorder(), started: make(chan *startedMessage, 1024)}
}

func (p *pipeBackend) StartSendMessage(ctx context.Context, msg OutgoingMessage, done func(string, error)) {
	p.mu.Lock()
	p.outstanding++
	p.most = max(p.most, p.outstanding)
	p.mu.Unlock()
	var once sync.Once
	m := &startedMessage{text: msg.Text, ctx: ctx, sdkDone: done, done: func(conv string, err error) {
		once.Do(func() {
			p.mu.Lock()
			p.outstanding--
			p.mu.Unlock()
			done(conv, err)
		})
	}}
	if msg.Text == "honour deadline" {
		context.AfterFunc(ctx, func() { m.done("", ctx.Err()) })
	}
	p.started <- m
}

// SendTyping records how many messages were outstanding when it ran.
func (p *pipeBackend) SendTyping(_ context.Context, _ string, _ Typing) error {
	p.mu.Lock()
	p.typingSaw = append(p.typingSaw, p.outstanding)
	p.mu.Unlock()
	return nil
}

func (p *pipeBackend) nextStarted(t *testing.T) *startedMessage {
	t.Helper()
	select {
	case m := <-p.started:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message started within 10s")
		return nil
	}
}

type sendResult struct {
	conv string
	err  error
}

func sendAsync(c *Client, ctx context.Context, session, text string) <-chan sendResult {
	ch := make(chan sendResult, 1)
	c.SendMessageAsync(ctx, OutgoingMessage{SessionID: session, To: "bob", Text: text},
		func(conv string, err error) { ch <- sendResult{conv, err} })
	return ch
}

func recvResult(t *testing.T, ch <-chan sendResult) sendResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result within 10s")
		return sendResult{}
	}
}

func TestPipelinedMessagesStartInOrderWithoutWaiting(t *testing.T) {
	p := newPipeBackend()
	c := testServer(t, p)
	const n = 5
	var results []<-chan sendResult
	for i := range n {
		results = append(results, sendAsync(c, context.Background(), "s1", strconv.Itoa(i)))
	}
	// All start before any is done, in the order they were sent.
	var started []*startedMessage
	for i := range n {
		m := p.nextStarted(t)
		if m.text != strconv.Itoa(i) {
			t.Fatalf("message %d started was %q: out of order", i, m.text)
		}
		started = append(started, m)
	}
	// Done in reverse order; the middle one fails.
	for i := n - 1; i >= 0; i-- {
		if i == 2 {
			started[i].done("", Errorf(ReasonNotFound, "no such conversation"))
			continue
		}
		started[i].done("conv-"+strconv.Itoa(i), nil)
	}
	for i, ch := range results {
		r := recvResult(t, ch)
		switch {
		case i == 2 && ReasonOf(r.err) != ReasonNotFound:
			t.Errorf("message %d: %v, want not_found", i, r.err)
		case i != 2 && (r.err != nil || r.conv != "conv-"+strconv.Itoa(i)):
			t.Errorf("message %d: %q, %v", i, r.conv, r.err)
		}
	}
}

func TestCallAfterPipelinedMessagesWaitsForThem(t *testing.T) {
	p := newPipeBackend()
	c := testServer(t, p)
	first := sendAsync(c, context.Background(), "s1", "one")
	second := sendAsync(c, context.Background(), "s1", "two")
	typed := make(chan error, 1)
	c.SendTypingAsync(context.Background(), "s1", Typing{To: "bob", Typing: true}, func(err error) { typed <- err })
	a, b := p.nextStarted(t), p.nextStarted(t)
	// A call of another session completes meanwhile: typing of s1 had its
	// chance to overtake.
	if err := c.SetPresence(context.Background(), "s2", Presence{Status: StatusAway}); ReasonOf(err) != ReasonUnsupported {
		t.Fatalf("s2: %v, want unsupported", err)
	}
	a.done("c", nil)
	b.done("c", nil)
	for _, ch := range []<-chan sendResult{first, second} {
		if r := recvResult(t, ch); r.err != nil {
			t.Fatal(r.err)
		}
	}
	select {
	case err := <-typed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("typing never ran")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.typingSaw) != 1 || p.typingSaw[0] != 0 {
		t.Errorf("typing ran with %v messages outstanding, want after all were done", p.typingSaw)
	}
}

func TestPipelinedMessagesOfASessionAreBounded(t *testing.T) {
	p := newPipeBackend()
	c := testServer(t, p)
	var results []<-chan sendResult
	for i := range MaxPipelinedMessages + 1 {
		results = append(results, sendAsync(c, context.Background(), "s1", strconv.Itoa(i)))
	}
	var started []*startedMessage
	for range MaxPipelinedMessages {
		started = append(started, p.nextStarted(t))
	}
	started[0].done("c", nil)
	last := p.nextStarted(t)
	if last.text != strconv.Itoa(MaxPipelinedMessages) {
		t.Fatalf("last message started was %q", last.text)
	}
	for _, m := range append(started[1:], last) {
		m.done("c", nil)
	}
	for _, ch := range results {
		if r := recvResult(t, ch); r.err != nil {
			t.Fatal(r.err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.most != MaxPipelinedMessages {
		t.Errorf("%d messages were outstanding at once, want at most %d", p.most, MaxPipelinedMessages)
	}
}

func TestPipelinedMessagePastItsDeadlineTimesOut(t *testing.T) {
	p := newPipeBackend()
	c := testServer(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	late := sendAsync(c, ctx, "s1", "honour deadline")
	next := sendAsync(c, context.Background(), "s1", "next")
	m := p.nextStarted(t)
	if r := recvResult(t, late); ReasonOf(r.err) != ReasonTimeout {
		t.Fatalf("message past its deadline: %v, want a timeout", r.err)
	}
	select {
	case <-m.ctx.Done():
		if err := m.ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the backend's context ended with %v, want its deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the backend's context did not end")
	}
	p.nextStarted(t).done("c", nil)
	if r := recvResult(t, next); r.err != nil {
		t.Errorf("message after the late one: %v", r.err)
	}
}

func TestBrokenStreamFailsPipelinedMessages(t *testing.T) {
	p := newPipeBackend()
	c := testServer(t, p)
	first := sendAsync(c, context.Background(), "s1", "one")
	second := sendAsync(c, context.Background(), "s1", "two")
	a, b := p.nextStarted(t), p.nextStarted(t)
	broken, _ := c.callStream()
	broken.cancel()
	for _, ch := range []<-chan sendResult{first, second} {
		if r := recvResult(t, ch); ReasonOf(r.err) != ReasonBackendUnavailable {
			t.Errorf("outstanding message: %v, want backend_unavailable", r.err)
		}
	}
	// The plugin side sees the messages' contexts end.
	for _, m := range []*startedMessage{a, b} {
		select {
		case <-m.ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("a message's context did not end with the stream")
		}
		m.done("", m.ctx.Err())
	}
	// The session goes on, on a new stream.
	again := sendAsync(c, context.Background(), "s1", "again")
	p.nextStarted(t).done("c", nil)
	if r := recvResult(t, again); r.err != nil {
		t.Errorf("message on a new stream: %v", r.err)
	}
}

func TestABackendCallingDoneTwiceIsIgnoredTheSecondTime(t *testing.T) {
	p := newPipeBackend()
	c := testServer(t, p)
	first := sendAsync(c, context.Background(), "s1", "once")
	m := p.nextStarted(t)
	m.sdkDone("conv-1", nil)
	m.sdkDone("", Errorf(ReasonInternal, "a second answer"))
	if r := recvResult(t, first); r.err != nil || r.conv != "conv-1" {
		t.Fatalf("result %q, %v; want the first answer", r.conv, r.err)
	}
	// The session's accounting survived: its next message runs as usual.
	next := sendAsync(c, context.Background(), "s1", "again")
	p.nextStarted(t).done("conv-2", nil)
	if r := recvResult(t, next); r.err != nil || r.conv != "conv-2" {
		t.Fatalf("next message: %q, %v", r.conv, r.err)
	}
}
