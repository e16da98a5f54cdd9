package captures

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// layout builds root/repo (a module with a nested package directory) and,
// when withShared, root/shared/interop/captures holding files. It returns
// the package directory and the captures directory.
func layout(t *testing.T, withShared bool, files map[string]string) (pkgDir, capDir string) {
	t.Helper()
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	pkgDir = filepath.Join(repo, "plugins", "proto")
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	capDir = filepath.Join(root, "shared", "interop", "captures")
	if !withShared {
		return pkgDir, capDir
	}
	if err := os.MkdirAll(capDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(capDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pkgDir, capDir
}

func TestReadMatchesPatternInNameOrder(t *testing.T) {
	pkgDir, capDir := layout(t, true, map[string]string{
		"gw-b.s2c.bin": "second",
		"gw-a.s2c.bin": "first",
		"gw-a.c2s.bin": "request",
		"gw-a.txt":     "notes",
		"st-a.s2c.bin": "other protocol",
	})
	t.Chdir(pkgDir)

	if got, want := Dir(), capDir; got == "" || !sameFile(t, got, want) {
		t.Fatalf("Dir() = %q, want %q", got, want)
	}
	got, err := Read("gw-*.s2c.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("first"), []byte("second")}
	if len(got) != len(want) {
		t.Fatalf("Read returned %d files, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("file %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestReadNothingWithoutShared(t *testing.T) {
	pkgDir, _ := layout(t, false, nil)
	t.Chdir(pkgDir)

	if got := Dir(); got != "" {
		t.Errorf("Dir() = %q without ../shared, want \"\"", got)
	}
	got, err := Read("*.bin")
	if got != nil || err != nil {
		t.Errorf("Read without ../shared = %q, %v; want nil, nil", got, err)
	}
}

func TestReadBadPattern(t *testing.T) {
	pkgDir, _ := layout(t, true, map[string]string{"a.bin": "x"})
	t.Chdir(pkgDir)

	if _, err := Read("[.bin"); err == nil || !errors.Is(err, filepath.ErrBadPattern) {
		t.Errorf("Read(\"[.bin\") error = %v, want filepath.ErrBadPattern", err)
	}
}

func TestModuleRootIsNearestGoMod(t *testing.T) {
	outer := t.TempDir()
	inner := filepath.Join(outer, "sub", "mod")
	deep := filepath.Join(inner, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{outer, inner} {
		if err := os.WriteFile(filepath.Join(d, "go.mod"), []byte("module m\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok := moduleRoot(deep); !ok || got != inner {
		t.Errorf("moduleRoot(%q) = %q, %v; want %q", deep, got, ok, inner)
	}
	if got, ok := moduleRoot(inner); !ok || got != inner {
		t.Errorf("moduleRoot at the root = %q, %v; want %q", got, ok, inner)
	}
}

// sameFile reports whether two paths name the same directory (the temp
// directory may be reached through a symlink).
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}
