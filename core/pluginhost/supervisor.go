package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/plugins/sdk"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// supervisor runs one backend's plugin: it starts it, watches it and
// restarts it, one process after the other.
type supervisor struct {
	host      *Host
	name      string
	spec      BackendSpec
	log       hclog.Logger // the host's lines about this backend
	pluginLog hclog.Logger // the plugin's own lines
	reloads   chan reloadRequest

	mu       sync.Mutex
	state    State
	since    time.Time
	file     pluginFile
	haveFile bool
	proc     *process
	info     sdk.Info
	restarts int
	lastErr  error
	wasUp    bool

	// Owned by run's goroutine.
	crashes []time.Time // recent crashes, for the breaker
	attempt int         // backoff exponent
}

// reloadRequest hands a supervisor the result of a new directory scan.
// The supervisor closes done once it has acted on it: after its next start
// attempt, or at once if nothing changed.
type reloadRequest struct {
	file  pluginFile
	found bool
	done  chan struct{}
}

// watchEnd says why watch returned.
type watchEnd int

const (
	endStopped  watchEnd = iota // the host shuts down
	endReloaded                 // a new binary is to be run
	endCrashed                  // the process died, its stream ended or it is unhealthy
)

func newSupervisor(h *Host, name string, spec BackendSpec) *supervisor {
	log := h.log.With("backend", name)
	pluginLog := h.log.Named(spec.Plugin)
	if spec.Plugin != name {
		pluginLog = pluginLog.With("backend", name)
	}
	return &supervisor{host: h, name: name, spec: spec, log: log, pluginLog: pluginLog,
		reloads: make(chan reloadRequest), state: StateStarting, since: time.Now()}
}

// run supervises the backend until ctx ends. settled is closed after the
// first start attempt.
func (s *supervisor) run(ctx context.Context, file pluginFile, found bool, settled chan struct{}) {
	// Pdeathsig fires when the thread that forked the plugin exits, not the
	// gateway process (golang/go#27505). This goroutine keeps its thread
	// for good, and every plugin it starts is forked from it: the runtime
	// cannot retire that thread under a running plugin, and if the
	// supervisor ever ends with a plugin still alive, the thread's exit
	// kills it.
	runtime.LockOSThread()
	s.mu.Lock()
	s.file, s.haveFile = file, found
	s.mu.Unlock()
	settle := func() {
		if settled != nil {
			close(settled)
			settled = nil
		}
	}
	defer settle()
	relaunch := false
	for {
		if ctx.Err() != nil {
			s.transition(StateStopped, nil, nil)
			return
		}
		s.mu.Lock()
		file, found := s.file, s.haveFile
		s.mu.Unlock()
		wait := time.Duration(-1)
		if !found {
			s.transition(StateMissing, fmt.Errorf("%w: no %s%s in %s", ErrPluginNotFound, filePrefix, s.spec.Plugin, s.host.opts.Dir), nil)
		} else {
			if relaunch {
				s.countRestart()
			}
			var replaced *reloadRequest
			wait, replaced = s.runProcess(ctx, file, settle)
			if replaced != nil {
				s.applyReload(*replaced)
				settled, relaunch = replaced.done, false
				continue
			}
			if ctx.Err() != nil {
				continue
			}
		}
		settle()
		req, reloaded := s.wait(ctx, wait)
		relaunch = !reloaded
		if reloaded {
			s.applyReload(req)
			settled = req.done
		}
	}
}

