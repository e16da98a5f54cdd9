package link_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/link"
	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/core/tlsterm"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest/memory"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// directory allows the users it lists.
type directory map[string]bool

func (d directory) Authorize(_ context.Context, user string) (router.Account, error) {
	if !d[user] {
		return router.Account{}, fmt.Errorf("%w: %s", router.ErrPermissionDenied, user)
	}
	return router.Account{User: user, Backend: "memory", BackendLogin: user}, nil
}

// backends serves the memory backend over in-memory gRPC and counts calls.
type backends struct {
	client *sdk.Client
	info   sdk.Info
	calls  atomic.Int64
}

func (b *backends) Backend(name string) (*sdk.Client, sdk.Info, error) {
	b.calls.Add(1)
	if name != "memory" {
		return nil, sdk.Info{}, router.ErrBackendUnavailable
	}
	return b.client, b.info, nil
}

type gateway struct {
	addr     string
	caPEM    []byte
	backends *backends
	sessions *session.Manager
	router   *router.Router
	links    *link.Server
}

func startGateway(t *testing.T, users ...string) *gateway {
	t.Helper()
	return startGatewayWith(t, session.Config{MaxSessions: 100}, users...)
}

func startGatewayWith(t *testing.T, scfg session.Config, users ...string) *gateway {
	t.Helper()
	return startGatewayOpts(t, gatewayOptions{session: scfg}, users...)
}

// gatewayOptions configure a test gateway.
type gatewayOptions struct {
	session  session.Config
	link     link.Config // a zero Heartbeat means 5 s
	settings []byte      // the memory backend's settings (nil: its defaults)
	// backend is the memory backend's client; nil serves it with go-plugin's
	// in-memory test connection.
	backend *sdk.Client
}

func startGatewayOpts(t testing.TB, o gatewayOptions, users ...string) *gateway {
	t.Helper()
	scfg, lcfg := o.session, o.link
	logger := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: io.Discard})
	c := o.backend
	if c == nil {
		// Closing the client shuts the in-memory server down (go-plugin's
		// controller Shutdown); stopping it again here would race inside go-plugin.
		clientProto, _ := plugin.TestPluginGRPCConn(t, false, sdk.ServerPlugins(memory.New(), logger))
		t.Cleanup(func() { clientProto.Close() })
		var err error
		if c, err = sdk.Dispense(clientProto); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.Configure(ctx, o.settings, sdk.ServerAddress{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	be := &backends{client: c, info: info}
	dir := directory{}
	for _, u := range users {
		dir[u] = true
	}
	var r *router.Router
	sessions := session.NewManager(scfg, func(s *session.Session, reason string) { r.CloseBackendSession(s, reason) }, nil)
	r = router.New(router.Options{Directory: dir, Backends: be, Sessions: sessions, Logger: logger})
	stream, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			evs, err := stream.Recv()
			if err != nil {
				return
			}
			r.Deliver("memory", evs)
		}
	}()
	term, err := tlsterm.New(tlsterm.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := term.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lcfg.ServerVersion = "test"
	if lcfg.Heartbeat == 0 {
		lcfg.Heartbeat = 5 * time.Second
	}
	srv := link.NewServer(lcfg, r, sessions, logger, nil)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.Start(ctx, conn, func() {})
		}
	}()
	return &gateway{addr: ln.Addr().String(), caPEM: term.CertificatePEM(), backends: be, sessions: sessions, router: r, links: srv}
}

func (g *gateway) dial(t *testing.T, device string) *client.Conn {
	t.Helper()
	tlsCfg, err := tlsterm.ClientConfig(g.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Addr: g.addr, TLS: tlsCfg, ClientName: "test", DeviceID: device})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (g *gateway) login(t *testing.T, user string) *client.Conn {
	t.Helper()
	c := g.dial(t, user+"-phone")
	if _, err := c.Login(context.Background(), user, "secret"); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func waitMessage(t *testing.T, c *client.Conn, from, text string) *devicev1.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("link closed while waiting for %q: %v", text, c.Err())
			}
			if m := e.GetMessage(); m != nil && m.From == from && m.Text == text {
				return e
			}
		case <-timeout:
			t.Fatalf("no message %q from %s", text, from)
		}
	}
}

