package main

import (
	"context"
	"strings"
	"testing"

	"github.com/parleygw/parley/core/admin/admintest"
	"github.com/parleygw/parley/core/configdb"
)

func TestTransfersShowsWhoSentWhatToWhom(t *testing.T) {
	srv := admintest.NewServer(t)
	for _, r := range []configdb.TransferRecord{
		{TransferID: "t1", Direction: configdb.TransferSend, User: "alice", Sender: "alice", Recipient: "bob", Name: "setup.exe",
			Size: 100, Outcome: configdb.OutcomeRefused, Rule: configdb.RuleTypeBlocked, Detail: "blocked"},
		{TransferID: "t2", Direction: configdb.TransferSend, User: "alice", Sender: "alice", Recipient: "bob", Name: "report.pdf",
			Size: 2000, Bytes: 2000, Outcome: configdb.OutcomeDelivered},
	} {
		if _, err := srv.Store.RecordTransfer(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	out := mustCtl(t, srv, "transfers")
	if column(t, out, "NAME", 0) != "report.pdf" || column(t, out, "OUTCOME", 0) != "delivered" ||
		column(t, out, "FROM", 1) != "alice" || column(t, out, "TO", 1) != "bob" || column(t, out, "RULE", 1) != "type_blocked" {
		t.Errorf("transfers:\n%s", out)
	}
	out = mustCtl(t, srv, "transfers", "-outcome", "refused", "-user", "alice")
	if strings.Contains(out, "report.pdf") || !strings.Contains(out, "setup.exe") {
		t.Errorf("transfers -outcome refused:\n%s", out)
	}
	if out := mustCtl(t, srv, "transfers", "-user", "carol"); !strings.Contains(out, "no file transfers") {
		t.Errorf("carol's transfers:\n%s", out)
	}
	if _, errOut, code := ctl(t, srv, "transfers", "-outcome", "lost"); code != 1 || !strings.Contains(errOut, "outcome") {
		t.Errorf("bad outcome: exit %d\n%s", code, errOut)
	}
}