// runProcess starts one plugin process and supervises it until it ends.
// It calls up once the plugin is up. It returns the wait before the next
// start (-1: until Reload), or the reload request whose new binary is to
// replace the process. When ctx ends, it marks the backend stopped before
// it stops the process.
func (s *supervisor) runProcess(ctx context.Context, file pluginFile, up func()) (time.Duration, *reloadRequest) {
	kill := s.host.opts.KillTimeout
	s.transition(StateStarting, nil, nil)
	p, err := s.launch(ctx, file)
	switch {
	case ctx.Err() != nil:
		s.transition(StateStopped, nil, nil)
		if err == nil {
			p.stop(true, kill, s.log)
		}
		return -1, nil
	case err != nil:
		return s.judge(err, time.Time{}), nil
	}
	s.transition(StateUp, nil, p)
	up()
	end, req, err := s.watch(ctx, p)
	switch end {
	case endStopped:
		s.transition(StateStopped, nil, nil)
		p.stop(true, kill, s.log)
		return -1, nil
	case endReloaded:
		s.log.Info("plugin binary changed; restarting", "path", req.file.path)
		p.stop(true, kill, s.log)
		return 0, &req
	}
	wait := s.judge(err, p.started)
	p.stop(false, kill, s.log)
	return wait, nil
}

// judge decides what a failed start or a crash leads to: StateFailed for
// a refusal or a tripped crash-loop breaker (returning -1: wait for
// Reload), else StateDown and the backoff to wait. upSince is when the
// crashed process came up (zero for a failed start).
func (s *supervisor) judge(err error, upSince time.Time) time.Duration {
	if isRefusal(err) {
		s.transition(StateFailed, err, nil)
		return -1
	}
	policy := s.host.opts.Restart
	now := time.Now()
	if !upSince.IsZero() && now.Sub(upSince) >= policy.ResetAfter {
		s.attempt = 0
	}
	recent := s.crashes[:0]
	for _, t := range s.crashes {
		if now.Sub(t) < policy.CrashWindow {
			recent = append(recent, t)
		}
	}
	s.crashes = append(recent, now)
	if len(s.crashes) >= policy.MaxCrashes {
		s.transition(StateFailed, fmt.Errorf("%w: %d crashes within %v, the last: %w", ErrCrashLoop, len(s.crashes), policy.CrashWindow, err), nil)
		return -1
	}
	wait := s.backoff()
	s.log.Warn("plugin down; restarting", "in", wait.Round(time.Millisecond), "error", err)
	s.transition(StateDown, err, nil)
	return wait
}

// backoff returns the next wait before a restart: InitialBackoff doubling
// per attempt up to MaxBackoff, half of it random.
func (s *supervisor) backoff() time.Duration {
	policy := s.host.opts.Restart
	d := policy.InitialBackoff
	for i := 0; i < s.attempt && d < policy.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, policy.MaxBackoff)
	s.attempt++
	return d/2 + rand.N(d/2+1)
}

// wait blocks for d (for ever if d < 0) or until a reload request or the
// end of ctx. It reports whether a reload request ended it.
func (s *supervisor) wait(ctx context.Context, d time.Duration) (reloadRequest, bool) {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-timeout:
	case req := <-s.reloads:
		return req, true
	}
	return reloadRequest{}, false
}

// applyReload takes a new scan result. A changed binary, or an admin's
// reload of a failed backend, starts afresh: no crash history, no backoff.
func (s *supervisor) applyReload(req reloadRequest) {
	s.mu.Lock()
	changed := req.found != s.haveFile || (req.found && !req.file.sameBinary(s.file))
	stuck := s.state == StateFailed || s.state == StateMissing
	s.file, s.haveFile = req.file, req.found
	s.mu.Unlock()
	if changed || stuck {
		s.crashes, s.attempt = nil, 0
	}
}

