package configdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUsers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		if _, err := db.AddGroup(ctx, "root", Group{Name: "sales"}); err != nil {
			t.Fatal(err)
		}

		alice, err := db.AddUser(ctx, "root", User{Login: "Alice", Enabled: true, Backend: "groupwise", Group: "Sales", DisplayName: "Alice Liddell"})
		if err != nil {
			t.Fatalf("AddUser: %v", err)
		}
		want := User{Login: "alice", Enabled: true, Backend: "groupwise", BackendLogin: "alice", Group: "sales",
			DisplayName: "Alice Liddell", CreatedAt: alice.CreatedAt, UpdatedAt: alice.CreatedAt}
		if diff := cmp.Diff(want, alice); diff != "" {
			t.Errorf("AddUser returned (-want +got):\n%s", diff)
		}
		if alice.CreatedAt.IsZero() {
			t.Error("CreatedAt not set")
		}
		got, err := db.GetUser(ctx, "ALICE")
		if err != nil {
			t.Fatalf("GetUser is not case-insensitive: %v", err)
		}
		if diff := cmp.Diff(alice, got); diff != "" {
			t.Errorf("GetUser (-added +got):\n%s", diff)
		}

		if _, err := db.AddUser(ctx, "root", User{Login: "alice", Backend: "sametime"}); !errors.Is(err, ErrExists) {
			t.Errorf("second AddUser(alice): %v, want ErrExists", err)
		}
		if _, err := db.AddUser(ctx, "root", User{Login: "bob", Backend: "sametime", BackendLogin: "CN=Bob/O=Example", Group: "nogroup"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("AddUser in a missing group: %v, want ErrNotFound", err)
		}
		if _, err := db.GetUser(ctx, "bob"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a failed AddUser left user bob behind: %v", err)
		}
		bob, err := db.AddUser(ctx, "root", User{Login: "bob", Backend: "sametime", BackendLogin: "CN=Bob/O=Example"})
		if err != nil {
			t.Fatal(err)
		}
		if bob.BackendLogin != "CN=Bob/O=Example" || bob.Enabled || bob.Group != "" {
			t.Errorf("bob = %+v", bob)
		}

		users, err := db.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 || users[0].Login != "alice" || users[1].Login != "bob" {
			t.Errorf("ListUsers = %+v, want alice, bob", users)
		}

		if err := db.EnableUser(ctx, "root", "bob"); err != nil {
			t.Fatal(err)
		}
		if err := db.SetUserGroup(ctx, "root", "bob", "sales"); err != nil {
			t.Fatal(err)
		}
		bob2, _ := db.GetUser(ctx, "bob")
		if !bob2.Enabled || bob2.Group != "sales" || !bob2.UpdatedAt.After(bob.UpdatedAt) {
			t.Errorf("after enable and set-group: %+v", bob2)
		}
		if err := db.SetUserGroup(ctx, "root", "bob", ""); err != nil {
			t.Fatal(err)
		}
		if err := db.SetUserGroup(ctx, "root", "bob", "nogroup"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetUserGroup to a missing group: %v, want ErrNotFound", err)
		}
		if b, _ := db.GetUser(ctx, "bob"); b.Group != "" {
			t.Errorf("bob's group = %q, want none", b.Group)
		}
		if err := db.DisableUser(ctx, "root", "bob"); err != nil {
			t.Fatal(err)
		}
		if b, _ := db.GetUser(ctx, "bob"); b.Enabled {
			t.Error("bob still enabled after DisableUser")
		}

		upd, err := db.UpdateUser(ctx, "root", User{Login: "bob", Enabled: true, Backend: "groupwise", BackendLogin: "bob.gw", Group: "sales", DisplayName: "Bob"})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Backend != "groupwise" || upd.BackendLogin != "bob.gw" || upd.Group != "sales" || !upd.Enabled ||
			upd.DisplayName != "Bob" || !upd.CreatedAt.Equal(bob.CreatedAt) {
			t.Errorf("UpdateUser = %+v", upd)
		}
		if _, err := db.UpdateUser(ctx, "root", User{Login: "carol", Backend: "groupwise"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateUser(carol): %v, want ErrNotFound", err)
		}

		for name, err := range map[string]error{
			"enable":    db.EnableUser(ctx, "root", "carol"),
			"disable":   db.DisableUser(ctx, "root", "carol"),
			"set-group": db.SetUserGroup(ctx, "root", "carol", ""),
			"delete":    db.DeleteUser(ctx, "root", "carol"),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s of an unknown user: %v, want ErrNotFound", name, err)
			}
		}

		if err := db.DeleteUser(ctx, "root", "Bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetUser(ctx, "bob"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser after delete: %v, want ErrNotFound", err)
		}
	})
}

