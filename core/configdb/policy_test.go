package configdb

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPolicies(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		for _, g := range []string{"sales", "lockdown"} {
			if _, err := db.AddGroup(ctx, "root", Group{Name: g}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.SetPolicy(ctx, "root", Policy{Group: "nogroup"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetPolicy for a missing group = %v, want ErrNotFound", err)
		}
		if _, err := db.GetPolicy(ctx, "sales"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetPolicy before SetPolicy = %v, want ErrNotFound", err)
		}

		set, err := db.SetPolicy(ctx, "root", Policy{Group: "Sales", FileTransfer: true, MaxFileBytes: 5 << 20,
			BlockedExtensions: []string{".EXE", "bat", "tar.gz", "exe"}, OptimizeAllowed: true})
		if err != nil {
			t.Fatal(err)
		}
		want := Policy{Group: "sales", FileTransfer: true, MaxFileBytes: 5 << 20,
			BlockedExtensions: []string{"bat", "exe", "tar.gz"}, OptimizeAllowed: true}
		ignoreTime := cmpopts.IgnoreFields(Policy{}, "UpdatedAt")
		if diff := cmp.Diff(want, set, ignoreTime); diff != "" {
			t.Errorf("SetPolicy returned (-want +got):\n%s", diff)
		}
		got, err := db.GetPolicy(ctx, "sales")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(set, got); diff != "" {
			t.Errorf("GetPolicy (-set +got):\n%s", diff)
		}

		// Setting again replaces the whole policy.
		lock, err := db.SetPolicy(ctx, "root", Policy{Group: "lockdown", FileTransfer: true, BlockedExtensions: []string{"exe", "*"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"*"}, lock.BlockedExtensions); diff != "" {
			t.Errorf("blocked list with * (-want +got):\n%s", diff)
		}
		if _, err := db.SetPolicy(ctx, "root", Policy{Group: "sales", FileTransfer: false}); err != nil {
			t.Fatal(err)
		}
		got, _ = db.GetPolicy(ctx, "sales")
		if got.FileTransfer || got.MaxFileBytes != 0 || len(got.BlockedExtensions) != 0 || got.OptimizeAllowed {
			t.Errorf("after replacing, policy = %+v", got)
		}

		all, err := db.ListPolicies(ctx)
		if err != nil || len(all) != 2 || all[0].Group != "lockdown" || all[0].BlockedExtensions[0] != "*" || all[1].Group != "sales" {
			t.Errorf("ListPolicies = %+v, %v", all, err)
		}

		if err := db.DeletePolicy(ctx, "root", "sales"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeletePolicy(ctx, "root", "sales"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeletePolicy = %v, want ErrNotFound", err)
		}

		for name, p := range map[string]Policy{
			"negative size": {Group: "sales", MaxFileBytes: -1},
			"bad extension": {Group: "sales", BlockedExtensions: []string{"a/b"}},
			"empty ext":     {Group: "sales", BlockedExtensions: []string{"."}},
			"bad group":     {Group: ""},
		} {
			if _, err := db.SetPolicy(ctx, "root", p); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: SetPolicy = %v, want ErrInvalid", name, err)
			}
		}
	})
}

func TestEffectivePolicy(t *testing.T) {
	forEachDriver(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		db := open(t, tg)
		fallback := Policy{Group: "ignored", FileTransfer: true, MaxFileBytes: 10 << 20, BlockedExtensions: []string{"exe"}, OptimizeAllowed: true}
		wantFallback := fallback
		wantFallback.Group = ""

		for _, g := range []string{"sales", "nopolicy"} {
			if _, err := db.AddGroup(ctx, "root", Group{Name: g}); err != nil {
				t.Fatal(err)
			}
		}
		salesPolicy, err := db.SetPolicy(ctx, "root", Policy{Group: "sales", FileTransfer: true, MaxFileBytes: 1 << 20, BlockedExtensions: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []User{
			{Login: "alice", Backend: "groupwise", Group: "sales"},
			{Login: "bob", Backend: "groupwise", Group: "nopolicy"},
			{Login: "carol", Backend: "groupwise"},
		} {
			if _, err := db.AddUser(ctx, "root", u); err != nil {
				t.Fatal(err)
			}
		}

		for _, tc := range []struct {
			login string
			want  Policy
		}{
			{"alice", salesPolicy},
			{"ALICE", salesPolicy},
			{"bob", wantFallback},
			{"carol", wantFallback},
		} {
			got, err := db.EffectivePolicy(ctx, tc.login, fallback)
			if err != nil {
				t.Fatalf("EffectivePolicy(%s): %v", tc.login, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("EffectivePolicy(%s) (-want +got):\n%s", tc.login, diff)
			}
		}
		if _, err := db.EffectivePolicy(ctx, "mallory", fallback); !errors.Is(err, ErrNotFound) {
			t.Errorf("EffectivePolicy of an unknown user = %v, want ErrNotFound", err)
		}

		// Everything is blocked for alice; removing her group's policy
		// brings back the default, where only .exe is.
		if p, _ := db.EffectivePolicy(ctx, "alice", fallback); !p.Blocks("notes.txt") {
			t.Error(`"*" does not block notes.txt`)
		}
		if err := db.DeletePolicy(ctx, "root", "sales"); err != nil {
			t.Fatal(err)
		}
		p, _ := db.EffectivePolicy(ctx, "alice", fallback)
		if diff := cmp.Diff(wantFallback, p); diff != "" {
			t.Errorf("after DeletePolicy (-want +got):\n%s", diff)
		}
		if p.Blocks("notes.txt") || !p.Blocks("setup.exe") {
			t.Errorf("default policy blocks notes.txt=%v setup.exe=%v", p.Blocks("notes.txt"), p.Blocks("setup.exe"))
		}
	})
}

func TestPolicyCheck(t *testing.T) {
	base := Policy{FileTransfer: true, MaxFileBytes: 1000, BlockedExtensions: []string{"exe", "tar.gz"}}
	everything := Policy{FileTransfer: true, BlockedExtensions: []string{"*"}}
	for _, tc := range []struct {
		name   string
		policy Policy
		file   string
		size   int64
		want   error
	}{
		{"allowed", base, "photo.jpg", 1000, nil},
		{"too large", base, "photo.jpg", 1001, ErrFileTooLarge},
		{"no limit", Policy{FileTransfer: true}, "big.iso", 1 << 40, nil},
		{"disabled", Policy{FileTransfer: false}, "photo.jpg", 1, ErrTransferDisabled},
		{"blocked", base, "setup.exe", 10, ErrFileTypeBlocked},
		{"blocked upper case", base, "SETUP.EXE", 10, ErrFileTypeBlocked},
		{"blocked trailing dot", base, "setup.exe.", 10, ErrFileTypeBlocked},
		{"blocked trailing space", base, "setup.exe ", 10, ErrFileTypeBlocked},
		{"blocked two-part", base, "src.tar.gz", 10, ErrFileTypeBlocked},
		{"other gz", base, "notes.gz", 10, nil},
		{"exe in name only", base, "exe.txt", 10, nil},
		{"exe directory", base, `dir.exe\notes.txt`, 10, nil},
		{"path to exe", base, "a/b/run.exe", 10, ErrFileTypeBlocked},
		{"star blocks all", everything, "notes.txt", 10, ErrFileTypeBlocked},
		{"star blocks no extension", everything, "README", 10, ErrFileTypeBlocked},
		{"size before type", base, "setup.exe", 5000, ErrFileTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Check(tc.file, tc.size)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Check(%q, %d) = %v, want %v", tc.file, tc.size, err, tc.want)
			}
		})
	}
	var tooLarge *FileTooLargeError
	if err := base.Check("a.jpg", 2000); !errors.As(err, &tooLarge) || tooLarge.Limit != 1000 || tooLarge.Size != 2000 {
		t.Errorf("Check of a large file = %v, want a FileTooLargeError naming the limit", err)
	}
}
