package configdb

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEveryChangeIsAudited(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)

		type step struct {
			do      func() error
			actor   string
			action  string
			target  string
			details map[string]any
		}
		steps := []step{
			{func() error { _, err := db.AddGroup(ctx, "ann", Group{Name: "sales", Description: "d"}); return err },
				"ann", ActionGroupAdd, "sales", map[string]any{"description": "d"}},
			{func() error {
				_, err := db.AddUser(ctx, "ann", User{Login: "Alice", Backend: "groupwise", Group: "sales"})
				return err
			}, "ann", ActionUserAdd, "alice", map[string]any{"enabled": false, "backend": "groupwise",
				"backend_login": "alice", "group": "sales", "display_name": ""}},
			{func() error { return db.EnableUser(ctx, "ben", "alice") },
				"ben", ActionUserEnable, "alice", map[string]any{"enabled": true}},
			{func() error { return db.DisableUser(ctx, "ben", "alice") },
				"ben", ActionUserDisable, "alice", map[string]any{"enabled": false}},
			{func() error { return db.SetUserGroup(ctx, "ben", "alice", "") },
				"ben", ActionUserSetGroup, "alice", map[string]any{"group": ""}},
			{func() error {
				_, err := db.UpdateUser(ctx, "ben", User{Login: "alice", Enabled: true, Backend: "sametime", BackendLogin: "CN=Alice", DisplayName: "A"})
				return err
			}, "ben", ActionUserUpdate, "alice", map[string]any{"enabled": true, "backend": "sametime",
				"backend_login": "CN=Alice", "group": "", "display_name": "A"}},
			{func() error {
				_, err := db.SetPolicy(ctx, "cy", Policy{Group: "sales", FileTransfer: true, MaxFileBytes: 7, BlockedExtensions: []string{"*"}})
				return err
			}, "cy", ActionPolicySet, "sales", map[string]any{"file_transfer": true, "max_file_bytes": float64(7),
				"blocked_extensions": []any{"*"}, "optimize_allowed": false}},
			{func() error { return db.DeletePolicy(ctx, "cy", "sales") },
				"cy", ActionPolicyDelete, "sales", map[string]any{}},
			{func() error { return db.DeleteUser(ctx, "cy", "alice") },
				"cy", ActionUserDelete, "alice", map[string]any{}},
			{func() error { return db.DeleteGroup(ctx, "cy", "sales") },
				"cy", ActionGroupDelete, "sales", map[string]any{}},
		}
		var lastID int64
		for i, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("step %d (%s): %v", i, s.action, err)
			}
			entries, err := db.ListAudit(ctx, AuditQuery{Limit: 1})
			if err != nil || len(entries) != 1 {
				t.Fatalf("step %d: ListAudit = %v, %v", i, entries, err)
			}
			e := entries[0]
			var details map[string]any
			if err := json.Unmarshal(e.Details, &details); err != nil {
				t.Fatalf("step %d: details %s: %v", i, e.Details, err)
			}
			if e.ID <= lastID || e.Actor != s.actor || e.Action != s.action || e.Target != s.target || e.At.IsZero() {
				t.Errorf("step %d: entry %+v, want actor %s action %s target %s after id %d", i, e, s.actor, s.action, s.target, lastID)
			}
			if diff := cmp.Diff(s.details, details); diff != "" {
				t.Errorf("step %d (%s) details (-want +got):\n%s", i, s.action, diff)
			}
			lastID = e.ID
		}
		all, _ := db.ListAudit(ctx, AuditQuery{Limit: 1000})
		if len(all) != len(steps) {
			t.Errorf("%d audit entries, want one per change (%d)", len(all), len(steps))
		}
	})
}

func TestFailedChangeLeavesNoAudit(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		if _, err := db.AddUser(ctx, "ann", User{Login: "alice", Backend: "groupwise"}); err != nil {
			t.Fatal(err)
		}
		failures := []error{
			func() error { _, err := db.AddUser(ctx, "ann", User{Login: "alice", Backend: "groupwise"}); return err }(),
			func() error {
				_, err := db.AddUser(ctx, "ann", User{Login: "bob", Backend: "groupwise", Group: "none"})
				return err
			}(),
			db.EnableUser(ctx, "ann", "nobody"),
			db.DeleteGroup(ctx, "ann", "none"),
			db.DeletePolicy(ctx, "ann", "none"),
			func() error { _, err := db.SetPolicy(ctx, "ann", Policy{Group: "none"}); return err }(),
			db.EnableUser(ctx, "", "alice"),
		}
		for i, err := range failures {
			if err == nil {
				t.Errorf("failure %d succeeded", i)
			}
		}
		entries, err := db.ListAudit(ctx, AuditQuery{})
		if err != nil || len(entries) != 1 || entries[0].Action != ActionUserAdd {
			t.Errorf("audit after failed changes = %+v, %v; want only the first user.add", entries, err)
		}
	})
}

func TestListAuditQuery(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		for _, login := range []string{"a", "b", "c"} {
			if _, err := db.AddUser(ctx, "root", User{Login: login, Backend: "groupwise"}); err != nil {
				t.Fatal(err)
			}
			if err := db.EnableUser(ctx, "root", login); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(es []AuditEntry) []int64 {
			out := []int64{}
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out
		}
		all, _ := db.ListAudit(ctx, AuditQuery{})
		if diff := cmp.Diff([]int64{6, 5, 4, 3, 2, 1}, ids(all)); diff != "" {
			t.Errorf("newest first (-want +got):\n%s", diff)
		}
		page, _ := db.ListAudit(ctx, AuditQuery{Limit: 2, BeforeID: 5})
		if diff := cmp.Diff([]int64{4, 3}, ids(page)); diff != "" {
			t.Errorf("page before 5 (-want +got):\n%s", diff)
		}
		b, _ := db.ListAudit(ctx, AuditQuery{Target: "B"})
		if diff := cmp.Diff([]int64{4, 3}, ids(b)); diff != "" {
			t.Errorf("target b (-want +got):\n%s", diff)
		}
		for _, limit := range []int{-1, 1001} {
			if _, err := db.ListAudit(ctx, AuditQuery{Limit: limit}); !errors.Is(err, ErrInvalid) {
				t.Errorf("limit %d: %v, want ErrInvalid", limit, err)
			}
		}
	})
}

// TestAuditFailureUndoesChange shows the change and its audit entry are one
// transaction: when the entry cannot be written, the change is not made.
func TestAuditFailureUndoesChange(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		if _, err := db.sql.ExecContext(ctx, `DROP TABLE audit_log`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddUser(ctx, "ann", User{Login: "alice", Enabled: true, Backend: "groupwise"}); err == nil {
			t.Fatal("AddUser succeeded without an audit log")
		}
		if _, err := db.Authorize(ctx, "alice"); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("the user was added although its audit entry failed: %v", err)
		}
	})
}
