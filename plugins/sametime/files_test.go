package sametime_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/parleygw/parley/plugins/sametime/sttest"
	"github.com/parleygw/parley/plugins/sdk"
)

func isOffer(sdk.FileOfferEvent) bool { return true }

func TestFileTransferDeliversIdenticalBytes(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	open(t, c, addr, "s-bob", "bob")
	data := make([]byte, 300_000) // 37 chunks of 8 KiB, the last one short
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sent := make(chan error, 1)
	go func() {
		_, err := c.SendFile(context.Background(), sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob",
			Name: "photos/holiday.jpg", Size: uint64(len(data)), SHA256: sum[:]}, bytes.NewReader(data))
		sent <- err
	}()
	ev := c.WaitEvent(t, "s-bob", "file offer", eventOf(isOffer))
	offer := ev.Kind.(sdk.FileOfferEvent)
	if offer.From != "alice" || offer.Name != "holiday.jpg" || offer.Size != uint64(len(data)) || offer.ConversationID != "im:alice" {
		t.Fatalf("offer %+v", offer)
	}
	var got bytes.Buffer
	if err := c.ReceiveFile(context.Background(), "s-bob", offer.TransferID, &got); err != nil {
		t.Fatalf("receive: %v", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
	if sha256.Sum256(got.Bytes()) != sum {
		t.Fatalf("received %d bytes that differ from the %d sent", got.Len(), len(data))
	}
	// The channel is RC2-encrypted: each 8 KiB chunk carries 1 to 8
	// bytes of CBC padding through the server.
	chunks := int64((len(data) + 8191) / 8192)
	if n := srv.Stats().FileBytesRelayed; n < int64(len(data))+chunks || n > int64(len(data))+8*chunks {
		t.Errorf("server relayed %d bytes for %d bytes in %d encrypted chunks", n, len(data), chunks)
	}
	c.WaitEvent(t, "s-bob", "completion", eventOf(func(p sdk.FileProgressEvent) bool {
		return p.TransferID == offer.TransferID && p.State == sdk.FileCompleted && p.Bytes == uint64(len(data))
	}))
	c.WaitEvent(t, "s-bob", "progress", eventOf(func(p sdk.FileProgressEvent) bool {
		return p.TransferID == offer.TransferID && p.State == sdk.FileTransferring && p.Bytes > 0
	}))
	// The offer is answered: it cannot be taken twice.
	err := c.ReceiveFile(context.Background(), "s-bob", offer.TransferID, &got)
	reasonOf(t, err, sdk.ReasonNotFound)
}

func TestDeclinedFileTellsSender(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	open(t, c, addr, "s-bob", "bob")
	sent := make(chan error, 1)
	go func() {
		_, err := c.SendFile(context.Background(), sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob", Name: "a.txt", Size: 3},
			strings.NewReader("abc"))
		sent <- err
	}()
	ev := c.WaitEvent(t, "s-bob", "file offer", eventOf(isOffer))
	if err := c.DeclineFile(context.Background(), "s-bob", ev.Kind.(sdk.FileOfferEvent).TransferID); err != nil {
		t.Fatal(err)
	}
	reasonOf(t, <-sent, sdk.ReasonDeclined)
}

// TestFileOverConfiguredLimit: an offer above max_file_bytes never
// reaches the server.
func TestFileOverConfiguredLimit(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, `{"max_file_bytes": 1000}`, addr)
	open(t, c, addr, "s-alice", "alice")
	open(t, c, addr, "s-bob", "bob")
	_, err := c.SendFile(context.Background(), sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob", Name: "big.bin", Size: 1001},
		bytes.NewReader(make([]byte, 1001)))
	if e := reasonOf(t, err, sdk.ReasonFileTooLarge); e.LimitBytes != 1000 {
		t.Fatalf("limit %d, want 1000", e.LimitBytes)
	}
	if st := srv.Stats(); st.ChannelsRelayed != 0 || st.FileOffersRefused != 0 {
		t.Errorf("the offer reached the server: %+v", st)
	}
}

// TestFileRefusedByServer: the server's own limit refuses the offer before
// bob sees it; the sender learns the limit configured for the server.
func TestFileRefusedByServer(t *testing.T) {
	srv, addr := startServer(t, sttest.WithMaxFileBytes(4096))
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	open(t, c, addr, "s-bob", "bob")
	_, err := c.SendFile(context.Background(), sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob", Name: "big.bin", Size: 5000},
		bytes.NewReader(make([]byte, 5000)))
	if e := reasonOf(t, err, sdk.ReasonFileTooLarge); e.LimitBytes != 1<<20 {
		t.Fatalf("limit %d, want the configured 1 MiB", e.LimitBytes)
	}
	if n := srv.Stats().FileOffersRefused; n != 1 {
		t.Errorf("server refused %d offers, want 1", n)
	}
	for _, e := range c.Events("s-bob") {
		if _, offered := e.Kind.(sdk.FileOfferEvent); offered {
			t.Error("bob saw an offer the server refused")
		}
	}
}

func TestFileToOfflineUser(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	_, err := c.SendFile(context.Background(), sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob", Name: "a.txt", Size: 1},
		strings.NewReader("a"))
	reasonOf(t, err, sdk.ReasonNotFound)
}

// TestIncomingOfferNameIsNotAPath: a peer's client chooses the file name;
// the device only ever sees its last element.
func TestIncomingOfferNameIsNotAPath(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-alice", "alice")
	bob := dialPeer(t, addr, "bob")
	go bob.SendFile(context.Background(), "alice", `..\..\windows/../../etc/passwd`, 4, strings.NewReader("root"))
	ev := c.WaitEvent(t, "s-alice", "file offer", eventOf(isOffer))
	if name := ev.Kind.(sdk.FileOfferEvent).Name; name != "passwd" {
		t.Fatalf("offered name %q, want passwd", name)
	}
}
