package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/parleygw/parley/core/admin"
)

func cmdTransfers(ctx context.Context, c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var q admin.TransferQuery
	fs.IntVar(&q.Limit, "n", 50, "how many transfers, 1 to 1000")
	fs.StringVar(&q.User, "user", "", "only the transfers of this gateway user")
	fs.StringVar(&q.Outcome, "outcome", "", "only this outcome: delivered, refused, declined, cancelled or failed")
	fs.Int64Var(&q.BeforeID, "before", 0, "only records older than this id (to page back)")
	if _, err := c.parse(fs, cmd, args, 0); err != nil {
		return err
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return &usageError{cmd: cmd, msg: fmt.Sprintf("-n %d: want 1 to 1000", q.Limit)}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	list, err := cl.Transfers(ctx, q)
	if err != nil {
		return err
	}
	return c.output(list, func() {
		t := c.table("ID", "TIME", "USER", "FROM", "TO", "NAME", "SIZE", "OUTCOME", "RULE", "DETAIL")
		for _, tr := range list.Transfers {
			t.row(strconv.FormatInt(tr.ID, 10), formatTime(tr.At), tr.User, tr.Sender, tr.Recipient, tr.Name,
				strconv.FormatInt(tr.Size, 10), tr.Outcome, orDash(tr.Rule), orDash(tr.Detail))
		}
		t.flush("no file transfers")
	})
}
