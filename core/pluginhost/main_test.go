//go:build linux

package pluginhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// binDir holds the plugin binaries TestMain builds: parley-backend-memory
// (the SDK's example plugin) and testplugin (testdata/testplugin).
var binDir string

// waitLimit bounds every wait of these tests for something to happen.
const waitLimit = 30 * time.Second

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pluginhost-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/parley-backend-memory", "./core/pluginhost/testdata/testplugin")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building test plugins:", err)
		return 1
	}
	for _, name := range []string{"parley-backend-memory", "testplugin"} {
		// go build honours the umask; a group-writable plugin is refused.
		if err := os.Chmod(filepath.Join(dir, name), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	binDir = dir
	return m.Run()
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// install puts a built binary into dir under name, as a hard link (or a
// copy where linking fails), and returns its path.
func install(t testing.TB, dir, built, name string) string {
	t.Helper()
	src, dst := filepath.Join(binDir, built), filepath.Join(dir, name)
	if err := os.Link(src, dst); err == nil {
		return dst
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// pluginDir returns a new plugin directory.
func pluginDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stateLog records OnState calls and lets a test wait for them in order.
type stateLog struct {
	mu      sync.Mutex
	changes []StateChange
	next    map[string]int // per backend: changes before it were consumed by await
	changed chan struct{}
}

func newStateLog() *stateLog { return &stateLog{next: map[string]int{}, changed: make(chan struct{})} }

func (s *stateLog) record(c StateChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, c)
	close(s.changed)
	s.changed = make(chan struct{})
}

// await returns the next change of backend to state st after the
// backend's changes already awaited.
func (s *stateLog) await(t testing.TB, backend string, st State) StateChange {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		s.mu.Lock()
		for i := s.next[backend]; i < len(s.changes); i++ {
			if c := s.changes[i]; c.Backend == backend && c.State == st {
				s.next[backend] = i + 1
				s.mu.Unlock()
				return c
			}
		}
		wait := s.changed
		s.mu.Unlock()
		select {
		case <-wait:
		case <-deadline:
			t.Fatalf("backend %q did not reach state %v within %v", backend, st, waitLimit)
		}
	}
}

// count returns how many changes of backend to st were recorded.
func (s *stateLog) count(backend string, st State) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.changes {
		if c.Backend == backend && c.State == st {
			n++
		}
	}
	return n
}

// testHost is a started Host with its log, state changes and metrics.
type testHost struct {
	*Host
	log    *logSink
	states *stateLog
	reg    *prometheus.Registry
}

// fastOptions are options for tests: quick restarts, no health checks
// unless a test asks.
func fastOptions(dir string, backends map[string]BackendSpec) Options {
	return Options{
		Dir:            dir,
		Backends:       backends,
		StartTimeout:   20 * time.Second,
		CallTimeout:    10 * time.Second,
		HealthInterval: time.Hour,
		PollInterval:   50 * time.Millisecond,
		Restart:        RestartPolicy{InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, MaxCrashes: 5, CrashWindow: time.Hour},
	}
}

// startHost starts a Host on o; Shutdown runs at the end of the test.
func startHost(t testing.TB, o Options) *testHost {
	t.Helper()
	th := &testHost{log: newLogSink(), states: newStateLog(), reg: prometheus.NewRegistry()}
	o.Logger = hclog.New(&hclog.LoggerOptions{Name: "parleyd", Level: hclog.Info, JSONFormat: true, Output: th.log})
	o.Registerer = th.reg
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	user := o.OnState
	o.OnState = func(c StateChange) {
		th.states.record(c)
		if user != nil {
			user(c)
		}
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	th.Host = h
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if t.Failed() {
			th.log.dump(t)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return th
}

func (th *testHost) status(t testing.TB, backend string) PluginStatus {
	t.Helper()
	for _, s := range th.Status() {
		if s.Backend == backend {
			return s
		}
	}
	t.Fatalf("no status for backend %q", backend)
	return PluginStatus{}
}

// metric returns the value of a metric with the given labels (0 if it
// has not been recorded).
func (th *testHost) metric(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := th.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// processGone reports whether pid no longer runs: it does not exist or is
// a zombie nobody has reaped yet.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	// pid (comm) state ...; comm may contain spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z' || stat[i+2] == 'X'
	}
	return false
}

// writeScript writes an executable shell script into dir.
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func countLines(t testing.TB, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}
