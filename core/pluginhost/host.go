package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/plugins/sdk"
)

// tempDirName is the plugins' directory under Options.DataDir.
const tempDirName = "plugin-tmp"

// maxSocketPath is the longest Unix socket path that works everywhere
// (sun_path is 108 bytes on Linux, 104 on macOS, NUL included).
const maxSocketPath = 103

// Host runs the configured backends' plugins.
type Host struct {
	opts    Options
	log     hclog.Logger
	metrics *metrics
	sups    map[string]*supervisor
	names   []string // sorted backend names

	ctx    context.Context // the supervisors'; cancelled by Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex // serialises Start, Reload and Shutdown
	started bool
	tmpRoot string
	ownsTmp bool // tmpRoot was made by Start and goes at Shutdown
}

// New checks the options and registers the metrics. Nothing runs before
// Start.
func New(o Options) (*Host, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("pluginhost: registering metrics: %w", err)
	}
	h := &Host{opts: o, log: o.Logger.Named("plugins"), metrics: m, sups: make(map[string]*supervisor)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for name, spec := range o.Backends {
		h.sups[name] = newSupervisor(h, name, spec)
		h.names = append(h.names, name)
		m.setUp(name, false)
	}
	slices.Sort(h.names)
	return h, nil
}

// Start wipes the plugins' temp dir, scans the plugin directory and starts
// every backend's supervisor. It returns once each backend has made its
// first start attempt, or when ctx ends. A backend whose plugin is missing
// or does not start is not an error here (nor is a missing plugin
// directory): its state says so, and it is retried as its state allows.
// An unsafe plugin directory is an error.
func (h *Host) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started || h.ctx.Err() != nil {
		return ErrStarted
	}
	h.started = true
	if err := h.prepareTempRoot(); err != nil {
		return err
	}
	files, err := scanDir(h.opts.Dir, h.log)
	if errors.Is(err, fs.ErrNotExist) {
		// Not fatal: the gateway runs (its admin API too) with every
		// backend missing, until the directory exists and a reload.
		h.log.Error("plugin dir does not exist", "dir", h.opts.Dir)
		files, err = nil, nil
	}
	if err != nil {
		return err
	}
	h.logUnused(files)
	settled := make([]chan struct{}, 0, len(h.names))
	for _, name := range h.names {
		s := h.sups[name]
		file, found := files[s.spec.Plugin]
		done := make(chan struct{})
		settled = append(settled, done)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			s.run(h.ctx, file, found, done)
		}()
	}
	return waitAll(ctx, settled, "waiting for plugins to start")
}

// Reload scans the plugin directory again (parleyd calls it on SIGHUP and
// for `parleyctl plugins reload`). A backend whose binary changed is
// restarted on the new one; a failed or missing backend is started again
// with a clean crash history; a running backend whose binary is unchanged
// is left alone. Reload returns once every backend has acted on the scan,
// or when ctx ends.
func (h *Host) Reload(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started || h.ctx.Err() != nil {
		return fmt.Errorf("pluginhost: reload: %w", ErrNotRunning)
	}
	files, err := scanDir(h.opts.Dir, h.log)
	if err != nil {
		return err
	}
	h.logUnused(files)
	acted := make([]chan struct{}, 0, len(h.names))
	for _, name := range h.names {
		s := h.sups[name]
		file, found := files[s.spec.Plugin]
		req := reloadRequest{file: file, found: found, done: make(chan struct{})}
		select {
		case s.reloads <- req:
			acted = append(acted, req.done)
		case <-ctx.Done():
			return fmt.Errorf("pluginhost: reload: %w", ctx.Err())
		case <-h.ctx.Done():
			return fmt.Errorf("pluginhost: reload: %w", ErrNotRunning)
		}
	}
	return waitAll(ctx, acted, "reload")
}

// Shutdown stops every plugin, all in parallel, each first asked to exit
// and killed when it does not in time (KillTimeout). It returns when all
// are gone or when ctx ends.
func (h *Host) Shutdown(ctx context.Context) error {
	// Cancel first: a Start or Reload in progress holds mu, and returns
	// once the supervisors see the cancellation.
	h.cancel()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("pluginhost: shutdown: %w", ctx.Err())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		for _, name := range h.names {
			h.sups[name].transition(StateStopped, nil, nil)
		}
	}
	if h.ownsTmp {
		h.ownsTmp = false
		if err := os.RemoveAll(h.tmpRoot); err != nil {
			h.log.Warn("removing plugin temp dir", "error", err)
		}
	}
	return nil
}