func TestUserValidation(t *testing.T) {
	db := open(t, target{DriverSQLite, t.TempDir() + "/parley.db"})
	ctx := context.Background()
	for name, u := range map[string]User{
		"empty login":       {Login: "", Backend: "groupwise"},
		"padded login":      {Login: " alice", Backend: "groupwise"},
		"control in login":  {Login: "al\x00ice", Backend: "groupwise"},
		"long login":        {Login: strings.Repeat("a", 257), Backend: "groupwise"},
		"bad utf-8":         {Login: "al\xffice", Backend: "groupwise"},
		"no backend":        {Login: "alice"},
		"bad backend":       {Login: "alice", Backend: "Group Wise"},
		"bad group":         {Login: "alice", Backend: "groupwise", Group: "a b"},
		"bad display name":  {Login: "alice", Backend: "groupwise", DisplayName: "x\n"},
		"bad backend login": {Login: "alice", Backend: "groupwise", BackendLogin: "bob\t"},
	} {
		if _, err := db.AddUser(ctx, "root", u); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: AddUser = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := db.AddUser(ctx, "", User{Login: "alice", Backend: "groupwise"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("AddUser without actor = %v, want ErrInvalid", err)
	}
	if users, _ := db.ListUsers(ctx); len(users) != 0 {
		t.Errorf("invalid users were stored: %+v", users)
	}
}

func TestAuthorize(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		if _, err := db.AddUser(ctx, "root", User{Login: "alice", Enabled: true, Backend: "groupwise", BackendLogin: "alice.gw"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddUser(ctx, "root", User{Login: "bob", Enabled: false, Backend: "groupwise"}); err != nil {
			t.Fatal(err)
		}

		u, err := db.Authorize(ctx, "Alice")
		if err != nil || u.Backend != "groupwise" || u.BackendLogin != "alice.gw" {
			t.Fatalf("Authorize(Alice) = %+v, %v", u, err)
		}

		for _, tc := range []struct {
			login  string
			reason DenyReason
		}{
			{"bob", DenyDisabled},
			{"mallory", DenyUnknownUser},
			{"", DenyUnknownUser},
			{"x\x00y", DenyUnknownUser},
		} {
			_, err := db.Authorize(ctx, tc.login)
			var denied *DeniedError
			if !errors.Is(err, ErrPermissionDenied) || !errors.As(err, &denied) || denied.Reason != tc.reason {
				t.Errorf("Authorize(%q) = %v, want permission denied (%s)", tc.login, err, tc.reason)
			}
		}

		// A permission change applies to the next login at once.
		if err := db.DisableUser(ctx, "root", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authorize(ctx, "alice"); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("Authorize after DisableUser = %v, want permission denied", err)
		}
		if err := db.EnableUser(ctx, "root", "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Authorize(ctx, "bob"); err != nil {
			t.Errorf("Authorize after EnableUser = %v", err)
		}
	})
}

func TestTimestampsFromClock(t *testing.T) {
	at := time.Date(2026, 5, 4, 3, 2, 1, 123456789, time.UTC)
	db := open(t, target{DriverSQLite, t.TempDir() + "/parley.db"}, WithClock(func() time.Time { return at }))
	ctx := context.Background()
	if _, err := db.AddUser(ctx, "root", User{Login: "alice", Backend: "groupwise"}); err != nil {
		t.Fatal(err)
	}
	u, err := db.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := at.Truncate(time.Microsecond)
	if !u.CreatedAt.Equal(want) || !u.UpdatedAt.Equal(want) {
		t.Errorf("times %v / %v, want %v (microsecond precision)", u.CreatedAt, u.UpdatedAt, want)
	}
	entries, _ := db.ListAudit(ctx, AuditQuery{})
	if len(entries) != 1 || !entries[0].At.Equal(want) {
		t.Errorf("audit time %+v, want %v", entries, want)
	}
}
