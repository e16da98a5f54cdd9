//go:build linux

package pluginhost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/plugins/sdk"
	"golang.org/x/sys/unix"
)

// The test binary doubles as a gateway process for the tests below: with
// helperEnv set, TestMain runs one of these helpers instead of the tests.
const (
	helperEnv       = "PLUGINHOST_TEST_HELPER"
	helperDirEnv    = "PLUGINHOST_TEST_DIR"
	helperDataEnv   = "PLUGINHOST_TEST_DATA"
	helperPluginEnv = "PLUGINHOST_TEST_PLUGIN"
)

func runHelper(mode string) int {
	switch mode {
	case "host":
		return helperHost()
	case "naive":
		return helperNaiveClient()
	}
	fmt.Fprintln(os.Stderr, "unknown helper", mode)
	return 1
}

// helperHost runs a Host with the plugin parley-backend-orphan, prints
// the plugin's pid and runs until its stdin closes (or it is killed).
func helperHost() int {
	h, err := New(Options{Dir: os.Getenv(helperDirEnv), DataDir: os.Getenv(helperDataEnv),
		Backends: map[string]BackendSpec{"orphan": {}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st := h.Status()[0]
	if st.State != StateUp {
		fmt.Fprintln(os.Stderr, "plugin not up:", st.LastError)
		return 1
	}
	fmt.Printf("pid %d\n", st.PID)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = h.Shutdown(ctx)
	return 0
}

// helperNaiveClient runs a plugin the way go-plugin's documentation does,
// without this package's stderr defence, and reports if it survives.
func helperNaiveClient() int {
	cmd := exec.Command(os.Getenv(helperPluginEnv))
	setProcAttr(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.HostPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: os.Stderr}),
	})
	defer client.Kill()
	if _, err := client.Client(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// go-plugin parses the plugin's first stderr line on its own
	// goroutine; give it ample time to panic.
	<-time.After(10 * time.Second)
	fmt.Println("survived")
	return 0
}

// TestGoPluginAloneDiesOfHostileLine is the control for
// TestHostileStderrDoesNotCrashHost: the test plugin's first stderr line
// does kill a gateway that leaves stderr parsing to go-plugin.
func TestGoPluginAloneDiesOfHostileLine(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=naive", helperPluginEnv+"="+filepath.Join(binDir, "testplugin"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "interface conversion") {
		t.Fatalf("naive go-plugin host: %v\n%s", err, out)
	}
}

// TestPluginDiesWithKilledGateway: SIGKILL the gateway, and its plugin
// goes too. testplugin has no parent watchdog (the SDK's would end it
// within a second), so this is Pdeathsig at work.
func TestPluginDiesWithKilledGateway(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-orphan")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=host", helperDirEnv+"="+dir, helperDataEnv+"="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper gateway: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(line, "pid %d", &pid); err != nil || pid <= 0 {
		t.Fatalf("helper gateway said %q", line)
	}
	// The plugin is not our child; a pidfd tells when it exits. Opened
	// before the kill, it cannot refer to a recycled pid.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	defer unix.Close(pidfd)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(waitLimit.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
			t.Fatalf("plugin %d outlived its killed gateway (poll: %d, %v)", pid, n, err)
		}
		return
	}
}
