package pluginhost

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/mod/semver"
)

// filePrefix starts every plugin binary's name.
const filePrefix = "parley-backend-"

// fileNameRE matches parley-backend-<name>[_v<semver>].
var fileNameRE = regexp.MustCompile(`^parley-backend-([a-z0-9][a-z0-9-]{0,62})(?:_v([0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?))?$`)

// pluginFile is a binary found in the plugin directory.
type pluginFile struct {
	name    string // plugin name
	version string // semver without "v"; empty for an unversioned file
	path    string
	info    fs.FileInfo
}

// sameBinary reports whether f and g are the same, unchanged file.
func (f pluginFile) sameBinary(g pluginFile) bool {
	return f.path == g.path && os.SameFile(f.info, g.info) &&
		f.info.Size() == g.info.Size() && f.info.ModTime().Equal(g.info.ModTime())
}

// newer reports whether f should be preferred over g (same plugin name):
// any version beats no version, then the higher semver wins, then the
// greater file name, so the choice never depends on directory order.
func (f pluginFile) newer(g pluginFile) bool {
	if (f.version == "") != (g.version == "") {
		return g.version == ""
	}
	if f.version != "" {
		if c := semver.Compare("v"+f.version, "v"+g.version); c != 0 {
			return c > 0
		}
	}
	return filepath.Base(f.path) > filepath.Base(g.path)
}

// parseFileName splits a plugin binary's name into plugin name and
// version.
func parseFileName(name string) (plugin, version string, ok bool) {
	m := fileNameRE.FindStringSubmatch(name)
	if m == nil || (m[2] != "" && !semver.IsValid("v"+m[2])) {
		return "", "", false
	}
	return m[1], m[2], true
}

// scanDir finds the binary to run for every plugin in dir. Files that do
// not qualify are skipped with a log line.
func scanDir(dir string, logger hclog.Logger) (map[string]pluginFile, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: scanning plugin dir: %w", err)
	}
	found := make(map[string]pluginFile)
	for _, e := range entries {
		plugin, version, ok := parseFileName(e.Name())
		if !ok {
			logger.Info("skipping file in plugin dir: name is not parley-backend-<name>[_v<semver>]", "file", e.Name())
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := statBinary(path)
		if err != nil {
			logger.Warn("skipping plugin file", "file", e.Name(), "error", err)
			continue
		}
		f := pluginFile{name: plugin, version: version, path: path, info: info}
		if prev, dup := found[plugin]; dup {
			if !f.newer(prev) {
				f, prev = prev, f
			}
			logger.Info("skipping older plugin version", "file", filepath.Base(prev.path), "using", filepath.Base(f.path))
		}
		found[plugin] = f
	}
	return found, nil
}

// checkDir refuses a plugin directory that is a symlink or that others
// can write to (they could swap a binary between its check and its run).
func checkDir(dir string) error {
	info, err := os.Lstat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("pluginhost: plugin dir: %w", err)
	case info.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: plugin dir %s is a symlink", ErrUnsafeFile, dir)
	case !info.IsDir():
		return fmt.Errorf("%w: plugin dir %s is not a directory", ErrUnsafeFile, dir)
	case info.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: plugin dir %s is writable by group or others (mode %v)", ErrUnsafeFile, dir, info.Mode().Perm())
	}
	return checkOwner(info)
}

// statBinary checks that path may be run as a plugin: a regular file (not
// a symlink) with an execute bit, not writable by group or others, owned
// by root or the gateway's user. It runs at every scan and again before
// every start.
func statBinary(path string) (fs.FileInfo, error) {
	info, err := os.Lstat(path)
	switch {
	case err != nil:
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w: %s", ErrPluginNotFound, path)
		}
		return nil, fmt.Errorf("pluginhost: %w", err)
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%w: %s is a symlink", ErrUnsafeFile, path)
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrUnsafeFile, path)
	case info.Mode().Perm()&0o111 == 0:
		return nil, fmt.Errorf("%w: %s is not executable", ErrUnsafeFile, path)
	case info.Mode().Perm()&0o022 != 0:
		return nil, fmt.Errorf("%w: %s is writable by group or others (mode %v)", ErrUnsafeFile, path, info.Mode().Perm())
	}
	if err := checkOwner(info); err != nil {
		return nil, err
	}
	return info, nil
}
