package configdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTransferLogRecordsAndPages(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		recs := []TransferRecord{
			{TransferID: "t1", Direction: TransferSend, User: "Alice", Backend: "sametime", Sender: "alice", Recipient: "bob",
				Name: "report.pdf", Size: 1000, Bytes: 1000, Outcome: OutcomeDelivered, SHA256: "ab12"},
			{TransferID: "t2", Direction: TransferSend, User: "alice", Backend: "sametime", Sender: "alice", Recipient: "bob",
				Name: "setup.exe", Size: 10, Outcome: OutcomeRefused, Rule: RuleTypeBlocked, Detail: "extension exe is blocked"},
			{TransferID: "t1", Direction: TransferReceive, User: "bob", Backend: "sametime", Sender: "alice", Recipient: "bob",
				Name: "report.pdf", Size: 1000, Bytes: 1000, Outcome: OutcomeDelivered},
		}
		var want []TransferRecord
		for i, r := range recs {
			got, err := db.RecordTransfer(ctx, r)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if got.ID != int64(i+1) || got.At.IsZero() {
				t.Fatalf("record %d got id %d at %v", i, got.ID, got.At)
			}
			r.ID, r.At, r.User = got.ID, got.At, strings.ToLower(r.User)
			want = append([]TransferRecord{r}, want...)
		}
		all, err := db.ListTransfers(ctx, TransferQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, all, cmpopts.EquateApproxTime(0)); d != "" {
			t.Fatalf("all records, newest first (-want +got):\n%s", d)
		}
		alice, err := db.ListTransfers(ctx, TransferQuery{User: "ALICE"})
		if err != nil || len(alice) != 2 || alice[0].TransferID != "t2" {
			t.Fatalf("alice's records: %v, %v", alice, err)
		}
		refused, err := db.ListTransfers(ctx, TransferQuery{Outcome: OutcomeRefused})
		if err != nil || len(refused) != 1 || refused[0].Rule != RuleTypeBlocked {
			t.Fatalf("refused records: %v, %v", refused, err)
		}
		page, err := db.ListTransfers(ctx, TransferQuery{BeforeID: 3, Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != 2 {
			t.Fatalf("page before 3: %v, %v", page, err)
		}
		if _, err := db.ListTransfers(ctx, TransferQuery{Limit: 1001}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("limit 1001: %v, want ErrInvalid", err)
		}
	})
}

func TestTransferRecordCleansUntrustedText(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		long := strings.Repeat("ü", 300) // 600 bytes
		got, err := db.RecordTransfer(ctx, TransferRecord{Direction: TransferReceive, User: "bob", Sender: "eve\x00\n",
			Name: "a\xffb\tc" + long, Outcome: OutcomeRefused})
		if err != nil {
			t.Fatal(err)
		}
		if got.Sender != "eve" {
			t.Errorf("sender %q: control characters should be gone", got.Sender)
		}
		if len(got.Name) > maxTransferText || !utf8.ValidString(got.Name) || !strings.HasPrefix(got.Name, "a\uFFFDb c") {
			t.Errorf("name %q (%d bytes): want valid UTF-8 of at most %d bytes", got.Name, len(got.Name), maxTransferText)
		}
		list, err := db.ListTransfers(ctx, TransferQuery{User: "bob"})
		if err != nil || len(list) != 1 || list[0].Name != got.Name {
			t.Fatalf("stored %v, %v", list, err)
		}
		for _, bad := range []TransferRecord{{Direction: "sideways"}, {Direction: TransferSend, Size: -1}} {
			if _, err := db.RecordTransfer(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("record %+v: %v, want ErrInvalid", bad, err)
			}
		}
	})
}
