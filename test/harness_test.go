// Package test holds the end-to-end tests: they build the real binaries,
// start parleyd with a plugin directory, and drive it through real plugin
// processes with the client library and the CLI.
package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/tlsterm"
)

// binDir holds the binaries TestMain builds.
var binDir string

// binaries are built by TestMain: output path under binDir → package.
var binaries = map[string]string{
	"parleyd":                       "./cmd/parleyd",
	"parley":                        "./cmd/parley",
	"parleyctl":                     "./cmd/parleyctl",
	"plugins/parley-backend-memory": "./cmd/parley-backend-memory",
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := func() int {
		defer os.RemoveAll(dir)
		if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for out, pkg := range binaries {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
			cmd.Dir = ".."
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// daemon is a running parleyd.
type daemon struct {
	t           *testing.T
	cmd         *exec.Cmd
	dataDir     string
	cfgFile     string
	addr        string
	adminAddr   string
	caPEM       []byte
	earlierLogs string

	mu     sync.Mutex
	log    strings.Builder
	got    chan struct{} // signalled on every log line
	exited bool          // stderr closed: the process is gone
}

type user struct {
	login, backend string
	enabled        bool
}

// memoryBackend is the backend block of the in-process memory backend.
const memoryBackend = `
backend "memory" {
  plugin = "parley-backend-memory"
  server {  # the memory backend's IM server lives inside the plugin
    host = "localhost"
    port = 1
  }
}
`

// startDaemon adds the users to a fresh configuration database and starts
// parleyd on it with the memory backend.
func startDaemon(t *testing.T, users ...user) *daemon {
	t.Helper()
	return startDaemonWith(t, memoryBackend, users...)
}

// startDaemonWith starts parleyd with the given backend blocks (HCL).
// Every plugin binary in binDir/plugins is available to them.
func startDaemonWith(t *testing.T, backends string, users ...user) *daemon {
	t.Helper()
	return startDaemonOpts(t, daemonOptions{Backends: backends, Users: users})
}

// daemonOptions shape a test daemon's configuration.
type daemonOptions struct {
	Backends string // backend blocks (HCL)
	Sessions string // the sessions block's body; default: heartbeat = "5s"
	Users    []user
	// FixedPort keeps the device listener's port across restarts, so
	// devices can come back to the same address.
	FixedPort bool
}

// startDaemonOpts adds the users to a fresh configuration database and
// starts parleyd on it.
func startDaemonOpts(t *testing.T, o daemonOptions) *daemon {
	t.Helper()
	// A short data dir: plugin sockets live under it, and Unix socket
	// paths are limited to about 100 bytes (t.TempDir embeds the test name).
	dataDir, err := os.MkdirTemp("", "pe2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dataDir) })
	d := &daemon{t: t, dataDir: dataDir, got: make(chan struct{}, 1)}
	ctx := context.Background()
	db, err := configdb.Open(ctx, "sqlite", filepath.Join(d.dataDir, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range o.Users {
		if _, err := db.AddUser(ctx, "e2e", configdb.User{Login: u.login, Backend: u.backend, Enabled: u.enabled}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	listen := "127.0.0.1:0"
	if o.FixedPort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listen = ln.Addr().String()
		ln.Close()
	}
	if o.Sessions == "" {
		o.Sessions = `heartbeat = "5s"`
	}
	config := fmt.Sprintf(`
data_dir  = %q
log_level = "info"
listener "device" { address = %q }
admin { address = "127.0.0.1:0" }
metrics { address = "" }
plugins {
  dir = %q
  call_timeout = "5s"
}
sessions {
  %s
}
%s
`, d.dataDir, listen, filepath.Join(binDir, "plugins"), o.Sessions, o.Backends)
	d.cfgFile = filepath.Join(d.dataDir, "parley.hcl")
	if err := os.WriteFile(d.cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("parleyd log:\n%s%s", d.earlierLogs, d.logText())
		}
	})
	d.start()
	return d
}

// start runs parleyd on the daemon's configuration and waits until it
// listens.
func (d *daemon) start() {
	t := d.t
	t.Helper()
	d.mu.Lock()
	d.log.Reset()
	d.exited = false
	d.mu.Unlock()
	d.cmd = exec.Command(filepath.Join(binDir, "parleyd"), "-config", d.cfgFile)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go d.readLog(stderr)
	m := d.waitLog(regexp.MustCompile(`listening: devices=(\S+) admin=(\S+)`))
	d.addr, d.adminAddr = m[1], m[2]
	pem, err := os.ReadFile(filepath.Join(d.dataDir, "tls", "self-signed.crt"))
	if err != nil {
		t.Fatalf("self-signed certificate: %v", err)
	}
	d.caPEM = pem
}

// stop sends SIGTERM (a graceful shutdown) and waits for parleyd to exit.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil || d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
}

// restart stops parleyd gracefully and starts it again on the same data
// directory and configuration.
func (d *daemon) restart() {
	d.t.Helper()
	d.stop()
	d.earlierLogs += d.logText() + "--- restart ---\n"
	d.start()
}

func (d *daemon) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		d.mu.Lock()
		d.log.WriteString(sc.Text() + "\n")
		d.mu.Unlock()
		select {
		case d.got <- struct{}{}:
		default:
		}
	}
	d.mu.Lock()
	d.exited = true
	d.mu.Unlock()
	select {
	case d.got <- struct{}{}:
	default:
	}
}

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// waitLog waits for a log line matching re and returns its submatches.
func (d *daemon) waitLog(re *regexp.Regexp) []string {
	d.t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		if m := re.FindStringSubmatch(d.logText()); m != nil {
			return m
		}
		d.mu.Lock()
		exited := d.exited
		d.mu.Unlock()
		if exited {
			d.t.Fatalf("parleyd exited before logging %s; log:\n%s", re, d.logText())
		}
		select {
		case <-d.got:
		case <-deadline.C:
			d.t.Fatalf("parleyd never logged %s; log:\n%s", re, d.logText())
		}
	}
}

func (d *daemon) tlsConfig(t *testing.T) *client.Config {
	t.Helper()
	tlsCfg, err := tlsterm.ClientConfig(d.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &client.Config{Addr: d.addr, TLS: tlsCfg, ClientName: "e2e"}
}

func (d *daemon) dial(t *testing.T, device string) *client.Conn {
	t.Helper()
	cfg := d.tlsConfig(t)
	cfg.DeviceID = device
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (d *daemon) login(t *testing.T, name string) *client.Conn {
	t.Helper()
	c := d.dial(t, name+"-phone")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := c.Login(ctx, name, "secret"); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return c
}

// pluginPID finds the running memory plugin process started by this daemon.
func (d *daemon) pluginPID(t *testing.T) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if strings.HasSuffix(exe, "parley-backend-memory") && len(fields) > 1 && fields[1] == fmt.Sprint(d.cmd.Process.Pid) {
			return pid
		}
	}
	t.Fatal("no memory plugin process under parleyd")
	return 0
}

func waitMessage(t *testing.T, c *client.Conn, from, text string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("link closed while waiting for %q: %v", text, c.Err())
			}
			if m := e.GetMessage(); m != nil && m.From == from && m.Text == text {
				return
			}
		case <-timeout:
			t.Fatalf("no message %q from %s", text, from)
		}
	}
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
