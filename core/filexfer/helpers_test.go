package filexfer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/link"
	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/core/tlsterm"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest/memory"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The tests run the real gateway path in process: client → TLS link →
// router → filexfer → sdk over gRPC on loopback → the memory backend.

// servePlugin serves impl as a plugin would, over gRPC on a loopback
// connection with the SDK's options on both ends (the fixed flow-control
// windows and message limits parleyd and its plugins use), and returns
// the gateway's client of it.
func servePlugin(t testing.TB, impl sdk.Backend, logger hclog.Logger) *sdk.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(sdk.ServerOptions()...)
	p, ok := sdk.ServerPlugins(impl, logger)[sdk.PluginName].(plugin.GRPCPlugin)
	if !ok {
		t.Fatal("the SDK's plugin is not a gRPC plugin")
	}
	if err := p.GRPCServer(nil, srv); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), append(sdk.HostDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return sdk.NewClient(conn)
}

// policies is a settable Policies.
type policies struct {
	mu  sync.Mutex
	def configdb.Policy
	by  map[string]configdb.Policy
}

func (p *policies) Policy(_ context.Context, user string) (configdb.Policy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pol, ok := p.by[user]; ok {
		return pol, nil
	}
	return p.def, nil
}

func (p *policies) set(user string, pol configdb.Policy) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.by[user] = pol
}

// journal keeps the transfer records.
type journal struct {
	mu   sync.Mutex
	recs []configdb.TransferRecord
	got  chan struct{}
}

func (j *journal) RecordTransfer(_ context.Context, r configdb.TransferRecord) (configdb.TransferRecord, error) {
	j.mu.Lock()
	r.ID = int64(len(j.recs) + 1)
	j.recs = append(j.recs, r)
	j.mu.Unlock()
	select {
	case j.got <- struct{}{}:
	default:
	}
	return r, nil
}

// wait returns the first record matching, waiting up to 10s for it.
func (j *journal) wait(t *testing.T, match func(configdb.TransferRecord) bool) configdb.TransferRecord {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		j.mu.Lock()
		for _, r := range j.recs {
			if match(r) {
				j.mu.Unlock()
				return r
			}
		}
		j.mu.Unlock()
		select {
		case <-j.got:
		case <-deadline:
			t.Fatalf("no matching transfer record; have %+v", j.recs)
		}
	}
}

type directory struct{}

func (directory) Authorize(_ context.Context, user string) (router.Account, error) {
	return router.Account{User: user, Backend: "memory", BackendLogin: user}, nil
}

type backends struct {
	client *sdk.Client
	info   sdk.Info
}

func (b *backends) Backend(string) (*sdk.Client, sdk.Info, error) { return b.client, b.info, nil }

type gateway struct {
	addr     string
	caPEM    []byte
	files    *filexfer.Manager
	policies *policies
	journal  *journal
}

type gatewayOptions struct {
	imMaxBytes   uint64 // the memory backend's own limit
	resumeWindow time.Duration
	spoolDir     string
	users        []string // the memory backend's users (password "secret"); none: its defaults
}

func defaultPolicy() configdb.Policy {
	return configdb.Policy{FileTransfer: true, MaxFileBytes: 64 << 20, BlockedExtensions: []string{"exe"}, OptimizeAllowed: true}
}

func startGateway(t testing.TB, o gatewayOptions) *gateway {
	t.Helper()
	if o.imMaxBytes == 0 {
		o.imMaxBytes = 64 << 20
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Warn, Output: io.Discard})
	c := servePlugin(t, memory.New(), logger)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	settings := fmt.Appendf(nil, `{"max_file_bytes": %d}`, o.imMaxBytes)
	if len(o.users) > 0 {
		s := memory.Settings{MaxFileBytes: o.imMaxBytes}
		for _, u := range o.users {
			s.Users = append(s.Users, memory.User{ID: u, Password: "secret"})
		}
		var err error
		if settings, err = json.Marshal(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Configure(ctx, settings, sdk.ServerAddress{}); err != nil {
		t.Fatal(err)
	}
	info, err := c.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{policies: &policies{def: defaultPolicy(), by: map[string]configdb.Policy{}}, journal: &journal{got: make(chan struct{}, 1)}}
	if o.spoolDir == "" {
		o.spoolDir = t.TempDir()
	}
	g.files, err = filexfer.New(filexfer.Options{Policies: g.policies, Journal: g.journal, SpoolDir: o.spoolDir,
		DeviceError: router.DeviceError, ResumeWindow: o.resumeWindow, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.files.Close)
	var r *router.Router
	sessions := session.NewManager(session.Config{MaxSessions: 100}, func(s *session.Session, reason string) { r.CloseBackendSession(s, reason) }, nil)
	r = router.New(router.Options{Directory: directory{}, Backends: &backends{client: c, info: info}, Sessions: sessions,
		Files: g.files, Logger: logger})
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
	srv := link.NewServer(link.Config{ServerVersion: "test", Heartbeat: 5 * time.Second}, r, sessions, logger, nil)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.Serve(ctx, conn)
		}
	}()
	g.addr, g.caPEM = ln.Addr().String(), term.CertificatePEM()
	return g
}

