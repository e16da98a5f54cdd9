package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/plugins/sametime/sttest"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// File transfer end to end: devices → parleyd → the Sametime plugin → the
// fake Sametime server and back (DESIGN §7), GroupWise's refusal, and a
// large transfer through the memory backend to show bounded memory.

// xfDevice is a logged-in device whose events the test reads.
type xfDevice struct {
	*client.Conn
	events <-chan *devicev1.Event
}

// xfLogin logs name in from a device with a screen of w×h pixels.
func xfLogin(t *testing.T, d *daemon, name string, w, h uint32) *xfDevice {
	t.Helper()
	cfg := d.tlsConfig(t)
	cfg.DeviceID, cfg.Screen = name+"-phone", &devicev1.Screen{Width: w, Height: h}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Login(ctx, name, "secret"); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return &xfDevice{Conn: c, events: c.Events()}
}

// xfSession opens a self-resuming session; its events are drained into a
// buffered channel so that the session never waits for the test.
func xfSession(t *testing.T, d *daemon, name string) (*client.Session, <-chan *devicev1.Event, chan client.State) {
	t.Helper()
	s, states := d.openSession(t, name)
	events := make(chan *devicev1.Event, 4096)
	go func() {
		for e := range s.Events() {
			select {
			case events <- e:
			default:
			}
		}
	}()
	return s, events, states
}

func xfEvent(t *testing.T, events <-chan *devicev1.Event, what string, match func(*devicev1.Event) bool) *devicev1.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("events ended while waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s within 20s", what)
		}
	}
}

func xfInvitation(t *testing.T, events <-chan *devicev1.Event) *devicev1.FileInvitation {
	t.Helper()
	return xfEvent(t, events, "file invitation", func(e *devicev1.Event) bool { return e.GetFileInvitation() != nil }).GetFileInvitation()
}

type xfResult struct {
	res *client.FileResult
	err error
}

// xfAsync runs a transfer in the background.
func xfAsync(f func(ctx context.Context) (*client.FileResult, error)) <-chan xfResult {
	out := make(chan xfResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		res, err := f(ctx)
		out <- xfResult{res, err}
	}()
	return out
}

func xfWait(t *testing.T, ch <-chan xfResult) xfResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(90 * time.Second):
		t.Fatal("the transfer did not end within 90s")
	}
	return xfResult{}
}

// xfSend starts a file from a device to a user.
func xfSend(c *client.Conn, to, name string, data []byte) <-chan xfResult {
	return xfAsync(func(ctx context.Context) (*client.FileResult, error) {
		return c.SendFile(ctx, to, "", name, bytes.NewReader(data), int64(len(data)))
	})
}

func xfRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// xfDeliver sends data from one device to another, who accepts it, and
// returns what arrived.
func xfDeliver(t *testing.T, from *xfDevice, to *xfDevice, toUser, name string, data []byte, optimize bool) ([]byte, *client.FileResult) {
	t.Helper()
	sent := xfSend(from.Conn, toUser, name, data)
	inv := xfInvitation(t, to.events)
	if inv.Name != name || inv.Size != uint64(len(data)) {
		t.Fatalf("invitation %v: want %s of %d bytes", inv, name, len(data))
	}
	var got bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := to.Accept(ctx, inv.TransferId, optimize, &got, 0)
	if err != nil {
		t.Fatalf("accept %s: %v", name, err)
	}
	if r := xfWait(t, sent); r.err != nil {
		t.Fatalf("send %s: %v", name, r.err)
	}
	return got.Bytes(), res
}

// xfRefused offers a file and returns the typed error it was refused with.
func xfRefused(t *testing.T, c *client.Conn, to, name string, size int) *client.Error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.SendFile(ctx, to, "", name, bytes.NewReader(make([]byte, size)), int64(size))
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s (%d bytes): %v, want a typed refusal", name, size, err)
	}
	return ce
}

