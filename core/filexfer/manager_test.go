package filexfer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// These tests drive the manager directly, as the link would: FromDevice
// for what a device sends, Next for what the gateway sends it.

// fakeBackend is a plugin whose uploads land in a buffer and whose
// downloads deliver fixed data.
type fakeBackend struct {
	mu       sync.Mutex
	uploaded bytes.Buffer
	download []byte
	declined []string
}

func (b *fakeBackend) SendFile(ctx context.Context, h sdk.FileHeader, r io.Reader) (uint64, error) {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, r)
	b.mu.Lock()
	b.uploaded.Write(buf.Bytes())
	b.mu.Unlock()
	return uint64(buf.Len()), err
}

func (b *fakeBackend) ReceiveFile(ctx context.Context, _, _ string, w io.Writer) error {
	_, err := w.Write(b.download)
	return err
}

func (b *fakeBackend) DeclineFile(_ context.Context, _, id string) error {
	b.mu.Lock()
	b.declined = append(b.declined, id)
	b.mu.Unlock()
	return nil
}

type unit struct {
	m       *filexfer.Manager
	dev     *session.Device
	gen     uint64
	journal *journal
	spool   string
}

func newUnit(t testing.TB, o filexfer.Options) *unit {
	t.Helper()
	j := &journal{got: make(chan struct{}, 1)}
	dir := t.TempDir()
	if o.Policies == nil {
		o.Policies = &policies{def: defaultPolicy(), by: map[string]configdb.Policy{}}
	}
	o.Journal, o.SpoolDir, o.DeviceError = j, dir, router.DeviceError
	m, err := filexfer.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	sessions := session.NewManager(session.Config{}, func(*session.Session, string) {}, nil)
	d, _, _, err := sessions.Login(context.Background(), "alice", "memory", "alice", "pw", "phone",
		func(context.Context, *session.Session) (sdk.Capabilities, error) {
			return sdk.Capabilities{FileTransfer: true}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := d.Attachment()
	return &unit{m: m, dev: d, gen: gen, journal: j, spool: dir}
}

func (u *unit) offer(t testing.TB, b filexfer.Backend, size uint64, sum []byte) string {
	t.Helper()
	o, err := u.m.Offer(context.Background(), b, u.dev, &devicev1.OfferFile{To: "bob", Name: "a.bin", Size: size, Sha256: sum})
	if err != nil {
		t.Fatal(err)
	}
	return o.TransferId
}

func (u *unit) chunk(id string, off uint64, data []byte, last bool) {
	u.m.FromDevice(u.dev, &devicev1.Message{Body: &devicev1.Message_FileChunk{FileChunk: &devicev1.FileChunk{
		TransferId: id, Offset: off, Data: data, Last: last}}})
}

// ended waits for the transfer's record in the transfer log.
func (u *unit) ended(t *testing.T, id string) configdb.TransferRecord {
	t.Helper()
	return u.journal.wait(t, func(r configdb.TransferRecord) bool { return r.TransferID == id })
}

// progress returns the session's FileProgress events for id so far.
func (u *unit) progress(id string) []*devicev1.FileProgress {
	events, _ := u.dev.Next(1000)
	var out []*devicev1.FileProgress
	for _, e := range events {
		if p := e.GetFileProgress(); p != nil && p.TransferId == id {
			out = append(out, p)
		}
	}
	return out
}

func TestChunkProtocolViolationsFailTheTransfer(t *testing.T) {
	const size = 4 * filexfer.Window
	for _, tc := range []struct {
		name string
		size uint64
		send func(u *unit, id string)
	}{
		{"gap", size, func(u *unit, id string) { u.chunk(id, 100, make([]byte, 10), false) }},
		{"beyond the size", 100, func(u *unit, id string) {
			u.chunk(id, 0, make([]byte, 60), false)
			u.chunk(id, 60, make([]byte, 41), false)
		}},
		{"last chunk too early", size, func(u *unit, id string) { u.chunk(id, 0, make([]byte, 10), true) }},
		{"chunk over the limit", size, func(u *unit, id string) { u.chunk(id, 0, make([]byte, filexfer.MaxChunk+1), false) }},
		{"window overrun", size, func(u *unit, id string) {
			// The plugin takes nothing: the gateway acknowledges a window
			// of what it stores, and the device may send a window past
			// the acknowledgement, not more.
			for off := uint64(0); off <= 2*filexfer.Window; off += filexfer.MaxChunk {
				u.chunk(id, off, make([]byte, filexfer.MaxChunk), false)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUnit(t, filexfer.Options{})
			id := u.offer(t, &stallBackend{}, tc.size, nil)
			tc.send(u, id)
			r := u.ended(t, id)
			if r.Outcome != configdb.OutcomeFailed {
				t.Fatalf("record %+v, want failed", r)
			}
			ps := u.progress(id)
			if len(ps) == 0 || ps[len(ps)-1].State != devicev1.FileProgress_FAILED || ps[len(ps)-1].GetError().GetCode() != devicev1.ErrorCode_PROTOCOL_ERROR {
				t.Fatalf("progress %v, want FAILED with PROTOCOL_ERROR", ps)
			}
			if entries, _ := os.ReadDir(u.spool); len(entries) != 0 {
				t.Errorf("spool files left behind: %v", entries)
			}
		})
	}
}

// stallBackend takes an upload but reads nothing until its context ends.
type stallBackend struct{ fakeBackend }

func (b *stallBackend) SendFile(ctx context.Context, _ sdk.FileHeader, _ io.Reader) (uint64, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestResentChunksAreTrimmedAndAcknowledgedAgain(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	b := &fakeBackend{}
	data := randomBytes(t, 100_000)
	id := u.offer(t, b, uint64(len(data)), sumOf(data))
	u.chunk(id, 0, data[:60_000], false)
	// The link dropped before the ack came: the device resends from 0,
	// overlapping what the gateway has, then goes on.
	u.chunk(id, 0, data[:60_000], false)
	u.chunk(id, 50_000, data[50_000:], true)
	if r := u.ended(t, id); r.Outcome != configdb.OutcomeDelivered || r.Bytes != int64(len(data)) {
		t.Fatalf("record %+v, want delivered", r)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !bytes.Equal(b.uploaded.Bytes(), data) {
		t.Fatalf("the plugin got %d bytes that differ from the %d sent", b.uploaded.Len(), len(data))
	}
}

func TestAcknowledgementsGoOutOnEachNewLink(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	gate := make(chan struct{})
	b := &readGate{gate: gate}
	id := u.offer(t, b, 10_000, nil)
	u.chunk(id, 0, make([]byte, 10_000), true)
	// The plugin takes the data only after the test: once it has, the
	// transfer completes and its COMPLETED event replaces any further ack.
	defer close(gate)
	ack := waitAck(t, u, u.gen, id)
	if ack != 10_000 {
		t.Fatalf("ack %d, want 10000", ack)
	}
	if msgs := u.m.Next(u.dev, u.gen); len(msgs) != 0 {
		t.Fatalf("the same ack again on the same link: %v", msgs)
	}
	// A new link (a resumed device) gets the current ack at once.
	if msgs := u.m.Next(u.dev, u.gen+1); len(msgs) != 1 || msgs[0].GetFileChunkAck().GetOffset() != 10_000 {
		t.Fatalf("on a new link: %v, want the ack of 10000", msgs)
	}
}

// readGate reads its upload only once gate is closed.
type readGate struct {
	fakeBackend
	gate chan struct{}
}

func (b *readGate) SendFile(ctx context.Context, h sdk.FileHeader, r io.Reader) (uint64, error) {
	select {
	case <-b.gate:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return b.fakeBackend.SendFile(ctx, h, r)
}

// waitAck waits for an acknowledgement of id for the link gen.
func waitAck(t *testing.T, u *unit, gen uint64, id string) uint64 {
	t.Helper()
	wake := u.m.Wake(u.dev)
	timeout := time.After(10 * time.Second)
	for {
		for _, m := range u.m.Next(u.dev, gen) {
			if a := m.GetFileChunkAck(); a != nil && a.TransferId == id {
				return a.Offset
			}
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatal("no acknowledgement within 10s")
		}
	}
}

func TestDeviceThatNeverComesBackIsGivenUp(t *testing.T) {
	u := newUnit(t, filexfer.Options{ResumeWindow: 300 * time.Millisecond})
	id := u.offer(t, &fakeBackend{}, 100_000, nil)
	u.chunk(id, 0, make([]byte, 1000), false)
	// ... and the device is gone. The plugin waits for data until the
	// resume window has passed.
	r := u.ended(t, id)
	if r.Outcome != configdb.OutcomeFailed {
		t.Fatalf("record %+v, want failed", r)
	}
	ps := u.progress(id)
	if len(ps) == 0 || ps[len(ps)-1].GetError().GetCode() != devicev1.ErrorCode_TIMEOUT {
		t.Fatalf("progress %v, want FAILED with TIMEOUT", ps)
	}
}

func TestDownloadAcknowledgingUnsentDataFails(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	b := &fakeBackend{download: randomBytes(t, 1000)}
	ctx := context.Background()
	u.m.Offered(ctx, b, u.dev.Session(), sdk.FileOfferEvent{TransferID: "in-1", From: "bob", Name: "x.bin", Size: 1000})
	if err := u.m.Accept(ctx, b, u.dev, &devicev1.AcceptFile{TransferId: "in-1"}); err != nil {
		t.Fatal(err)
	}
	u.m.FromDevice(u.dev, &devicev1.Message{Body: &devicev1.Message_FileChunkAck{FileChunkAck: &devicev1.FileChunkAck{
		TransferId: "in-1", Offset: 5000}}})
	if r := u.ended(t, "in-1"); r.Outcome != configdb.OutcomeFailed || r.Direction != configdb.TransferReceive {
		t.Fatalf("record %+v, want the download failed", r)
	}
}

func TestDownloadIsWindowedAndCompletesOnTheLastAck(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	data := randomBytes(t, 3*filexfer.Window+123)
	b := &fakeBackend{download: data}
	ctx := context.Background()
	u.m.Offered(ctx, b, u.dev.Session(), sdk.FileOfferEvent{TransferID: "in-1", From: "bob", Name: "x.bin", Size: uint64(len(data))})
	if err := u.m.Accept(ctx, b, u.dev, &devicev1.AcceptFile{TransferId: "in-1"}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	wake := u.m.Wake(u.dev)
	timeout := time.After(10 * time.Second)
	last := false
	for !last {
		unacked := 0
		for _, m := range u.m.Next(u.dev, u.gen) {
			c := m.GetFileChunk()
			if c.Offset != uint64(got.Len()) {
				t.Fatalf("chunk at %d after %d bytes", c.Offset, got.Len())
			}
			got.Write(c.Data)
			unacked += len(c.Data)
			last = c.Last
		}
		if unacked > filexfer.Window {
			t.Fatalf("%d bytes sent without an acknowledgement; the window is %d", unacked, filexfer.Window)
		}
		if unacked > 0 || last {
			u.m.FromDevice(u.dev, &devicev1.Message{Body: &devicev1.Message_FileChunkAck{FileChunkAck: &devicev1.FileChunkAck{
				TransferId: "in-1", Offset: uint64(got.Len())}}})
			continue
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("stuck after %d bytes", got.Len())
		}
	}
	mustEqual(t, got.Bytes(), data)
	if r := u.ended(t, "in-1"); r.Outcome != configdb.OutcomeDelivered {
		t.Fatalf("record %+v, want delivered", r)
	}
}

func TestSpoolAndSessionLimits(t *testing.T) {
	u := newUnit(t, filexfer.Options{SpoolLimit: 1 << 20, MaxActive: 2})
	ctx := context.Background()
	offer := func(size uint64) error {
		_, err := u.m.Offer(ctx, &stallBackend{}, u.dev, &devicev1.OfferFile{To: "bob", Name: "a.bin", Size: size})
		return err
	}
	if err := offer(2 << 20); !errors.Is(err, filexfer.ErrBusy) || router.DeviceError(err).Code != devicev1.ErrorCode_SERVER_BUSY {
		t.Fatalf("a file larger than the spool: %v, want SERVER_BUSY", err)
	}
	for range 2 {
		if err := offer(100); err != nil {
			t.Fatal(err)
		}
	}
	if err := offer(100); !errors.Is(err, filexfer.ErrBusy) {
		t.Fatalf("a third transfer with MaxActive 2: %v, want ErrBusy", err)
	}
}

func TestMalformedOffersAreInvalid(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	for _, req := range []*devicev1.OfferFile{
		{To: "bob", Name: "", Size: 1},
		{To: "bob", Name: "../..", Size: 1},
		{To: "bob", Name: "a\x00b", Size: 1},
		{Name: "a.txt", Size: 1},
		{To: "bob", Name: "a.txt", Size: 1, Sha256: []byte{1, 2, 3}},
	} {
		_, err := u.m.Offer(context.Background(), &fakeBackend{}, u.dev, req)
		if router.DeviceError(err).Code != devicev1.ErrorCode_INVALID_ARGUMENT {
			t.Errorf("offer %v: %v, want INVALID_ARGUMENT", req, err)
		}
	}
}

func TestPluginProgressOfGatewayTransfersIsNotPassedOn(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	b := &fakeBackend{download: []byte("hello")}
	ctx := context.Background()
	s := u.dev.Session()
	u.m.Offered(ctx, b, s, sdk.FileOfferEvent{TransferID: "in-1", From: "bob", Name: "x.txt", Size: 5})
	if err := u.m.Accept(ctx, b, u.dev, &devicev1.AcceptFile{TransferId: "in-1"}); err != nil {
		t.Fatal(err)
	}
	if !u.m.Progress(s, sdk.FileProgressEvent{TransferID: "in-1", State: sdk.FileTransferring, Bytes: 5}) {
		t.Error("the plugin's progress of a running download was passed on")
	}
	if err := u.m.Cancel(ctx, b, u.dev, "in-1"); err != nil {
		t.Fatal(err)
	}
	// The plugin reports the end later: the gateway has reported it already.
	if !u.m.Progress(s, sdk.FileProgressEvent{TransferID: "in-1", State: sdk.FileCancelled}) {
		t.Error("the plugin's late report of an ended download was passed on")
	}
	if u.m.Progress(s, sdk.FileProgressEvent{TransferID: "other", State: sdk.FileCompleted}) {
		t.Error("the progress of a transfer the gateway does not run was swallowed")
	}
}

func TestChunksLendBuffersUntilReleased(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	data := randomBytes(t, 2*filexfer.Window+777)
	b := &fakeBackend{download: data}
	ctx := context.Background()
	u.m.Offered(ctx, b, u.dev.Session(), sdk.FileOfferEvent{TransferID: "in-1", From: "bob", Name: "x.bin", Size: uint64(len(data))})
	if err := u.m.Accept(ctx, b, u.dev, &devicev1.AcceptFile{TransferId: "in-1"}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	wake := u.m.Wake(u.dev)
	timeout := time.After(10 * time.Second)
	for last := false; !last; {
		msgs := u.m.Next(u.dev, u.gen)
		chunks := 0
		for _, m := range msgs {
			c := m.GetFileChunk()
			got.Write(c.Data)
			last = c.Last
			if len(c.Data) > 0 {
				chunks++
			}
		}
		if chunks > 1 {
			t.Fatalf("Next returned %d chunks at once; want one, so that a link holds one chunk buffer", chunks)
		}
		if lent, _ := u.m.ChunkBuffers(); lent != int64(chunks)*filexfer.MaxChunk {
			t.Fatalf("%d bytes of buffers lent for %d chunks", lent, chunks)
		}
		u.m.Release(msgs)
		u.m.Release(msgs) // a second release gives nothing back twice
		if lent, _ := u.m.ChunkBuffers(); lent != 0 {
			t.Fatalf("%d bytes of buffers still lent after Release", lent)
		}
		if len(msgs) > 0 {
			u.m.FromDevice(u.dev, &devicev1.Message{Body: &devicev1.Message_FileChunkAck{FileChunkAck: &devicev1.FileChunkAck{
				TransferId: "in-1", Offset: uint64(got.Len())}}})
			continue
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("stuck after %d bytes", got.Len())
		}
	}
	mustEqual(t, got.Bytes(), data)
	if _, peak := u.m.ChunkBuffers(); peak > filexfer.NextBudget {
		t.Errorf("at most %d bytes of buffers lent at once, want at most %d", peak, filexfer.NextBudget)
	}
}

func TestUploadAcknowledgementsWakeTheLinkEveryQuarterWindow(t *testing.T) {
	u := newUnit(t, filexfer.Options{})
	data := randomBytes(t, 5*filexfer.MaxChunk)
	// The plugin does not read: only the chunks move the acknowledgement.
	id := u.offer(t, &stallBackend{}, uint64(len(data)), nil)
	wake := u.m.Wake(u.dev)
	woken := func() bool {
		select {
		case <-wake:
			return true
		default:
			return false
		}
	}
	for i, want := range []bool{false, true, false, true, true} {
		off := i * filexfer.MaxChunk
		u.chunk(id, uint64(off), data[off:off+filexfer.MaxChunk], i == 4)
		if got := woken(); got != want {
			t.Fatalf("after chunk %d the link was woken: %v, want %v (a quarter window, or the end of the file)", i, got, want)
		}
		if want {
			msgs := u.m.Next(u.dev, u.gen)
			if len(msgs) != 1 || msgs[0].GetFileChunkAck().GetOffset() != uint64(off+filexfer.MaxChunk) {
				t.Fatalf("after chunk %d: %v, want an acknowledgement of %d bytes", i, msgs, off+filexfer.MaxChunk)
			}
		}
	}
}