func (g *gateway) config(t testing.TB, device string) client.Config {
	t.Helper()
	tlsCfg, err := tlsterm.ClientConfig(g.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return client.Config{Addr: g.addr, TLS: tlsCfg, ClientName: "test", DeviceID: device,
		Screen: &devicev1.Screen{Width: 400, Height: 800}}
}

// login connects a device of user and logs in; its events are drained
// into a channel the test reads with waitEvent.
func (g *gateway) login(t testing.TB, user string) *device {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, g.config(t, user+"-phone"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Login(ctx, user, "secret"); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return &device{Conn: c, events: c.Events()}
}

// session opens a self-resuming session of user.
func (g *gateway) session(t testing.TB, user string) *device {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	states := make(chan client.State, 64)
	s, err := client.OpenSession(ctx, client.SessionConfig{Config: g.config(t, user+"-tablet"), User: user, Password: "secret",
		MinBackoff: 10 * time.Millisecond, OnState: func(st client.State, _ error) {
			select {
			case states <- st:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// The session hands events over one at a time and resumes only once
	// they are taken: drain them so that a test never holds it up.
	events := make(chan *devicev1.Event, 4096)
	go func() {
		for e := range s.Events() {
			select {
			case events <- e:
			default:
			}
		}
	}()
	return &device{Session: s, events: events, states: states}
}

// waitReconnected waits for a session to go through reconnecting and back
// to connected.
func waitReconnected(t testing.TB, d *device) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var down bool
	for {
		select {
		case st := <-d.states:
			switch {
			case st == client.StateReconnecting:
				down = true
			case st == client.StateConnected && down:
				return
			}
		case <-timeout:
			t.Fatal("the session did not reconnect within 10s")
		}
	}
}

// device is a logged-in device: a bare link or a self-resuming session.
type device struct {
	*client.Conn
	Session *client.Session
	events  <-chan *devicev1.Event
	states  chan client.State
}

func (d *device) waitEvent(t testing.TB, what string, match func(*devicev1.Event) bool) *devicev1.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-d.events:
			if !ok {
				t.Fatalf("events ended while waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s within 10s", what)
		}
	}
}

func (d *device) invitation(t testing.TB) *devicev1.FileInvitation {
	t.Helper()
	return d.waitEvent(t, "file invitation", func(e *devicev1.Event) bool { return e.GetFileInvitation() != nil }).GetFileInvitation()
}

func progressOf(id string, state devicev1.FileProgress_State) func(*devicev1.Event) bool {
	return func(e *devicev1.Event) bool {
		p := e.GetFileProgress()
		return p != nil && p.TransferId == id && p.State == state
	}
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

type sendResult struct {
	res *client.FileResult
	err error
}

// sendAsync starts alice's upload of data to bob.
func sendAsync(d *device, to, name string, r io.Reader, size int64, opts ...client.FileOption) <-chan sendResult {
	out := make(chan sendResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var res *client.FileResult
		var err error
		if d.Session != nil {
			res, err = d.Session.SendFile(ctx, to, "", name, r, size, opts...)
		} else {
			res, err = d.SendFile(ctx, to, "", name, r, size, opts...)
		}
		out <- sendResult{res, err}
	}()
	return out
}

func result(t testing.TB, ch <-chan sendResult) sendResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("the transfer did not end within 60s")
	}
	return sendResult{}
}

func mustEqual(t testing.TB, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(got), len(want))
	}
}

func code(err error) devicev1.ErrorCode { return client.Code(err) }

func sumOf(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// gate lets a stream through up to a point, then holds it until opened.
type gate struct {
	at, passed int
	reached    chan struct{} // closed when the stream reached the point
	opened     chan struct{}
	once       sync.Once
}

func newGate(at int) *gate {
	return &gate{at: at, reached: make(chan struct{}), opened: make(chan struct{})}
}

// allow returns how much of n bytes may pass now, blocking at the point.
func (g *gate) allow(n int) int {
	if g == nil {
		return n
	}
	if g.passed == g.at {
		g.once.Do(func() { close(g.reached) })
		<-g.opened
	}
	if g.passed < g.at {
		n = min(n, g.at-g.passed)
	}
	g.passed += n
	return n
}

func (g *gate) open() { close(g.opened) }

// gateReader reads through a gate.
type gateReader struct {
	gate
	r io.Reader
}

func newGateReader(r io.Reader, at int) *gateReader {
	return &gateReader{gate: *newGate(at), r: r}
}

func (g *gateReader) Read(p []byte) (int, error) {
	n := g.allow(len(p))
	m, err := g.r.Read(p[:n])
	g.passed -= n - m
	return m, err
}

// gateWriter collects what is written, through a gate if it has one.
type gateWriter struct {
	gate *gate
	buf  bytes.Buffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := w.gate.allow(len(p))
		w.buf.Write(p[:n])
		p, written = p[n:], written+n
	}
	return written, nil
}

// testJPEG encodes a w×h gradient as a JPEG, with an EXIF orientation
// segment when orientation is not 0.
func testJPEG(t testing.TB, w, h, orientation int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: uint8((x + y) % 256), A: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if orientation == 0 {
		return b.Bytes()
	}
	out := append([]byte{}, b.Bytes()[:2]...)
	out = append(out, exifSegment(orientation, binary.BigEndian)...)
	return append(out, b.Bytes()[2:]...)
}

// exifSegment is an APP1 segment whose IFD0 holds only an orientation.
func exifSegment(orientation int, bo binary.ByteOrder) []byte {
	tiff := make([]byte, 8+2+12+4)
	if bo == binary.BigEndian {
		copy(tiff, "MM")
	} else {
		copy(tiff, "II")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 1)
	bo.PutUint16(tiff[10:], 0x0112)
	bo.PutUint16(tiff[12:], 3)
	bo.PutUint32(tiff[14:], 1)
	bo.PutUint16(tiff[18:], uint16(orientation))
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

func imageSize(t testing.TB, b []byte) (int, int) {
	t.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the delivered file is not an image: %v", err)
	}
	return cfg.Width, cfg.Height
}