func TestMessagesBothWays(t *testing.T) {
	g := startGateway(t, "alice", "bob")
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	ctx := context.Background()
	if _, err := alice.SendMessage(ctx, "bob", "", "hello bob ünïcödé ✓", "a-1"); err != nil {
		t.Fatal(err)
	}
	ev := waitMessage(t, bob, "alice", "hello bob ünïcödé ✓")
	if _, err := bob.SendMessage(ctx, "", ev.GetMessage().ConversationId, "hi alice ßüñ", "b-1"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, alice, "bob", "hi alice ßüñ")
}

func TestDisabledUserNeverReachesThePlugin(t *testing.T) {
	g := startGateway(t, "alice")
	c := g.dial(t, "mallory-phone")
	before := g.backends.calls.Load()
	_, err := c.Login(context.Background(), "mallory", "secret")
	if client.Code(err) != devicev1.ErrorCode_PERMISSION_DENIED {
		t.Fatalf("login of a user not in the directory: got %v, want PERMISSION_DENIED", err)
	}
	if calls := g.backends.calls.Load() - before; calls != 0 {
		t.Fatalf("the backend was consulted %d times for a user the directory refused", calls)
	}
}

func TestWrongPasswordIsUnauthenticated(t *testing.T) {
	g := startGateway(t, "alice")
	c := g.dial(t, "alice-phone")
	_, err := c.Login(context.Background(), "alice", "nope")
	if client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("wrong password: got %v, want UNAUTHENTICATED", err)
	}
	if _, err := c.Login(context.Background(), "alice", "secret"); err != nil {
		t.Fatalf("a second attempt on the same link should work: %v", err)
	}
}

func TestResumeReplaysMissedEventsWithoutLogin(t *testing.T) {
	g := startGateway(t, "alice", "bob")
	bob := g.login(t, "bob")
	aliceConn := g.dial(t, "alice-phone")
	opened, err := aliceConn.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	aliceConn.Close() // the link drops; the session stays
	for i := range 3 {
		if _, err := bob.SendMessage(context.Background(), "alice", "", fmt.Sprintf("while away %d", i), fmt.Sprintf("b-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// all three are in alice's log before she comes back
	s, _ := g.sessions.Get(opened.SessionId)
	deadline := time.Now().Add(10 * time.Second)
	for s.LastSeq() < opened.LastSeq+3 {
		if time.Now().After(deadline) {
			t.Fatalf("alice's session has events up to %d, want %d", s.LastSeq(), opened.LastSeq+3)
		}
		runtimeGosched()
	}
	back := g.dial(t, "alice-phone")
	if _, err := back.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq); err != nil {
		t.Fatalf("resume: %v", err)
	}
	for i := range 3 {
		waitMessage(t, back, "bob", fmt.Sprintf("while away %d", i))
	}
	// the token was single use
	again := g.dial(t, "alice-phone")
	if _, err := again.Resume(context.Background(), opened.SessionId, opened.ResumeToken, 0); client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("reusing a spent resume token: got %v, want UNAUTHENTICATED", err)
	}
}

func TestRetriedSendIsDeliveredOnce(t *testing.T) {
	g := startGateway(t, "alice", "bob")
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	ctx := context.Background()
	first, err := alice.SendMessage(ctx, "bob", "", "only once", "same-id")
	if err != nil {
		t.Fatal(err)
	}
	second, err := alice.SendMessage(ctx, "bob", "", "only once", "same-id")
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate {
		t.Fatalf("duplicate flags: first %v, second %v", first.Duplicate, second.Duplicate)
	}
	if _, err := alice.SendMessage(ctx, "bob", "", "marker", "other-id"); err != nil {
		t.Fatal(err)
	}
	count := 0
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-bob.Events():
			switch e.GetMessage().GetText() {
			case "only once":
				count++
			case "marker":
				if count != 1 {
					t.Fatalf("message delivered %d times, want once", count)
				}
				return
			}
		case <-timeout:
			t.Fatal("marker never arrived")
		}
	}
}

