package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type closed struct {
	mu      sync.Mutex
	reasons map[string]string // session id → reason
	changed chan struct{}
}

func (c *closed) record(s *Session, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reasons[s.ID] = reason
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *closed) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.reasons[id]
	return r, ok
}

func newTestManager(cfg Config) (*Manager, *clock, *closed) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	cl := &closed{reasons: map[string]string{}, changed: make(chan struct{}, 1)}
	return NewManager(cfg, cl.record, nil), clk, cl
}

func openOK(context.Context, *Session) (sdk.Capabilities, error) {
	return sdk.Capabilities{Presence: true}, nil
}

func login(t *testing.T, m *Manager, user, device string) (*Device, []byte) {
	t.Helper()
	d, token, _, err := m.Login(context.Background(), user, "memory", user, "secret", device, openOK)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return d, token
}

func message(text string) *devicev1.Event {
	return &devicev1.Event{Kind: &devicev1.Event_Message{Message: &devicev1.MessageReceived{Text: text}}}
}

func texts(evs []*devicev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.GetMessage().GetText())
	}
	return out
}

func TestEventsAreNumberedAndReplayedAfterResume(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	d, token := login(t, m, "alice", "phone")
	s := d.Session()
	for i := range 3 {
		s.Deliver(message(fmt.Sprint(i)))
	}
	evs, gap := d.Next(10)
	if gap != nil || len(evs) != 3 || evs[0].Seq != 1 || evs[2].Seq != 3 {
		t.Fatalf("first read: %v gap %v", evs, gap)
	}
	d.Ack(1) // the device processed only the first before its link dropped
	m.Detach(d, gen(d))
	d2, _, err := m.Resume(s.ID, token, 1, "phone")
	if err != nil {
		t.Fatal(err)
	}
	evs, _ = d2.Next(10)
	if got := texts(evs); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("replayed %v, want [1 2]", got)
	}
}

func TestResumeTokenIsSingleUseAndBoundToDevice(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	d, token := login(t, m, "alice", "phone")
	id := d.Session().ID
	if _, _, err := m.Resume(id, token, 0, "someone-else"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("token from another device: %v", err)
	}
	if _, _, err := m.Resume(id, []byte("forged"), 0, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("forged token: %v", err)
	}
	_, fresh, err := m.Resume(id, token, 0, "phone")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Resume(id, token, 0, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("reused token: %v", err)
	}
	if _, _, err := m.Resume(id, fresh, 0, "phone"); err != nil {
		t.Fatalf("the rotated token: %v", err)
	}
	if _, _, err := m.Resume("no-such-session", fresh, 0, "phone"); !errors.Is(err, ErrResumeExpired) {
		t.Fatalf("unknown session: %v", err)
	}
}

func TestOverflowLeavesAGapMarker(t *testing.T) {
	m, _, _ := newTestManager(Config{MaxEvents: 3})
	d, _ := login(t, m, "alice", "phone")
	for i := range 5 {
		d.Session().Deliver(message(fmt.Sprint(i)))
	}
	evs, gap := d.Next(10)
	if gap == nil || gap.Dropped != 2 {
		t.Fatalf("gap = %v, want 2 dropped", gap)
	}
	if got := texts(evs); fmt.Sprint(got) != "[2 3 4]" {
		t.Fatalf("kept %v, want the newest three", got)
	}
	if _, again := d.Next(10); again != nil {
		t.Fatal("the gap was reported twice")
	}
}

func TestSecondDeviceJoinsWithTheRightPasswordOnly(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	phone, _ := login(t, m, "alice", "phone")
	opens := 0
	open := func(context.Context, *Session) (sdk.Capabilities, error) { opens++; return sdk.Capabilities{}, nil }
	if _, _, _, err := m.Login(context.Background(), "alice", "memory", "alice", "wrong", "tablet", open); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("wrong password for an open session: %v", err)
	}
	tablet, _, created, err := m.Login(context.Background(), "alice", "memory", "alice", "secret", "tablet", open)
	if err != nil || created || opens != 0 {
		t.Fatalf("joining: err %v, created %v, backend logins %d", err, created, opens)
	}
	if tablet.Session() != phone.Session() {
		t.Fatal("the second device got another session")
	}
	phone.Session().Deliver(message("both see this"))
	for _, d := range []*Device{phone, tablet} {
		if evs, _ := d.Next(10); len(evs) != 1 {
			t.Fatalf("device %s got %d events", d.ID, len(evs))
		}
	}
	m.Logout(phone)
	if tablet.Session().Ended() {
		t.Fatal("logging out one device ended the other's session")
	}
}