// Backend returns the client of a backend's running plugin and the Info
// it reported at its start. The error wraps ErrUnavailable when the plugin
// is not up, ErrUnknownBackend for a name that is not configured. Calls
// on the client carry CallTimeout; after a crash they fail with
// sdk.ReasonBackendUnavailable and the next Backend returns the new
// process's client.
func (h *Host) Backend(name string) (*sdk.Client, sdk.Info, error) {
	s, ok := h.sups[name]
	if !ok {
		return nil, sdk.Info{}, fmt.Errorf("%w: %q", ErrUnknownBackend, name)
	}
	return s.backend()
}

// Status describes every backend, sorted by name (for the admin API).
func (h *Host) Status() []PluginStatus {
	out := make([]PluginStatus, 0, len(h.names))
	for _, name := range h.names {
		out = append(out, h.sups[name].status())
	}
	return out
}

// logUnused mentions plugins that no backend uses.
func (h *Host) logUnused(files map[string]pluginFile) {
	used := make(map[string]bool, len(h.sups))
	for _, s := range h.sups {
		used[s.spec.Plugin] = true
	}
	for name, f := range files {
		if !used[name] {
			h.log.Debug("plugin not used by any backend", "plugin", name, "path", f.path)
		}
	}
}

// prepareTempRoot makes the plugins' temp dir, removing whatever an
// earlier run left there (go-plugin leaves sockets behind when a plugin is
// killed, hashicorp/go-plugin#119).
func (h *Host) prepareTempRoot() error {
	if h.opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "parley-plugins-")
		if err != nil {
			return fmt.Errorf("%w: %w", ErrTempDir, err)
		}
		h.tmpRoot, h.ownsTmp = dir, true
		return h.checkSocketPaths()
	}
	root := filepath.Join(h.opts.DataDir, tempDirName)
	info, err := os.Lstat(root)
	switch {
	case err == nil && info.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink", ErrTempDir, root)
	case err == nil:
		stale, _ := os.ReadDir(root)
		if err := os.RemoveAll(root); err != nil {
			return fmt.Errorf("%w: removing stale files: %w", ErrTempDir, err)
		}
		if len(stale) > 0 {
			h.log.Info("removed plugin temp files left by an earlier run", "dir", root, "entries", len(stale))
		}
	case !os.IsNotExist(err):
		return fmt.Errorf("%w: %w", ErrTempDir, err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrTempDir, err)
	}
	h.tmpRoot = root
	return h.checkSocketPaths()
}

// checkSocketPaths refuses a temp dir so deep that a plugin's socket path
// would not fit (the plugin would fail to start with a confusing error).
func (h *Host) checkSocketPaths() error {
	for _, name := range h.names {
		// The plugin's socket is <TMPDIR>/plugin<up to 10 digits>.
		if dir := h.backendTempDir(name); len(dir)+len("/plugin")+10 > maxSocketPath {
			return fmt.Errorf("%w: %s is too long for Unix socket paths; use a shorter data dir", ErrTempDir, dir)
		}
	}
	return nil
}

func (h *Host) backendTempDir(backend string) string {
	return filepath.Join(h.tmpRoot, backend)
}

// freshTempDir empties a backend's temp dir before a start: its previous
// process is gone, and so must be its socket.
func (h *Host) freshTempDir(backend string) (string, error) {
	dir := h.backendTempDir(backend)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("%w: %w", ErrTempDir, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("%w: %w", ErrTempDir, err)
	}
	return dir, nil
}

// waitAll waits for every channel to close or ctx to end.
func waitAll(ctx context.Context, chans []chan struct{}, what string) error {
	for _, c := range chans {
		select {
		case <-c:
		case <-ctx.Done():
			return fmt.Errorf("pluginhost: %s: %w", what, ctx.Err())
		}
	}
	return nil
}
