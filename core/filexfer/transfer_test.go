package filexfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

func TestDeliveredByteIdentical(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	data := randomBytes(t, 3<<20+12345)
	sent := sendAsync(alice, "bob", "photos/report.pdf", bytes.NewReader(data), int64(len(data)))
	inv := bob.invitation(t)
	if inv.From != "alice" || inv.Name != "report.pdf" || inv.Size != uint64(len(data)) {
		t.Fatalf("invitation %v", inv)
	}
	var got bytes.Buffer
	res, err := bob.Accept(context.Background(), inv.TransferId, false, &got, 0)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	mustEqual(t, got.Bytes(), data)
	sum := sha256.Sum256(data)
	if !bytes.Equal(res.SHA256, sum[:]) || !bytes.Contains([]byte(res.Note), []byte("matches the sender's")) {
		t.Errorf("result %+v: want the sha256 checked against the sender's", res)
	}
	if r := result(t, sent); r.err != nil || r.res.Bytes != uint64(len(data)) {
		t.Fatalf("send: %+v %v", r.res, r.err)
	}
	up := g.journal.wait(t, func(r configdb.TransferRecord) bool { return r.Direction == configdb.TransferSend })
	down := g.journal.wait(t, func(r configdb.TransferRecord) bool { return r.Direction == configdb.TransferReceive })
	for _, r := range []configdb.TransferRecord{up, down} {
		if r.Outcome != configdb.OutcomeDelivered || r.Sender != "alice" || r.Recipient != "bob" || r.Size != int64(len(data)) ||
			r.Bytes != int64(len(data)) || r.Name != "report.pdf" {
			t.Errorf("record %+v", r)
		}
	}
}

func TestDeclineTellsTheSender(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	sent := sendAsync(alice, "bob", "notes.txt", bytes.NewReader([]byte("hello")), 5)
	inv := bob.invitation(t)
	if err := bob.Decline(context.Background(), inv.TransferId); err != nil {
		t.Fatal(err)
	}
	if r := result(t, sent); code(r.err) != devicev1.ErrorCode_DECLINED {
		t.Fatalf("send: %v, want DECLINED", r.err)
	}
	g.journal.wait(t, func(r configdb.TransferRecord) bool {
		return r.Direction == configdb.TransferSend && r.Outcome == configdb.OutcomeDeclined
	})
	g.journal.wait(t, func(r configdb.TransferRecord) bool {
		return r.Direction == configdb.TransferReceive && r.Outcome == configdb.OutcomeDeclined
	})
}