// rawLink dials without the client library to send hostile frames.
func rawLink(t *testing.T, g *gateway) net.Conn {
	t.Helper()
	tlsCfg, err := tlsterm.ClientConfig(g.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tlsDial(g.addr, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readUntilClosed reads the gateway's answer to a bad frame: a typed
// protocol error, then the link closes.
func readUntilClosed(t *testing.T, conn net.Conn) devicev1.ErrorCode {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [5]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		t.Fatalf("no answer before close: %v", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	body := make([]byte, n-1)
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	if hdr[4]&1 != 0 {
		var err error
		if body, err = snappy.Decode(nil, body); err != nil {
			t.Fatal(err)
		}
	}
	var f devicev1.Frame
	if err := proto.Unmarshal(body, &f); err != nil || len(f.Messages) != 1 || f.Messages[0].GetError() == nil {
		t.Fatalf("answer is not one Error message: %v %v", &f, err)
	}
	if _, err := conn.Read(hdr[:]); !errors.Is(err, io.EOF) {
		t.Fatalf("link not closed after the protocol error: %v", err)
	}
	return f.Messages[0].GetError().Code
}

func TestHostileFramesGetProtocolErrorAndCloseWhileOthersWork(t *testing.T) {
	g := startGateway(t, "alice", "bob")
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	header := func(n uint32, flags byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, n)
		return append(b, flags)
	}
	bomb := snappy.Encode(nil, bytes.Repeat([]byte{0}, 0))
	bomb = binary.AppendUvarint(nil, 1<<30) // claims 1 GiB
	cases := map[string][]byte{
		"reserved flag bit": append(header(3, 0x02), 0, 0),
		"oversize length":   header(64<<20, 0),
		"snappy bomb":       append(header(uint32(len(bomb)+1), 0x01), bomb...),
		"garbage body":      append(header(5, 0), 0xff, 0xff, 0xff, 0xff),
		// A FileChunk whose data claims more bytes than the frame holds.
		"truncated file chunk": append(header(9, 0), 0x0a, 0x06, 0x9a, 0x03, 0x03, 0x1a, 0x09, 'x'),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			conn := rawLink(t, g)
			if _, err := conn.Write(payload); err != nil {
				t.Fatal(err)
			}
			if code := readUntilClosed(t, conn); code != devicev1.ErrorCode_PROTOCOL_ERROR {
				t.Fatalf("got %v, want PROTOCOL_ERROR", code)
			}
			text := "still here after " + name
			if _, err := alice.SendMessage(context.Background(), "bob", "", text, name); err != nil {
				t.Fatal(err)
			}
			waitMessage(t, bob, "alice", text)
		})
	}
}

func TestOverflowWhileDetachedGivesGapAndSnapshotOnResume(t *testing.T) {
	g := startGatewayWith(t, session.Config{MaxSessions: 100, MaxEvents: 4}, "alice", "bob")
	bob := g.login(t, "bob")
	aliceConn := g.dial(t, "alice-phone")
	opened, err := aliceConn.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	aliceConn.Close()
	const sent = 10
	for i := range sent {
		if _, err := bob.SendMessage(context.Background(), "alice", "", fmt.Sprintf("m%d", i), fmt.Sprintf("id%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := g.sessions.Get(opened.SessionId)
	deadline := time.Now().Add(10 * time.Second)
	for s.LastSeq() < opened.LastSeq+sent {
		if time.Now().After(deadline) {
			t.Fatalf("session log reached seq %d, want %d", s.LastSeq(), opened.LastSeq+sent)
		}
		runtimeGosched()
	}
	back := g.dial(t, "alice-phone")
	if _, err := back.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq); err != nil {
		t.Fatal(err)
	}
	var sawGap, sawSnapshot bool
	var texts []string
	timeout := time.After(10 * time.Second)
	for len(texts) < 4 {
		select {
		case e := <-back.Events():
			switch {
			case e.GetGap() != nil:
				sawGap = true
			case e.GetSnapshot() != nil:
				if !sawGap {
					t.Fatal("snapshot before the gap marker")
				}
				sawSnapshot = true
			case e.GetMessage() != nil:
				texts = append(texts, e.GetMessage().Text)
			}
		case <-timeout:
			t.Fatalf("after resume: gap %v, snapshot %v, messages %v", sawGap, sawSnapshot, texts)
		}
	}
	if !sawGap || !sawSnapshot {
		t.Fatalf("gap marker %v, snapshot %v: a lossy resume must say so", sawGap, sawSnapshot)
	}
	if fmt.Sprint(texts) != "[m6 m7 m8 m9]" {
		t.Fatalf("kept messages %v, want the newest four", texts)
	}
}

func TestSessionSurvivesCutLinksWithoutLossOrDuplicates(t *testing.T) {
	g := startGateway(t, "alice", "bob")
	bob := g.login(t, "bob")
	tlsCfg, err := tlsterm.ClientConfig(g.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan client.State, 64)
	alice, err := client.OpenSession(context.Background(), client.SessionConfig{
		Config: client.Config{Addr: g.addr, TLS: tlsCfg, DeviceID: "alice-phone"},
		User:   "alice", Password: "secret", MinBackoff: time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnState: func(s client.State, _ error) { states <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	waitState := func(want client.State) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case st := <-states:
				if st == want {
					return
				}
			case <-timeout:
				t.Fatalf("session never reached state %v", want)
			}
		}
	}
	waitState(client.StateConnected)
	var got []string
	receive := func(n int) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for range n {
			select {
			case e := <-alice.Events():
				for e.GetMessage() == nil { // presence and the like
					e = <-alice.Events()
				}
				got = append(got, e.GetMessage().Text)
			case <-timeout:
				t.Fatalf("alice has %v", got)
			}
		}
	}
	const rounds, perRound = 3, 10
	for r := range rounds {
		for i := range perRound {
			n := r*perRound + i
			if _, err := bob.SendMessage(context.Background(), "alice", "", fmt.Sprintf("n%02d", n), fmt.Sprintf("bob-%d", n)); err != nil {
				t.Fatal(err)
			}
		}
		receive(perRound / 2)
		alice.Reconnect() // the network drops in the middle of the round
		waitState(client.StateReconnecting)
		receive(perRound - perRound/2) // what the old link had, then the resumed one
		waitState(client.StateConnected)
	}
	for i, text := range got {
		if want := fmt.Sprintf("n%02d", i); text != want {
			t.Fatalf("message %d is %q, want %q (order, loss or duplicate): %v", i, text, want, got)
		}
	}
	select {
	case e := <-alice.Events():
		if e.GetMessage() != nil {
			t.Fatalf("an extra message arrived: %v", e)
		}
	default:
	}
	// A send issued while the link is down waits for the resumed link and
	// is delivered once.
	alice.Reconnect()
	if _, err := alice.Send(context.Background(), "bob", "", "sent across a drop"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, bob, "alice", "sent across a drop")
}

func TestRequestLargerThanAFrameFailsAloneAndTheLinkWorksOn(t *testing.T) {
	g := startGateway(t, "alice", "bob")
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	ctx := context.Background()
	huge := string(make([]byte, 2<<20))
	if _, err := alice.SendMessage(ctx, "bob", "", huge, "huge"); err == nil {
		t.Fatal("a request larger than the largest frame was sent")
	}
	if _, err := alice.SendMessage(ctx, "bob", "", "small", "small"); err != nil {
		t.Fatalf("after a request too large to send: %v", err)
	}
	waitMessage(t, bob, "alice", "small")
}
