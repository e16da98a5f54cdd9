package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/admin/admintest"
	"github.com/parleygw/parley/core/configdb"
)

func TestTransfersListsTheTransferLog(t *testing.T) {
	srv := admintest.NewServer(t)
	ctx := context.Background()
	for _, r := range []configdb.TransferRecord{
		{TransferID: "t1", Direction: configdb.TransferSend, User: "alice", Backend: "sametime", Sender: "alice", Recipient: "bob",
			Name: "setup.exe", Size: 100, Outcome: configdb.OutcomeRefused, Rule: configdb.RuleTypeBlocked},
		{TransferID: "t2", Direction: configdb.TransferSend, User: "alice", Backend: "sametime", Sender: "alice", Recipient: "bob",
			Name: "report.pdf", Size: 2000, Bytes: 2000, Outcome: configdb.OutcomeDelivered, SHA256: "abcd"},
		{TransferID: "t2", Direction: configdb.TransferReceive, User: "bob", Backend: "sametime", Sender: "alice", Recipient: "bob",
			Name: "report.pdf", Size: 2000, Bytes: 2000, Outcome: configdb.OutcomeDelivered},
	} {
		if _, err := srv.Store.RecordTransfer(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	c := srv.Client(t)
	all, err := c.Transfers(ctx, admin.TransferQuery{})
	if err != nil || len(all.Transfers) != 3 {
		t.Fatalf("all transfers: %+v, %v", all, err)
	}
	if first := all.Transfers[0]; first.User != "bob" || first.Direction != "receive" || first.Outcome != "delivered" {
		t.Errorf("newest first: got %+v", first)
	}
	refused, err := c.Transfers(ctx, admin.TransferQuery{Outcome: "refused"})
	if err != nil || len(refused.Transfers) != 1 || refused.Transfers[0].Rule != configdb.RuleTypeBlocked || refused.Transfers[0].Name != "setup.exe" {
		t.Fatalf("refused: %+v, %v", refused, err)
	}
	alice, err := c.Transfers(ctx, admin.TransferQuery{User: "alice", Limit: 1})
	if err != nil || len(alice.Transfers) != 1 || alice.Transfers[0].TransferID != "t2" {
		t.Fatalf("alice, limit 1: %+v, %v", alice, err)
	}
	older, err := c.Transfers(ctx, admin.TransferQuery{User: "alice", BeforeID: alice.Transfers[0].ID})
	if err != nil || len(older.Transfers) != 1 || older.Transfers[0].TransferID != "t1" {
		t.Fatalf("alice's older page: %+v, %v", older, err)
	}
	for _, q := range []string{"limit=0", "limit=1001", "before=x", "outcome=lost"} {
		status, v := rawCall(t, srv, "GET", "/v1/transfers?"+q, bearer, "")
		if status != http.StatusBadRequest || errCode(v) != admin.CodeBadRequest {
			t.Errorf("%s: %d %v", q, status, v)
		}
	}
}
