package pluginhost

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/plugins/sdk"
)

// defaultPath is the plugins' PATH when the gateway has none.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// process is one running plugin process and its go-plugin client. A
// client is never reused: every start gets a new process value.
type process struct {
	client  *plugin.Client
	cmd     *exec.Cmd
	backend *sdk.Client
	info    sdk.Info
	pid     int
	started time.Time

	output  *pluginOutput
	writers []*lineWriter

	cancelStream context.CancelFunc
	streamEnded  chan error    // the event stream's end (buffered)
	recvDone     chan struct{} // closed when the receive goroutine returns
}

// launch starts the backend's plugin from file and brings it up to an
// open event stream: start and handshake, Dispense, GetInfo (checked
// against the file name), Configure, Subscribe. StartTimeout bounds it
// all. On error nothing is left running.
func (s *supervisor) launch(ctx context.Context, file pluginFile) (p *process, err error) {
	h := s.host
	begin := time.Now()
	// Check the file again: it may have changed since the scan.
	if _, err := statBinary(file.path); err != nil {
		return nil, err
	}
	tmp, err := h.freshTempDir(s.name)
	if err != nil {
		return nil, err
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	cmd := exec.Command(file.path)
	cmd.Env = []string{"PATH=" + path, sdk.EnvLogLevel + "=" + h.opts.LogLevel, "TMPDIR=" + tmp}
	setProcAttr(cmd)

	var secure *plugin.SecureConfig
	if sum, ok := h.opts.Pins[file.name]; ok {
		// SecureConfig.Check writes into Hash and never resets it: a hash
		// shared between starts would fail every start after the first.
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	out := newPluginOutput(s.pluginLog, h.opts.LogLimit, h.metrics.logDroppedFunc(s.name))
	stderr, syncStderr, syncStdout := out.writer(logLines), out.writer(logLines), out.writer(strayLines)
	p = &process{
		cmd: cmd, output: out, writers: []*lineWriter{stderr, syncStderr, syncStdout},
		streamEnded: make(chan error, 1), recvDone: make(chan struct{}),
	}
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.HostPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     secure,
		SkipHostEnv:      true,
		StartTimeout:     h.opts.StartTimeout,
		Logger:           goPluginLogger{Logger: s.log, mute: filepath.Base(file.path)},
		Stderr:           stderr,
		SyncStderr:       syncStderr,
		SyncStdout:       syncStdout,
		GRPCDialOptions:  append(sdk.HostDialOptions(), h.metrics.dialOptions(s.name)...),
	})
	defer func() {
		if err != nil {
			p.stop(false, h.opts.KillTimeout, s.log)
		}
	}()

	startCtx, cancel := context.WithTimeout(ctx, h.opts.StartTimeout)
	defer cancel()
	rpc, err := p.client.Client()
	if cmd.Process != nil {
		p.pid = cmd.Process.Pid
	}
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		return p, fmt.Errorf("%w: %s", ErrChecksumMismatch, file.path)
	}
	if err != nil {
		return p, fmt.Errorf("pluginhost: starting %s: %w", file.path, err)
	}
	p.backend, err = sdk.Dispense(rpc)
	if err != nil {
		return p, fmt.Errorf("pluginhost: %s: %w", file.path, err)
	}
	p.backend.CallTimeout = h.opts.CallTimeout
	p.backend.ObserveCall = h.metrics.callErrorFunc(s.name)
	p.info, err = p.backend.GetInfo(startCtx)
	if err != nil {
		return p, fmt.Errorf("pluginhost: %s: GetInfo: %w", file.path, err)
	}
	if err := checkInfo(file, p.info); err != nil {
		return p, err
	}
	if err := p.backend.Configure(startCtx, s.spec.Settings, s.spec.Server); err != nil {
		if sdk.ReasonOf(err) == sdk.ReasonInvalidArgument {
			return p, fmt.Errorf("%w: %w", ErrBadSettings, err)
		}
		return p, fmt.Errorf("pluginhost: %s: Configure: %w", file.path, err)
	}
	streamCtx, cancelStream := context.WithCancel(ctx)
	p.cancelStream = cancelStream
	stream, err := p.backend.Subscribe(streamCtx)
	if err != nil {
		return p, fmt.Errorf("pluginhost: %s: Subscribe: %w", file.path, err)
	}
	go p.receive(stream, s.name, h.opts.OnEvents)
	p.started = time.Now()
	s.log.Info("plugin started", "plugin", file.name, "version", p.info.Version, "path", file.path,
		"pid", p.pid, "took", p.started.Sub(begin).Round(time.Millisecond))
	return p, nil
}

// checkInfo refuses a plugin whose GetInfo disagrees with its file name or
// that does not speak the host's API version.
func checkInfo(file pluginFile, info sdk.Info) error {
	base := filepath.Base(file.path)
	if info.Name != file.name {
		return fmt.Errorf("%w: %s reports the name %q", ErrNameMismatch, base, info.Name)
	}
	if file.version != "" && strings.TrimPrefix(info.Version, "v") != file.version {
		return fmt.Errorf("%w: %s reports the version %q", ErrNameMismatch, base, info.Version)
	}
	if !slices.Contains(info.APIVersions, sdk.APIVersion) {
		return fmt.Errorf("%w: %s speaks %v, the gateway %d", ErrAPIVersion, base, info.APIVersions, sdk.APIVersion)
	}
	return nil
}

// receive hands the event stream to onEvents until it ends.
func (p *process) receive(stream *sdk.EventStream, backend string, onEvents func(string, []sdk.Event)) {
	defer close(p.recvDone)
	for {
		events, err := stream.Recv()
		if err != nil {
			p.streamEnded <- err
			return
		}
		if len(events) > 0 && onEvents != nil {
			onEvents(backend, events)
		}
	}
}

// stop ends the process. Graceful asks it to shut down (go-plugin's Kill:
// a Shutdown call, two seconds' grace, then SIGKILL); otherwise it is
// SIGKILLed at once, for a plugin that crashed or is wedged. Kill can hang
// (a wedged plugin never answers Shutdown; a grandchild holding the pipes
// keeps go-plugin waiting), so it runs under timeout, after which the
// whole process group is killed.
func (p *process) stop(graceful bool, timeout time.Duration, log hclog.Logger) {
	if p.cancelStream != nil {
		p.cancelStream()
	}
	if !graceful && p.cmd.Process != nil {
		// Signal goes through the process's pidfd: harmless once it is
		// reaped, and it cannot hit a recycled pid. The group (whatever
		// the plugin forked) only while the plugin is not reaped, so its
		// group id cannot have been reused.
		_ = p.cmd.Process.Signal(os.Kill)
		if !p.client.Exited() {
			_ = killGroup(p.pid)
		}
	}
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		p.client.Kill()
	}()
	select {
	case <-killed:
	case <-time.After(timeout):
		// Not reaped yet while Exited is false, so the group id is still
		// this plugin's.
		if p.pid > 0 && !p.client.Exited() {
			log.Warn("plugin did not stop in time; killing its process group", "pid", p.pid)
			_ = killGroup(p.pid)
		}
		select {
		case <-killed:
		case <-time.After(timeout):
			log.Error("plugin still not stopped: something it started holds its output pipes", "pid", p.pid)
		}
	}
	if p.cancelStream != nil {
		select {
		case <-p.recvDone:
		case <-time.After(timeout):
			log.Error("OnEvents callback blocks the plugin's event stream", "pid", p.pid)
		}
	}
	for _, w := range p.writers {
		w.Flush()
	}
	p.output.flush()
}
