package configdb

import (
	"context"
	"errors"
	"testing"
)

func TestGroups(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		g, err := db.AddGroup(ctx, "root", Group{Name: "Sales", Description: "the sales team"})
		if err != nil {
			t.Fatal(err)
		}
		if g.Name != "sales" || g.Description != "the sales team" || g.CreatedAt.IsZero() {
			t.Errorf("AddGroup = %+v", g)
		}
		if _, err := db.AddGroup(ctx, "root", Group{Name: "sales"}); !errors.Is(err, ErrExists) {
			t.Errorf("second AddGroup(sales) = %v, want ErrExists", err)
		}
		if _, err := db.AddGroup(ctx, "root", Group{Name: "-bad"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddGroup(-bad) = %v, want ErrInvalid", err)
		}
		if _, err := db.AddGroup(ctx, "root", Group{Name: "eng.ops"}); err != nil {
			t.Fatal(err)
		}
		groups, err := db.ListGroups(ctx)
		if err != nil || len(groups) != 2 || groups[0].Name != "eng.ops" || groups[1].Name != "sales" {
			t.Errorf("ListGroups = %+v, %v", groups, err)
		}
		if got, err := db.GetGroup(ctx, "SALES"); err != nil || got.Description != "the sales team" {
			t.Errorf("GetGroup(SALES) = %+v, %v", got, err)
		}
		if _, err := db.GetGroup(ctx, "none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetGroup(none) = %v, want ErrNotFound", err)
		}

		// A group with members cannot go; without them it goes with its policy.
		if _, err := db.AddUser(ctx, "root", User{Login: "alice", Backend: "groupwise", Group: "sales"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SetPolicy(ctx, "root", Policy{Group: "sales", FileTransfer: true}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteGroup(ctx, "root", "sales"); !errors.Is(err, ErrInUse) {
			t.Errorf("DeleteGroup with a member = %v, want ErrInUse", err)
		}
		if err := db.SetUserGroup(ctx, "root", "alice", ""); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteGroup(ctx, "root", "sales"); err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		if _, err := db.GetPolicy(ctx, "sales"); !errors.Is(err, ErrNotFound) {
			t.Errorf("policy outlived its group: %v", err)
		}
		if err := db.DeleteGroup(ctx, "root", "sales"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteGroup = %v, want ErrNotFound", err)
		}
		// The name is free again.
		if _, err := db.AddGroup(ctx, "root", Group{Name: "sales"}); err != nil {
			t.Errorf("re-adding a deleted group: %v", err)
		}
		if _, err := db.GetPolicy(ctx, "sales"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a re-added group inherited the old policy: %v", err)
		}
	})
}
