package admin_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/parleygw/parley/core/admin"
)

func TestEnsureTokenCreatesAPrivateRandomToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "admin.token")
	tok, err := admin.EnsureToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Errorf("token %q is not 32 bytes of hex", tok)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", info.Mode().Perm())
	}
	dir, _ := os.Stat(filepath.Dir(path))
	if dir.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode %v, want 0700", dir.Mode().Perm())
	}
	again, err := admin.EnsureToken(path)
	if err != nil || again != tok {
		t.Errorf("second EnsureToken = %q, %v; want the same token", again, err)
	}
	read, err := admin.ReadToken(path)
	if err != nil || read != tok {
		t.Errorf("ReadToken = %q, %v", read, err)
	}
	other, err := admin.EnsureToken(filepath.Join(t.TempDir(), "admin.token"))
	if err != nil || other == tok {
		t.Errorf("a second token file got %q, %v", other, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("left behind in the directory: %v", entries)
	}
}

func TestEnsureTokenKeepsAnAdminsToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(path, []byte("  my-own-admin-token-2024\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.EnsureToken(path)
	if err != nil || tok != "my-own-admin-token-2024" {
		t.Errorf("EnsureToken = %q, %v", tok, err)
	}
}

func TestEnsureTokenRefusesUnsafeOrBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct {
		path string
		want error
	}{
		"world readable": {write("world", "0123456789abcdef0123", 0o644), admin.ErrTokenFileMode},
		"empty":          {write("empty", "\n", 0o600), admin.ErrBadToken},
		"too short":      {write("short", "abc", 0o600), admin.ErrBadToken},
		"two words":      {write("words", "0123456789abcdef 0123456789abcdef", 0o600), admin.ErrBadToken},
		"binary":         {write("binary", "0123456789abcdef\x00\x01", 0o600), admin.ErrBadToken},
		"huge":           {write("huge", string(make([]byte, 1<<20)), 0o600), admin.ErrBadToken},
	} {
		before, _ := os.ReadFile(tc.path)
		if _, err := admin.EnsureToken(tc.path); !errors.Is(err, tc.want) {
			t.Errorf("%s: EnsureToken error %v, want %v", name, err, tc.want)
		}
		if after, _ := os.ReadFile(tc.path); string(after) != string(before) {
			t.Errorf("%s: EnsureToken changed the file", name)
		}
	}
}

func TestReadTokenWithoutFile(t *testing.T) {
	_, err := admin.ReadToken(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadToken of a missing file: %v", err)
	}
}