func TestRefusalsNameTheirRule(t *testing.T) {
	g := startGateway(t, gatewayOptions{imMaxBytes: 100_000})
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	g.policies.set("alice", configdb.Policy{FileTransfer: true, MaxFileBytes: 50_000, BlockedExtensions: []string{"exe", "tar.gz"}})
	ctx := context.Background()
	offer := func(name string, size int) error {
		_, err := alice.SendFile(ctx, "bob", "", name, bytes.NewReader(make([]byte, size)), int64(size))
		return err
	}

	// The gateway's limit: exactly at it goes through, one byte over does not.
	ok := sendAsync(alice, "bob", "at-limit.bin", bytes.NewReader(make([]byte, 50_000)), 50_000)
	inv := bob.invitation(t)
	var got bytes.Buffer
	if _, err := bob.Accept(ctx, inv.TransferId, false, &got, 0); err != nil || got.Len() != 50_000 {
		t.Fatalf("file at the gateway's limit: %v (%d bytes)", err, got.Len())
	}
	if r := result(t, ok); r.err != nil {
		t.Fatal(r.err)
	}
	err := offer("over.bin", 50_001)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != devicev1.ErrorCode_FILE_TOO_LARGE || ce.LimitSource != devicev1.LimitSource_GATEWAY || ce.Limit != 50_000 {
		t.Fatalf("one byte over the gateway's limit: %v, want FILE_TOO_LARGE from the GATEWAY with limit 50000", err)
	}

	// Blocked extensions, case and trailing dots notwithstanding.
	for _, name := range []string{"setup.exe", "SETUP.EXE.", "backup.tar.gz"} {
		if err := offer(name, 10); code(err) != devicev1.ErrorCode_FILE_TYPE_BLOCKED {
			t.Errorf("%s: %v, want FILE_TYPE_BLOCKED", name, err)
		}
	}
	// "*" blocks everything.
	g.policies.set("alice", configdb.Policy{FileTransfer: true, BlockedExtensions: []string{"*"}})
	if err := offer("a.txt", 10); code(err) != devicev1.ErrorCode_FILE_TYPE_BLOCKED {
		t.Errorf("with * blocked: %v, want FILE_TYPE_BLOCKED", err)
	}
	// Switched off.
	g.policies.set("alice", configdb.Policy{FileTransfer: false})
	if err := offer("a.txt", 10); code(err) != devicev1.ErrorCode_FILE_TRANSFER_DISABLED {
		t.Errorf("transfers off: %v, want FILE_TRANSFER_DISABLED", err)
	}

	// The IM server's limit (the memory backend's 100000 bytes): at it the
	// file goes through, one over is refused with the IM server's limit.
	g.policies.set("alice", defaultPolicy())
	ok = sendAsync(alice, "bob", "im-limit.bin", bytes.NewReader(make([]byte, 100_000)), 100_000)
	inv = bob.invitation(t)
	got.Reset()
	if _, err := bob.Accept(ctx, inv.TransferId, false, &got, 0); err != nil || got.Len() != 100_000 {
		t.Fatalf("file at the IM server's limit: %v (%d bytes)", err, got.Len())
	}
	if r := result(t, ok); r.err != nil {
		t.Fatal(r.err)
	}
	err = offer("im-over.bin", 100_001)
	if !errors.As(err, &ce) || ce.Code != devicev1.ErrorCode_FILE_TOO_LARGE || ce.LimitSource != devicev1.LimitSource_IM_SERVER || ce.Limit != 100_000 {
		t.Fatalf("one byte over the IM server's limit: %v, want FILE_TOO_LARGE from the IM_SERVER with limit 100000", err)
	}

	rules := map[string]int{}
	g.journal.mu.Lock()
	for _, r := range g.journal.recs {
		if r.Outcome == configdb.OutcomeRefused {
			rules[r.Rule]++
		}
	}
	g.journal.mu.Unlock()
	want := map[string]int{configdb.RuleGatewayLimit: 1, configdb.RuleTypeBlocked: 4, configdb.RuleDisabled: 1, configdb.RuleIMServerLimit: 1}
	for rule, n := range want {
		if rules[rule] != n {
			t.Errorf("%d refusals recorded for rule %s, want %d (all: %v)", rules[rule], rule, n, rules)
		}
	}
}

func TestRecipientPolicyDeclinesOnTheirBehalf(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	g.policies.set("bob", configdb.Policy{FileTransfer: false})
	sent := sendAsync(alice, "bob", "a.txt", bytes.NewReader([]byte("abc")), 3)
	inv := bob.invitation(t)
	ev := bob.waitEvent(t, "refusal", progressOf(inv.TransferId, devicev1.FileProgress_FAILED))
	if c := ev.GetFileProgress().GetError().GetCode(); c != devicev1.ErrorCode_FILE_TRANSFER_DISABLED {
		t.Errorf("bob's refusal has code %v, want FILE_TRANSFER_DISABLED", c)
	}
	if r := result(t, sent); code(r.err) != devicev1.ErrorCode_DECLINED {
		t.Fatalf("alice's send: %v, want DECLINED", r.err)
	}
}

func TestCancelEndsBothSides(t *testing.T) {
	for _, who := range []string{"sender", "recipient"} {
		t.Run(who, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{})
			alice, bob := g.login(t, "alice"), g.login(t, "bob")
			gate := newGateReader(bytes.NewReader(randomBytes(t, 4<<20)), 1<<20)
			sent := sendAsync(alice, "bob", "big.bin", gate, 4<<20)
			inv := bob.invitation(t)
			received := make(chan sendResult, 1)
			var got bytes.Buffer
			go func() {
				res, err := bob.Accept(context.Background(), inv.TransferId, false, &got, 0)
				received <- sendResult{res, err}
			}()
			bob.waitEvent(t, "accepted", progressOf(inv.TransferId, devicev1.FileProgress_ACCEPTED))
			<-gate.reached
			canceller, id := alice, ""
			if who == "recipient" {
				canceller, id = bob, inv.TransferId
			} else {
				id = alice.waitEvent(t, "accepted", func(e *devicev1.Event) bool {
					return e.GetFileProgress().GetState() == devicev1.FileProgress_ACCEPTED
				}).GetFileProgress().TransferId
			}
			if err := canceller.Cancel(context.Background(), id); err != nil {
				t.Fatalf("cancel: %v", err)
			}
			gate.open()
			s, r := result(t, sent), result(t, received)
			if s.err == nil || r.err == nil {
				t.Fatalf("after a cancel by the %s: send %v, receive %v; want both to fail", who, s.err, r.err)
			}
			if who == "sender" && code(s.err) != devicev1.ErrorCode_CANCELLED {
				t.Errorf("the sender's own cancel: %v, want CANCELLED", s.err)
			}
			if who == "recipient" && code(r.err) != devicev1.ErrorCode_CANCELLED {
				t.Errorf("the recipient's own cancel: %v, want CANCELLED", r.err)
			}
		})
	}
}

