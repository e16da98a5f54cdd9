//go:build unix

package pluginhost

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// mkfile creates a file with exactly the given mode (whatever the umask).
func mkfile(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScanDirRules(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mkfile(t, dir, "parley-backend-plain", 0o755)
	for _, v := range []string{"", "_v1.2.0", "_v1.10.0-rc.1", "_v1.10.0", "_v1.9.9"} {
		mkfile(t, dir, "parley-backend-multi"+v, 0o755)
	}
	mkfile(t, dir, "parley-backend-pre_v2.0.0-rc.1", 0o755)
	mkfile(t, dir, "parley-backend-pre_v2.0.0-beta", 0o755)
	mkfile(t, dir, "parley-backend-readonly", 0o500)
	if err := os.Symlink(filepath.Join(dir, "parley-backend-plain"), filepath.Join(dir, "parley-backend-link")); err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{ // file → what the log line must say
		"parley-backend-worldwritable": "writable by group or others",
		"parley-backend-groupwritable": "writable by group or others",
		"parley-backend-noexec":        "not executable",
		"parley-backend-link":          "symlink",
		"parley-backend-adir":          "not a regular file",
		"parley-backend-pipe":          "not a regular file",
		"parley-backend-bad_v01.0.0":   "name is not",
		"parley-backend-bad_v1.0":      "name is not",
		"parley-backend-Upper":         "name is not",
		"parley-backend-x.exe":         "name is not",
		"parley-backend-":              "name is not",
		"README":                       "name is not",
	}
	mkfile(t, dir, "parley-backend-worldwritable", 0o757)
	mkfile(t, dir, "parley-backend-groupwritable", 0o775)
	mkfile(t, dir, "parley-backend-noexec", 0o644)
	for _, name := range []string{"parley-backend-bad_v01.0.0", "parley-backend-bad_v1.0", "parley-backend-Upper",
		"parley-backend-x.exe", "parley-backend-", "README"} {
		mkfile(t, dir, name, 0o755)
	}
	if err := os.Mkdir(filepath.Join(dir, "parley-backend-adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "parley-backend-pipe"), 0o755); err != nil {
		t.Fatal(err)
	}

	log := newLogSink()
	found, err := scanDir(dir, hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: log}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"plain":    "parley-backend-plain",
		"multi":    "parley-backend-multi_v1.10.0",
		"pre":      "parley-backend-pre_v2.0.0-rc.1",
		"readonly": "parley-backend-readonly",
	}
	if len(found) != len(want) {
		t.Errorf("found %d plugins, want %d: %v", len(found), len(want), found)
	}
	for name, file := range want {
		if f, ok := found[name]; !ok || filepath.Base(f.path) != file {
			t.Errorf("plugin %s: got %+v, want %s", name, f, file)
		}
	}
	if f := found["multi"]; f.version != "1.10.0" || f.name != "multi" {
		t.Errorf("multi = %+v", f)
	}
	for file, why := range skipped {
		lines := log.find(func(e map[string]any) bool { return e["file"] == file })
		if len(lines) != 1 {
			t.Errorf("%s: %d log lines, want 1", file, len(lines))
			continue
		}
		text := lines[0]["@message"].(string)
		if e, ok := lines[0]["error"].(string); ok {
			text += " " + e
		}
		if !strings.Contains(text, why) {
			t.Errorf("%s skipped with %q, want it to say %q", file, text, why)
		}
	}
	if older := log.find(message("skipping older plugin version")); len(older) != 4+1 {
		t.Errorf("%d lines about older versions, want 5", len(older))
	}
}

func TestScanDirRefusesUnsafeDir(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	safe := filepath.Join(base, "safe")
	if err := os.Mkdir(safe, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(safe, link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{open, link} {
		if _, err := scanDir(dir, hclog.NewNullLogger()); !errors.Is(err, ErrUnsafeFile) {
			t.Errorf("scanDir(%s) = %v, want ErrUnsafeFile", filepath.Base(dir), err)
		}
	}
	if _, err := scanDir(filepath.Join(base, "absent"), hclog.NewNullLogger()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scanDir(absent) = %v, want ErrNotExist", err)
	}
}

func TestParseFileName(t *testing.T) {
	for name, want := range map[string][2]string{
		"parley-backend-groupwise":                  {"groupwise", ""},
		"parley-backend-groupwise_v1.4.2":           {"groupwise", "1.4.2"},
		"parley-backend-same-time_v0.1.0-dev+b.7":   {"same-time", "0.1.0-dev+b.7"},
		"parley-backend-x_v10.20.30-rc.1.alpha-2":   {"x", "10.20.30-rc.1.alpha-2"},
		"parley-backend-groupwise_v1.4.2_x1":        {},
		"parley-backend-groupwise_1.4.2":            {},
		"parley-backend--dash":                      {},
		"parley-backend-under_score":                {},
		"cgw-backend-groupwise":                     {},
		"parley-backend-groupwise_v1.4.2-01":        {},
		"parley-backend-" + strings.Repeat("a", 64): {},
	} {
		plugin, version, ok := parseFileName(name)
		if ok != (want[0] != "") || plugin != want[0] || version != want[1] {
			t.Errorf("parseFileName(%q) = %q, %q, %v; want %q, %q", name, plugin, version, ok, want[0], want[1])
		}
	}
}
