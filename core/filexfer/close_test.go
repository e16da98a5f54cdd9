package filexfer_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// heldJournal holds the record of one transfer until release is closed,
// holding up the goroutine that ends it; entered is closed when it does.
type heldJournal struct {
	journal
	hold    string
	entered chan struct{}
	release chan struct{}
}

func (j *heldJournal) RecordTransfer(ctx context.Context, r configdb.TransferRecord) (configdb.TransferRecord, error) {
	if r.TransferID == j.hold {
		close(j.entered)
		<-j.release
	}
	return j.journal.RecordTransfer(ctx, r)
}

// logWatch closes seen when a log line contains want.
type logWatch struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (w *logWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func TestCloseWaitsForTheEndOfTransfersEndingElsewhere(t *testing.T) {
	j := &heldJournal{journal: journal{got: make(chan struct{}, 1)}, entered: make(chan struct{}), release: make(chan struct{})}
	watch := &logWatch{want: "waiting for file transfers that are ending", seen: make(chan struct{})}
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: watch})
	m, err := filexfer.New(filexfer.Options{Policies: &policies{def: defaultPolicy(), by: map[string]configdb.Policy{}},
		Journal: j, SpoolDir: t.TempDir(), DeviceError: router.DeviceError, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	dev := loginAlice(t)
	offered, err := m.Offer(context.Background(), &stallBackend{}, dev, &devicev1.OfferFile{To: "bob", Name: "a.bin", Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	id := offered.TransferId
	j.hold = id
	// A chunk beyond the size fails the transfer on this goroutine, which
	// is then held while it records the end.
	go m.FromDevice(dev, &devicev1.Message{Body: &devicev1.Message_FileChunk{FileChunk: &devicev1.FileChunk{
		TransferId: id, Data: make([]byte, 101)}}})
	<-j.entered
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	select {
	case <-closed:
		close(j.release)
		t.Fatal("Close returned before the failed transfer's end reached its session")
	case <-watch.seen:
	}
	close(j.release)
	<-closed
	events, _ := dev.Next(1000)
	var last *devicev1.FileProgress
	for _, e := range events {
		if p := e.GetFileProgress(); p != nil && p.TransferId == id {
			last = p
		}
	}
	if last.GetState() != devicev1.FileProgress_FAILED {
		t.Fatalf("after Close the session's last progress of the transfer is %v, want FAILED", last)
	}
}

// loginAlice returns a device of a new session of alice.
func loginAlice(t *testing.T) *session.Device {
	t.Helper()
	sessions := session.NewManager(session.Config{}, func(*session.Session, string) {}, nil)
	d, _, _, err := sessions.Login(context.Background(), "alice", "memory", "alice", "pw", "phone",
		func(context.Context, *session.Session) (sdk.Capabilities, error) {
			return sdk.Capabilities{FileTransfer: true}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