func TestChecksumMismatchFailsTheTransfer(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	data := randomBytes(t, 2<<20)
	wrong := sha256.Sum256([]byte("something else"))
	// The last chunk, the one that fails the check, comes once bob has
	// accepted.
	gate := newGateReader(bytes.NewReader(data), 1<<20)
	sent := sendAsync(alice, "bob", "a.bin", gate, int64(len(data)), client.WithSHA256(wrong[:]))
	inv := bob.invitation(t)
	got := &gateWriter{}
	received := make(chan sendResult, 1)
	go func() {
		res, err := bob.Accept(context.Background(), inv.TransferId, false, got, 0)
		received <- sendResult{res, err}
	}()
	bob.waitEvent(t, "accepted", progressOf(inv.TransferId, devicev1.FileProgress_ACCEPTED))
	gate.open()
	if r := result(t, sent); code(r.err) != devicev1.ErrorCode_INVALID_ARGUMENT {
		t.Fatalf("send with a wrong sha256: %v, want INVALID_ARGUMENT", r.err)
	}
	if r := result(t, received); r.err == nil {
		t.Fatalf("the recipient completed a file whose sha256 did not match (%d bytes)", got.buf.Len())
	}
	if got.buf.Len() >= len(data) {
		t.Errorf("the recipient got all %d bytes of a file that failed its check", got.buf.Len())
	}
	g.journal.wait(t, func(r configdb.TransferRecord) bool {
		return r.Direction == configdb.TransferSend && r.Outcome == configdb.OutcomeFailed
	})
}

func TestTransferOutlivesDroppedLinks(t *testing.T) {
	for _, who := range []string{"sender", "recipient"} {
		t.Run(who, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{})
			alice, bob := g.session(t, "alice"), g.session(t, "bob")
			data := randomBytes(t, 6<<20)
			var src = bytes.NewReader(data)
			var reader interface{ Read([]byte) (int, error) } = src
			var sgate *gateReader
			if who == "sender" {
				sgate = newGateReader(src, 2<<20)
				reader = sgate
			}
			sent := sendAsync(alice, "bob", "big.bin", reader, int64(len(data)), client.WithSHA256(sumOf(data)))
			inv := bob.invitation(t)
			got := &gateWriter{}
			if who == "recipient" {
				got.gate = newGate(3 << 20)
			}
			received := make(chan sendResult, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				res, err := bob.Session.Accept(ctx, inv.TransferId, false, got, 0)
				received <- sendResult{res, err}
			}()
			var dropped *device
			var g8 *gate
			if who == "sender" {
				dropped, g8 = alice, &sgate.gate
			} else {
				dropped, g8 = bob, got.gate
			}
			<-g8.reached
			dropped.Session.Reconnect()
			waitReconnected(t, dropped)
			g8.open()
			r, s := result(t, received), result(t, sent)
			if r.err != nil || s.err != nil {
				t.Fatalf("receive %v, send %v", r.err, s.err)
			}
			mustEqual(t, got.buf.Bytes(), data)
			res := s.res
			if who == "recipient" {
				res = r.res
			}
			if res.Resumed != 1 {
				t.Errorf("the %s's transfer resumed %d times, want 1", who, res.Resumed)
			}
		})
	}
}