// watch returns when the running plugin must be stopped or replaced.
func (s *supervisor) watch(ctx context.Context, p *process) (watchEnd, reloadRequest, error) {
	opts := s.host.opts
	poll := time.NewTicker(opts.PollInterval)
	defer poll.Stop()
	health := time.NewTicker(opts.HealthInterval)
	defer health.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return endStopped, reloadRequest{}, nil
		case err := <-p.streamEnded:
			if ctx.Err() != nil {
				return endStopped, reloadRequest{}, nil
			}
			return endCrashed, reloadRequest{}, fmt.Errorf("pluginhost: event stream ended: %w", err)
		case <-poll.C:
			if p.client.Exited() {
				return endCrashed, reloadRequest{}, errors.New("pluginhost: plugin process exited")
			}
		case <-health.C:
			err := s.checkHealth(ctx, p)
			if err == nil {
				failures = 0
				continue
			}
			if ctx.Err() != nil {
				return endStopped, reloadRequest{}, nil
			}
			failures++
			s.log.Warn("plugin health check failed", "failures", failures, "error", err)
			if failures >= opts.HealthFailures {
				return endCrashed, reloadRequest{}, fmt.Errorf("%w: %d in a row, the last: %w", ErrUnhealthy, failures, err)
			}
		case req := <-s.reloads:
			s.mu.Lock()
			same := req.found && req.file.sameBinary(s.file)
			if !req.found {
				s.haveFile = false
			}
			s.mu.Unlock()
			if !req.found {
				s.log.Warn("plugin binary is gone from the plugin dir; the running process stays until it stops")
			}
			if same || !req.found {
				close(req.done)
				continue
			}
			return endReloaded, req, nil
		}
	}
}

// checkHealth asks the gRPC health service (which only proves the process
// serves gRPC) and then the plugin's own Health, each under CallTimeout.
// go-plugin's Ping is not used: it has no deadline.
func (s *supervisor) checkHealth(ctx context.Context, p *process) error {
	hctx, cancel := context.WithTimeout(ctx, s.host.opts.CallTimeout)
	defer cancel()
	resp, err := grpc_health_v1.NewHealthClient(p.backend.Conn()).Check(hctx,
		&grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return fmt.Errorf("grpc health: %w", err)
	}
	if st := resp.GetStatus(); st != grpc_health_v1.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc health: %v", st)
	}
	if err := p.backend.Health(ctx); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return nil
}

func (s *supervisor) countRestart() {
	s.mu.Lock()
	s.restarts++
	s.mu.Unlock()
	s.host.metrics.restarted(s.name)
}

// transition records a new state, logs it and tells OnState. p is the
// process for StateUp. StateStopped is final.
func (s *supervisor) transition(st State, err error, p *process) {
	s.mu.Lock()
	if s.state == StateStopped {
		s.mu.Unlock()
		return
	}
	s.state, s.since = st, time.Now()
	if err != nil {
		s.lastErr = err
	}
	s.proc = p
	restarted := false
	if p != nil {
		s.info = p.info
		restarted = s.wasUp
		s.wasUp = true
	}
	change := StateChange{Backend: s.name, State: st, Info: s.info, Restarted: restarted, Err: err}
	s.mu.Unlock()

	s.host.metrics.setUp(s.name, st == StateUp)
	switch st {
	case StateFailed:
		s.log.Error("plugin failed; not restarted until the plugins are reloaded", "error", err)
	case StateMissing:
		s.log.Error("backend has no plugin", "error", err)
	case StateStopped:
		s.log.Debug("plugin stopped")
	}
	if s.host.opts.OnState != nil {
		s.host.opts.OnState(change)
	}
}

// backend returns the running plugin's client.
func (s *supervisor) backend() (*sdk.Client, sdk.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateUp || s.proc == nil {
		if s.lastErr != nil {
			return nil, sdk.Info{}, fmt.Errorf("pluginhost: backend %q is %v (%v): %w", s.name, s.state, s.lastErr, ErrUnavailable)
		}
		return nil, sdk.Info{}, fmt.Errorf("pluginhost: backend %q is %v: %w", s.name, s.state, ErrUnavailable)
	}
	return s.proc.backend, s.info, nil
}

func (s *supervisor) status() PluginStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := PluginStatus{Backend: s.name, Plugin: s.spec.Plugin, State: s.state, Since: s.since, Restarts: s.restarts}
	if s.haveFile {
		st.Path, st.Version = s.file.path, s.file.version
	}
	if s.info.Version != "" {
		st.Version = s.info.Version
	}
	if s.proc != nil {
		st.PID = s.proc.pid
	}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	return st
}
