package memory_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
	"github.com/parleygw/parley/plugins/sdk/sdktest/memory"
)

func TestConformance(t *testing.T) {
	sdktest.Run(t, sdktest.Harness{
		New:   func(*testing.T) sdk.Backend { return memory.New() },
		Alice: sdktest.Account{Login: "alice", Password: "secret"},
		Bob:   sdktest.Account{Login: "bob", Password: "secret"},
	})
}

func TestFileTransferStreamsAndEnforcesLimit(t *testing.T) {
	c := sdktest.Connect(t, memory.New(), []byte(`{"max_file_bytes": 200000}`), sdk.ServerAddress{})
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: "s-" + u, Login: u, Password: "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160000 bytes, several chunks
	sent := make(chan error, 1)
	go func() {
		_, err := c.SendFile(ctx, sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob", Name: "notes.txt", Size: uint64(len(data))}, bytes.NewReader(data))
		sent <- err
	}()
	offer := c.WaitEvent(t, "s-bob", "file offer", func(e sdk.Event) bool { _, ok := e.Kind.(sdk.FileOfferEvent); return ok })
	if got := offer.Kind.(sdk.FileOfferEvent); got.From != "alice" || got.Size != uint64(len(data)) || got.Name != "notes.txt" {
		t.Fatalf("offer = %+v", got)
	}
	var got bytes.Buffer
	if err := c.ReceiveFile(ctx, "s-bob", "t1", &got); err != nil {
		t.Fatalf("receive: %v", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
	if sha256.Sum256(got.Bytes()) != sha256.Sum256(data) {
		t.Fatal("received file differs from the sent one")
	}

	_, err := c.SendFile(ctx, sdk.FileHeader{SessionID: "s-alice", TransferID: "t2", To: "bob", Name: "big.bin", Size: 200001}, bytes.NewReader(nil))
	var e *sdk.Error
	if !sdktest.IsReason(err, sdk.ReasonFileTooLarge) || !errorsAs(err, &e) || e.LimitBytes != 200000 {
		t.Fatalf("oversize offer: got %v, want file_too_large with limit 200000", err)
	}
}

func TestDeclinedFileTellsSender(t *testing.T) {
	c := sdktest.Connect(t, memory.New(), nil, sdk.ServerAddress{})
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: "s-" + u, Login: u, Password: "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	sent := make(chan error, 1)
	go func() {
		_, err := c.SendFile(ctx, sdk.FileHeader{SessionID: "s-alice", TransferID: "t1", To: "bob", Name: "a.txt", Size: 3}, bytes.NewReader([]byte("abc")))
		sent <- err
	}()
	c.WaitEvent(t, "s-bob", "file offer", func(e sdk.Event) bool { _, ok := e.Kind.(sdk.FileOfferEvent); return ok })
	if err := c.DeclineFile(ctx, "s-bob", "t1"); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; !sdktest.IsReason(err, sdk.ReasonDeclined) {
		t.Fatalf("sender got %v, want declined", err)
	}
}

func TestSecondLoginKicksFirst(t *testing.T) {
	c := sdktest.Connect(t, memory.New(), nil, sdk.ServerAddress{})
	ctx := context.Background()
	for _, sid := range []string{"s1", "s2"} {
		if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: sid, Login: "alice", Password: "secret"}); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitEvent(t, "s1", "session ended", func(e sdk.Event) bool {
		end, ok := e.Kind.(sdk.SessionEndedEvent)
		return ok && end.Reason == sdk.ReasonKicked
	})
}

func errorsAs(err error, target **sdk.Error) bool { return errors.As(err, target) }