func TestFullTableReclaimsLongestDetachedThenRefuses(t *testing.T) {
	m, clk, cl := newTestManager(Config{MaxSessions: 2})
	a, _ := login(t, m, "alice", "p1")
	b, _ := login(t, m, "bob", "p2")
	m.Detach(b, gen(b))
	clk.Advance(time.Minute)
	m.Detach(a, gen(a))
	login(t, m, "carol", "p3") // reclaims bob's: detached longest
	waitClosed(t, cl, b.Session().ID, "reclaimed")
	if _, ok := m.Get(a.Session().ID); !ok {
		t.Fatal("the more recently detached session was reclaimed")
	}
	login(t, m, "dave", "p4") // reclaims alice's
	if _, _, _, err := m.Login(context.Background(), "erin", "memory", "erin", "secret", "p5", openOK); !errors.Is(err, ErrServerBusy) {
		t.Fatalf("full table with nothing detached: %v, want ErrServerBusy", err)
	}
}

func waitClosed(t *testing.T, cl *closed, id, reason string) {
	t.Helper()
	timeout := time.After(5 * time.Second) // reclaimed sessions are logged out asynchronously
	for {
		if r, ok := cl.get(id); ok {
			if r != reason {
				t.Fatalf("session closed for %q, want %q", r, reason)
			}
			return
		}
		select {
		case <-cl.changed:
		case <-timeout:
			t.Fatalf("session %s was not closed", id)
		}
	}
}

func TestDetachedSessionEndsAfterTTL(t *testing.T) {
	m, clk, cl := newTestManager(Config{DetachTTL: time.Minute})
	d, _ := login(t, m, "alice", "phone")
	m.Detach(d, gen(d))
	clk.Advance(59 * time.Second)
	m.Sweep(0)
	if _, ok := m.Get(d.Session().ID); !ok {
		t.Fatal("session ended before its detach TTL")
	}
	clk.Advance(2 * time.Second)
	m.Sweep(0)
	if r, _ := cl.get(d.Session().ID); r != "detach_ttl" {
		t.Fatalf("session not ended after its TTL (reason %q)", r)
	}
}

func TestFailedBackendLoginLeavesNoSession(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	fail := func(context.Context, *Session) (sdk.Capabilities, error) {
		return sdk.Capabilities{}, &sdk.Error{Reason: sdk.ReasonUnauthenticated}
	}
	if _, _, _, err := m.Login(context.Background(), "alice", "memory", "alice", "bad", "phone", fail); err == nil {
		t.Fatal("login succeeded")
	}
	if m.Len() != 0 {
		t.Fatalf("%d sessions left after a failed login", m.Len())
	}
	login(t, m, "alice", "phone")
}

func BenchmarkDeliverAndRead(b *testing.B) {
	m, _, _ := newTestManager(Config{MaxEvents: 4096, MaxBytes: 1 << 22})
	d, _, _, _ := m.Login(context.Background(), "alice", "memory", "alice", "secret", "phone", openOK)
	s := d.Session()
	ev := message("a typical chat message of about sixty bytes, give or take")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Deliver(&devicev1.Event{Kind: ev.Kind})
		evs, _ := d.Next(64)
		if len(evs) > 0 {
			d.Ack(evs[len(evs)-1].Seq)
		}
	}
}

// gen is the device's current link generation.
func gen(d *Device) uint64 {
	g, _ := d.Attachment()
	return g
}

func TestStaleLinkDoesNotDetachTheNewOne(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	d, token := login(t, m, "alice", "phone")
	oldGen, superseded := d.Attachment()
	d2, _, err := m.Resume(d.Session().ID, token, 0, "phone") // the device came back on a new link
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-superseded:
	default:
		t.Fatal("the old link was not told it is superseded")
	}
	m.Detach(d, oldGen) // the old link times out later
	if _, attached := d2.Session().Devices(); attached != 1 {
		t.Fatal("a stale link's timeout detached the device's live link")
	}
}

func TestClaimMakesAConcurrentRetryWaitAndReportDuplicate(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	d, _ := login(t, m, "alice", "phone")
	s := d.Session()
	ctx := context.Background()
	if _, dup, err := s.Claim(ctx, "m1"); dup || err != nil {
		t.Fatalf("first claim: dup %v, %v", dup, err)
	}
	retried := make(chan bool, 1)
	go func() { // the retry from a new link arrives while the first is in flight
		_, dup, _ := s.Claim(ctx, "m1")
		retried <- dup
	}()
	select {
	case <-retried:
		t.Fatal("the retry did not wait for the attempt in flight")
	default:
	}
	s.Finish("m1", "conv-1", true)
	if dup := <-retried; !dup {
		t.Fatal("the retry was not answered as a duplicate")
	}
	// a failed attempt leaves the id free
	s.Claim(ctx, "m2")
	s.Finish("m2", "", false)
	if _, dup, _ := s.Claim(ctx, "m2"); dup {
		t.Fatal("a failed send was recorded as delivered")
	}
}