func TestOptimizedImageFitsTheScreen(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	img := testJPEG(t, 2000, 1500, 0)
	sent := sendAsync(alice, "bob", "holiday.jpg", bytes.NewReader(img), int64(len(img)))
	inv := bob.invitation(t)
	var got bytes.Buffer
	res, err := bob.Accept(context.Background(), inv.TransferId, true, &got, 0)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if r := result(t, sent); r.err != nil {
		t.Fatal(r.err)
	}
	w, h := imageSize(t, got.Bytes())
	if w != 400 || h != 300 || got.Len() >= len(img) {
		t.Fatalf("optimised image is %dx%d, %d bytes (note %q); want 400x300 (the 400x800 screen, aspect kept), smaller than %d bytes",
			w, h, got.Len(), res.Note, len(img))
	}

	// Not an image: delivered unchanged, with a note.
	data := []byte("just text, not an image")
	sent = sendAsync(alice, "bob", "notes.txt", bytes.NewReader(data), int64(len(data)))
	inv = bob.invitation(t)
	got.Reset()
	res, err = bob.Accept(context.Background(), inv.TransferId, true, &got, 0)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got.Bytes(), data)
	if !bytes.Contains([]byte(res.Note), []byte("no optimisation applied")) {
		t.Errorf("note %q: want it to say no optimisation applied", res.Note)
	}
	result(t, sent)

	// A policy that does not allow optimisation delivers the original.
	g.policies.set("bob", configdb.Policy{FileTransfer: true})
	sent = sendAsync(alice, "bob", "holiday.jpg", bytes.NewReader(img), int64(len(img)))
	inv = bob.invitation(t)
	got.Reset()
	res, err = bob.Accept(context.Background(), inv.TransferId, true, &got, 0)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got.Bytes(), img)
	if !bytes.Contains([]byte(res.Note), []byte("not allowed")) {
		t.Errorf("note %q: want it to say optimisation is not allowed", res.Note)
	}
	result(t, sent)
}

func TestSenderWaitsForTheRecipient(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice, bob := g.login(t, "alice"), g.login(t, "bob")
	const size = 16 << 20
	var acked uint64
	progress := make(chan uint64, 1024)
	sent := sendAsync(alice, "bob", "big.bin", bytes.NewReader(make([]byte, size)), size, client.WithProgress(func(p client.FileProgress) {
		select {
		case progress <- p.Bytes:
		default:
		}
	}))
	inv := bob.invitation(t)
	// Until bob answers, the gateway lets alice's device send only a
	// bounded head start.
	quiet := time.After(500 * time.Millisecond)
wait:
	for {
		select {
		case n := <-progress:
			acked = max(acked, n)
		case <-quiet:
			break wait
		}
	}
	t.Logf("acknowledged before the recipient answered: %d bytes", acked)
	if acked > 4<<20 {
		t.Errorf("the gateway acknowledged %d bytes before the recipient answered; want a bounded head start", acked)
	}
	if err := bob.Decline(context.Background(), inv.TransferId); err != nil {
		t.Fatal(err)
	}
	if r := result(t, sent); code(r.err) != devicev1.ErrorCode_DECLINED {
		t.Fatalf("send: %v, want DECLINED", r.err)
	}
}

// TestGatewayHoldsAtMostOneBudgetOfChunks pins the memory the gateway's
// transfer code holds for what it sends devices: chunks read from the
// spool wait only until the link has framed them, so two downloads at
// once hold at most one Next budget per receiving link, and nothing once
// they are done.
func TestGatewayHoldsAtMostOneBudgetOfChunks(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	alice := g.login(t, "alice")
	data := randomBytes(t, 4<<20+5)
	var wg sync.WaitGroup
	for _, name := range []string{"bob", "carol"} {
		recipient := g.login(t, name)
		sent := sendAsync(alice, name, "data.bin", bytes.NewReader(data), int64(len(data)))
		inv := recipient.invitation(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got bytes.Buffer
			if _, err := recipient.Accept(context.Background(), inv.TransferId, false, &got, 0); err != nil {
				t.Errorf("%s accept: %v", name, err)
				return
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Errorf("%s got %d bytes that differ from the %d sent", name, got.Len(), len(data))
			}
			if r := <-sent; r.err != nil {
				t.Errorf("send to %s: %v", name, r.err)
			}
		}()
	}
	wg.Wait()
	lent, peak := g.files.ChunkBuffers()
	if lent != 0 {
		t.Errorf("%d bytes of chunk buffers held after the transfers ended", lent)
	}
	if peak > 2*filexfer.NextBudget {
		t.Errorf("%d bytes of chunk buffers held at once for two receiving links, want at most %d", peak, 2*filexfer.NextBudget)
	}
}