// xfCtl runs parleyctl against the daemon.
func xfCtl(t *testing.T, d *daemon, args ...string) string {
	t.Helper()
	full := append([]string{"-admin", d.adminAddr, "-token-file", filepath.Join(d.dataDir, "admin.token")}, args...)
	out, err := exec.Command(filepath.Join(binDir, "parleyctl"), full...).CombinedOutput()
	if err != nil {
		t.Fatalf("parleyctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// xfTransfers is the daemon's transfer log, newest first.
func xfTransfers(t *testing.T, d *daemon, args ...string) []admin.Transfer {
	t.Helper()
	var list admin.TransferList
	out := xfCtl(t, d, append([]string{"transfers", "-json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("parleyctl transfers -json: %v\n%s", err, out)
	}
	return list.Transfers
}

func TestFileSentThroughSametimeArrivesIdentical(t *testing.T) {
	srv, d := stStart(t)
	alice, bob := xfLogin(t, d, "alice", 1080, 1920), xfLogin(t, d, "bob", 1080, 1920)
	data := xfRandom(t, 700_000)
	got, res := xfDeliver(t, alice, bob, "bob", "report.pdf", data, false)
	if !bytes.Equal(got, data) {
		t.Fatalf("bob received %d bytes that differ from the %d alice sent", len(got), len(data))
	}
	sum := sha256.Sum256(data)
	if !bytes.Equal(res.SHA256, sum[:]) || !strings.Contains(res.Note, "matches the sender's") {
		t.Errorf("result %+v: want the sha256 checked against alice's", res)
	}
	if n := srv.Stats().FileBytesRelayed; n < int64(len(data)) {
		t.Errorf("the Sametime server relayed %d bytes of a %d-byte file", n, len(data))
	}
	// Both sides are in the admin's transfer log.
	log := xfTransfers(t, d)
	if len(log) != 2 {
		t.Fatalf("transfer log %+v, want the send and the receive", log)
	}
	for _, tr := range log {
		if tr.Outcome != "delivered" || tr.Sender != "alice" || tr.Recipient != "bob" || tr.Name != "report.pdf" ||
			tr.Size != int64(len(data)) || tr.SHA256 != fmt.Sprintf("%x", sum) {
			t.Errorf("log entry %+v", tr)
		}
	}
}

// photo encodes a w×h JPEG with some detail in it.
func photo(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: uint8((x ^ y) & 0xff), A: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFileOptimizedForTheDeviceScreen(t *testing.T) {
	_, d := stStart(t)
	alice, bob := xfLogin(t, d, "alice", 1080, 1920), xfLogin(t, d, "bob", 480, 800)
	img := photo(t, 1600, 1200)
	if len(img) >= 1<<20 {
		t.Fatalf("the test photo is %d bytes, over Sametime's 1 MiB", len(img))
	}
	got, res := xfDeliver(t, alice, bob, "bob", "holiday.jpg", img, true)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("bob's optimised photo is not an image: %v", err)
	}
	if format != "jpeg" || cfg.Width != 480 || cfg.Height != 360 || len(got) >= len(img) {
		t.Fatalf("optimised to a %s of %dx%d, %d bytes (note %q); want a JPEG of 480x360 (fits 480x800, aspect kept), under %d bytes",
			format, cfg.Width, cfg.Height, len(got), res.Note, len(img))
	}
	// A file that is no image arrives unchanged, with a note saying so.
	text := []byte("minutes of the meeting\n")
	got, res = xfDeliver(t, alice, bob, "bob", "minutes.txt", text, true)
	if !bytes.Equal(got, text) || !strings.Contains(res.Note, "no optimisation applied") {
		t.Errorf("a text file asked optimised: %q with note %q", got, res.Note)
	}
}

func TestFileDeclinedTellsTheSender(t *testing.T) {
	_, d := stStart(t)
	alice, bob := xfLogin(t, d, "alice", 1080, 1920), xfLogin(t, d, "bob", 1080, 1920)
	sent := xfSend(alice.Conn, "bob", "party.png", xfRandom(t, 5000))
	inv := xfInvitation(t, bob.events)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := bob.Decline(ctx, inv.TransferId); err != nil {
		t.Fatal(err)
	}
	if r := xfWait(t, sent); client.Code(r.err) != devicev1.ErrorCode_DECLINED {
		t.Fatalf("alice's send: %v, want DECLINED", r.err)
	}
	log := xfTransfers(t, d, "-outcome", "declined")
	if len(log) != 2 {
		t.Errorf("declined transfers in the log: %+v, want both sides", log)
	}
}

// TestFileSizeLimits tries both sides of both limits: the gateway's (a
// group policy) and the IM server's.
func TestFileSizeLimits(t *testing.T) {
	const imLimit, gwLimit = 500_000, 300_000
	srv := sttest.NewServer(t, sttest.WithMaxFileBytes(imLimit))
	port := stPort(t, srv.Addr())
	// alice and bob's backend knows the server's limit, as the operator
	// should configure it; carol's does not, so the server itself refuses.
	backends := stBackend("sametime", port, fmt.Sprintf("max_file_bytes = %d", imLimit)) + stBackend("st-lax", port, "")
	d := startDaemonWith(t, backends, user{"alice", "sametime", true}, user{"bob", "sametime", true}, user{"carol", "st-lax", true})
	ac := d.adminClient(t)
	ctx := context.Background()
	limit := int64(gwLimit)
	if _, err := ac.AddGroup(ctx, admin.NewGroup{Name: "small"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.SetPolicy(ctx, "small", admin.PolicyChange{MaxFileBytes: &limit}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.SetUserGroup(ctx, "alice", "small"); err != nil {
		t.Fatal(err)
	}
	alice, bob, carol := xfLogin(t, d, "alice", 1080, 1920), xfLogin(t, d, "bob", 1080, 1920), xfLogin(t, d, "carol", 1080, 1920)

	t.Run("gateway", func(t *testing.T) {
		data := xfRandom(t, gwLimit)
		if got, _ := xfDeliver(t, alice, bob, "bob", "at-gateway-limit.bin", data, false); !bytes.Equal(got, data) {
			t.Fatal("the file at the gateway's limit arrived damaged")
		}
		e := xfRefused(t, alice.Conn, "bob", "over-gateway-limit.bin", gwLimit+1)
		if e.Code != devicev1.ErrorCode_FILE_TOO_LARGE || e.LimitSource != devicev1.LimitSource_GATEWAY || e.Limit != gwLimit {
			t.Fatalf("one byte over the gateway's limit: %+v, want FILE_TOO_LARGE from the GATEWAY, limit %d", e, gwLimit)
		}
	})
	t.Run("IM server", func(t *testing.T) {
		data := xfRandom(t, imLimit)
		if got, _ := xfDeliver(t, carol, bob, "bob", "at-im-limit.bin", data, false); !bytes.Equal(got, data) {
			t.Fatal("the file at the IM server's limit arrived damaged")
		}
		before := srv.Stats().FileOffersRefused
		e := xfRefused(t, carol.Conn, "bob", "over-im-limit.bin", imLimit+1)
		if e.Code != devicev1.ErrorCode_FILE_TOO_LARGE || e.LimitSource != devicev1.LimitSource_IM_SERVER || e.Limit == 0 {
			t.Fatalf("one byte over the IM server's limit: %+v, want FILE_TOO_LARGE from the IM_SERVER with a limit", e)
		}
		if n := srv.Stats().FileOffersRefused - before; n != 1 {
			t.Errorf("the Sametime server refused %d offers, want 1: the refusal must be the server's", n)
		}
		// Where the backend knows the server's limit, the refusal names it.
		bob2alice := xfRefused(t, bob.Conn, "alice", "over-im-limit.bin", imLimit+1)
		if bob2alice.Code != devicev1.ErrorCode_FILE_TOO_LARGE || bob2alice.LimitSource != devicev1.LimitSource_IM_SERVER || bob2alice.Limit != imLimit {
			t.Fatalf("bob's file one byte over: %+v, want FILE_TOO_LARGE from the IM_SERVER, limit %d", bob2alice, imLimit)
		}
	})
	rules := map[string]int{}
	for _, tr := range xfTransfers(t, d, "-outcome", "refused") {
		rules[tr.Rule]++
	}
	if rules["gateway_limit"] != 1 || rules["im_server_limit"] != 2 {
		t.Errorf("refusals in the transfer log by rule: %v, want 1 gateway_limit and 2 im_server_limit", rules)
	}
}

// TestFilePolicyRules changes the policy with parleyctl and sees each
// rule refuse a file.
func TestFilePolicyRules(t *testing.T) {
	_, d := stStart(t)
	alice := xfLogin(t, d, "alice", 1080, 1920)
	xfLogin(t, d, "bob", 1080, 1920)
	// The configuration's default policy blocks executables.
	if e := xfRefused(t, alice.Conn, "bob", "setup.EXE", 100); e.Code != devicev1.ErrorCode_FILE_TYPE_BLOCKED {
		t.Errorf("setup.EXE: %+v, want FILE_TYPE_BLOCKED", e)
	}
	xfCtl(t, d, "group", "add", "interns")
	xfCtl(t, d, "user", "set-group", "alice", "interns")
	xfCtl(t, d, "policy", "set", "interns", "-block", "*")
	if e := xfRefused(t, alice.Conn, "bob", "notes.txt", 100); e.Code != devicev1.ErrorCode_FILE_TYPE_BLOCKED {
		t.Errorf("notes.txt with every type blocked: %+v, want FILE_TYPE_BLOCKED", e)
	}
	xfCtl(t, d, "policy", "set", "interns", "-block", "", "-file-transfer", "off")
	if e := xfRefused(t, alice.Conn, "bob", "notes.txt", 100); e.Code != devicev1.ErrorCode_FILE_TRANSFER_DISABLED {
		t.Errorf("notes.txt with transfers off: %+v, want FILE_TRANSFER_DISABLED", e)
	}
	rules := map[string]int{}
	for _, tr := range xfTransfers(t, d, "-user", "alice") {
		if tr.Outcome == "refused" {
			rules[tr.Rule]++
		}
	}
	if rules["type_blocked"] != 2 || rules["disabled"] != 1 {
		t.Errorf("alice's refusals by rule: %v, want 2 type_blocked and 1 disabled", rules)
	}
	out := xfCtl(t, d, "transfers", "-user", "alice")
	if !strings.Contains(out, "setup.EXE") || !strings.Contains(out, "disabled") {
		t.Errorf("parleyctl transfers:\n%s", out)
	}
}

func TestFileToGroupWiseIsUnsupported(t *testing.T) {
	_, d := gwStart(t)
	alice, _ := loginDevice(t, d, "alice")
	start := time.Now()
	e := xfRefused(t, alice, "bob", "report.pdf", 1000)
	if e.Code != devicev1.ErrorCode_UNSUPPORTED {
		t.Fatalf("a file over GroupWise: %+v, want UNSUPPORTED", e)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the refusal took %v; it should come at once", took)
	}
	if log := xfTransfers(t, d); len(log) != 1 || log[0].Rule != "unsupported" {
		t.Errorf("transfer log %+v, want the refusal as unsupported", log)
	}
}

// xfGate lets a stream through up to a point, then holds it until opened.
type xfGate struct {
	at, passed int
	reached    chan struct{}
	opened     chan struct{}
	closed     bool
}

func newXfGate(at int) *xfGate {
	return &xfGate{at: at, reached: make(chan struct{}), opened: make(chan struct{})}
}

func (g *xfGate) allow(n int) int {
	if g.passed == g.at && !g.closed {
		g.closed = true
		close(g.reached)
		<-g.opened
	}
	if g.passed < g.at {
		n = min(n, g.at-g.passed)
	}
	g.passed += n
	return n
}

type xfGateReader struct {
	*xfGate
	r *bytes.Reader
}

func (g xfGateReader) Read(p []byte) (int, error) {
	n := g.allow(len(p))
	m, err := g.r.Read(p[:n])
	g.passed -= n - m
	return m, err
}

type xfGateWriter struct {
	*xfGate
	buf *bytes.Buffer
}

func (g xfGateWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := g.allow(len(p))
		g.buf.Write(p[:n])
		p, written = p[n:], written+n
	}
	return written, nil
}

func xfReconnected(t *testing.T, states chan client.State) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	down := false
	for {
		select {
		case st := <-states:
			if st == client.StateReconnecting {
				down = true
			} else if st == client.StateConnected && down {
				return
			}
		case <-timeout:
			t.Fatal("the session did not reconnect within 20s")
		}
	}
}

// TestFileTransferResumesAfterDroppedLink drops the sender's or the
// recipient's link in the middle of a transfer: the device resumes and
// the transfer carries on from the last acknowledged byte, while the file
// crosses the IM server only once.
func TestFileTransferResumesAfterDroppedLink(t *testing.T) {
	for _, who := range []string{"sender", "recipient"} {
		t.Run(who, func(t *testing.T) {
			srv, d := stStart(t)
			alice, _, aliceStates := xfSession(t, d, "alice")
			bob, bobEvents, bobStates := xfSession(t, d, "bob")
			data := xfRandom(t, 900_000)
			sum := sha256.Sum256(data)
			in, out := newXfGate(len(data)+1), newXfGate(len(data)+1)
			if who == "sender" {
				in = newXfGate(300_000)
			} else {
				out = newXfGate(400_000)
			}
			sent := xfAsync(func(ctx context.Context) (*client.FileResult, error) {
				return alice.SendFile(ctx, "bob", "", "big.bin", xfGateReader{in, bytes.NewReader(data)}, int64(len(data)),
					client.WithSHA256(sum[:]))
			})
			inv := xfInvitation(t, bobEvents)
			var got bytes.Buffer
			received := xfAsync(func(ctx context.Context) (*client.FileResult, error) {
				return bob.Accept(ctx, inv.TransferId, false, xfGateWriter{out, &got}, 0)
			})
			if who == "sender" {
				<-in.reached
				alice.Reconnect()
				xfReconnected(t, aliceStates)
				close(in.opened)
			} else {
				<-out.reached
				bob.Reconnect()
				xfReconnected(t, bobStates)
				close(out.opened)
			}
			r, s := xfWait(t, received), xfWait(t, sent)
			if r.err != nil || s.err != nil {
				t.Fatalf("after the %s's link dropped: receive %v, send %v", who, r.err, s.err)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("bob has %d bytes that differ from the %d sent", got.Len(), len(data))
			}
			resumed := s.res.Resumed
			if who == "recipient" {
				resumed = r.res.Resumed
			}
			if resumed != 1 {
				t.Errorf("the %s's transfer went on over %d new links, want 1", who, resumed)
			}
			// Each 8 KiB chunk crosses the server RC2-encrypted, with 1 to
			// 8 bytes of padding: more than that means the file was sent
			// over again.
			chunks := int64(len(data)+8191) / 8192
			if n := srv.Stats().FileBytesRelayed; n > int64(len(data))+8*chunks {
				t.Errorf("the server relayed %d bytes for a %d-byte file: the transfer restarted instead of resuming", n, len(data))
			}
		})
	}
}

// vmHWM is the peak resident memory of a process, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc/<pid>/status")
	return 0
}

// TestFileTransferMemoryIsBounded sends 50 MB through parleyd (the
// memory backend, whose IM server allows it) and checks that parleyd's
// peak memory grows by far less than the file.
func TestFileTransferMemoryIsBounded(t *testing.T) {
	const size = 50 << 20
	backend := `
backend "memory" {
  plugin = "parley-backend-memory"
  server {
    host = "localhost"
    port = 1
  }
  settings {
    max_file_bytes = 67108864
  }
}
`
	// A tighter garbage collector than the default lets the peak follow
	// what parleyd holds rather than how much garbage it may leave.
	t.Setenv("GOGC", "50")
	d := startDaemonWith(t, backend, user{"alice", "memory", true}, user{"bob", "memory", true})
	ac := d.adminClient(t)
	ctx := context.Background()
	noLimit := int64(0)
	if _, err := ac.AddGroup(ctx, admin.NewGroup{Name: "big"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.SetPolicy(ctx, "big", admin.PolicyChange{MaxFileBytes: &noLimit}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if _, err := ac.SetUserGroup(ctx, u, "big"); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := xfLogin(t, d, "alice", 1080, 1920), xfLogin(t, d, "bob", 1080, 1920)
	// Warm up with a 10 MiB transfer: the peak it leaves is the working
	// set of a transfer. A gateway that held files would need 40 MiB more
	// for the next one.
	xfDeliver(t, alice, bob, "bob", "warm-up.bin", xfRandom(t, 10<<20), false)
	before := vmHWM(t, d.cmd.Process.Pid)

	data := xfRandom(t, size)
	start := time.Now()
	sent := xfSend(alice.Conn, "bob", "big.bin", data)
	inv := xfInvitation(t, bob.events)
	h := sha256.New()
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	res, err := bob.Accept(rctx, inv.TransferId, false, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := xfWait(t, sent); r.err != nil {
		t.Fatal(r.err)
	}
	took := time.Since(start)
	sum := sha256.Sum256(data)
	if res.Bytes != size || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatalf("bob received %d bytes with a different sha256", res.Bytes)
	}
	after := vmHWM(t, d.cmd.Process.Pid)
	t.Logf("50 MiB in %v (%.0f MiB/s); parleyd peak RSS %d MiB before, %d MiB after", took.Round(time.Millisecond),
		float64(size)/(1<<20)/took.Seconds(), before>>20, after>>20)
	if grew := after - before; grew > size/4 {
		t.Errorf("parleyd's peak memory grew by %d MiB during a %d MiB transfer: it must not hold the file", grew>>20, size>>20)
	}
}

// TestFileCLI sends, lists and accepts a file with the parley CLI and its
// JSON output, as a script would.
func TestFileCLI(t *testing.T) {
	_, d := stStart(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := writeFile(ca, d.caPEM); err != nil {
		t.Fatal(err)
	}
	dir, bobDir := t.TempDir(), t.TempDir()
	cli := func(state string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(binDir, "parley"), append([]string{"-server", d.addr, "-ca", ca, "-state", state, "-json"}, args...)...)
		cmd.Env = append(cmd.Environ(), "PARLEY_PASSWORD=secret")
		cmd.Dir = filepath.Dir(state)
		return cmd
	}
	run := func(state string, args ...string) string {
		t.Helper()
		var stderr bytes.Buffer
		cmd := cli(state, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("parley %v: %v\n%s%s", args, err, out, stderr.String())
		}
		return string(out)
	}
	aliceState, bobState := filepath.Join(dir, "alice.json"), filepath.Join(bobDir, "bob.json")
	run(aliceState, "login", "-user", "alice")
	run(bobState, "login", "-user", "bob")
	data := xfRandom(t, 400_000)
	if err := writeFile(filepath.Join(dir, "slides.pdf"), data); err != nil {
		t.Fatal(err)
	}
	send := cli(aliceState, "send-file", "--to", "bob", filepath.Join(dir, "slides.pdf"))
	var sendOut, sendErr bytes.Buffer
	send.Stdout, send.Stderr = &sendOut, &sendErr
	if err := send.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { send.Process.Kill() }) // never leave it running if the test stops early
	sendDone := make(chan error, 1)
	go func() { sendDone <- send.Wait() }()

	// bob listens until the invitation comes, as a script would.
	type line struct{ Type, Transfer, Name string }
	invitation := func() line {
		t.Helper()
		for range 20 {
			var l line
			out := run(bobState, "listen", "-count", "1", "-for", "30s")
			if err := json.Unmarshal([]byte(out), &l); err != nil {
				t.Fatalf("bob's listen: %v\n%s", err, out)
			}
			if l.Type == "file_invitation" {
				return l
			}
		}
		t.Fatal("no file invitation in bob's first 20 events")
		return line{}
	}
	inv := invitation()
	if inv.Name != "slides.pdf" {
		t.Fatalf("invitation %+v", inv)
	}
	accept := run(bobState, "accept", inv.Transfer)
	got, err := os.ReadFile(filepath.Join(bobDir, "slides.pdf.part"))
	if err == nil {
		t.Errorf("a .part file of %d bytes was left behind", len(got))
	}
	if got, err = os.ReadFile(filepath.Join(bobDir, "slides.pdf")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the accepted file: %v (%d bytes)", err, len(got))
	}
	if !strings.Contains(accept, `"type":"file_received"`) || !strings.Contains(accept, `"type":"file_progress"`) {
		t.Errorf("accept's JSON lines:\n%s", accept)
	}
	select {
	case err := <-sendDone:
		if err != nil {
			t.Fatalf("send-file: %v\n%s%s", err, sendOut.String(), sendErr.String())
		}
	case <-time.After(30 * time.Second):
		send.Process.Kill()
		t.Fatal("send-file did not finish")
	}
	lines := strings.Split(strings.TrimSpace(sendOut.String()), "\n")
	var types []string
	for _, l := range lines {
		var m struct{ Type string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("send-file printed a line that is not JSON: %q", l)
		}
		if strings.HasPrefix(m.Type, "file_") { // events that came meanwhile are printed too
			types = append(types, m.Type)
		}
	}
	if len(types) < 3 || types[0] != "file_offered" || types[len(types)-1] != "file_sent" || !slices.Contains(types, "file_progress") {
		t.Errorf("send-file's JSON lines of the transfer, by type: %v", types)
	}
	// The other way round: bob declines a file from the CLI.
	if err := writeFile(filepath.Join(dir, "spam.txt"), []byte("buy now")); err != nil {
		t.Fatal(err)
	}
	send = cli(aliceState, "send-file", "--to", "bob", filepath.Join(dir, "spam.txt"))
	sendErr.Reset()
	send.Stderr = &sendErr
	if err := send.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { sendDone <- send.Wait() }()
	inv = invitation()
	run(bobState, "decline", inv.Transfer)
	if err := <-sendDone; err == nil || !strings.Contains(sendErr.String(), `"code":"DECLINED"`) {
		t.Errorf("send-file of a declined file: %v\n%s", err, sendErr.String())
	}
}

// TestFileTransferEndedByARestartIsReported: transfers do not survive a
// restart of parleyd, but the sender's device learns it once it resumes,
// instead of waiting for acknowledgements that never come.
func TestFileTransferEndedByARestartIsReported(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers, FixedPort: true})
	alice, _, _ := xfSession(t, d, "alice")
	bob := xfLogin(t, d, "bob", 1080, 1920)
	data := xfRandom(t, 900_000) // the memory backend's IM server takes up to 1 MiB
	gate := newXfGate(256 << 10)
	sent := xfAsync(func(ctx context.Context) (*client.FileResult, error) {
		return alice.SendFile(ctx, "bob", "", "big.bin", xfGateReader{gate, bytes.NewReader(data)}, int64(len(data)))
	})
	xfInvitation(t, bob.events)
	<-gate.reached
	d.restart()
	close(gate.opened)
	r := xfWait(t, sent)
	if r.err == nil || client.Code(r.err) == devicev1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		t.Fatalf("a transfer cut by a restart: %v, want a typed error", r.err)
	}
	t.Logf("the sender learned: %v", r.err)
}
