// Package captures loads the real IM traffic recorded by the interop
// harness, which fuzz tests use as seeds. The recordings live outside the
// repository, in ../shared/interop/captures beside the module root; when
// that directory is absent every function reports nothing, so the
// repository tests without it.
package captures

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns the captures directory, ../shared/interop/captures beside
// the module root (the nearest directory holding go.mod, walking up from
// the working directory), or "" when it is absent.
func Dir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	root, ok := moduleRoot(wd)
	if !ok {
		return ""
	}
	dir := filepath.Join(root, "..", "shared", "interop", "captures")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return dir
}

// moduleRoot returns the nearest directory at or above dir that holds go.mod.
func moduleRoot(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Read returns the contents of the capture files whose names match pattern
// (a filepath.Match pattern such as "groupwise-*.s2c.bin"), in name order.
// It returns nil, nil when the captures directory is absent.
func Read(pattern string) ([][]byte, error) {
	dir := Dir()
	if dir == "" {
		return nil, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, fmt.Errorf("captures: %q: %w", pattern, err)
	}
	var files [][]byte
	for _, name := range names {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("captures: %w", err)
		}
		files = append(files, b)
	}
	return files, nil
}
