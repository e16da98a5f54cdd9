//go:build linux

package pluginhost

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sdk"
)

func memoryBackend() map[string]BackendSpec {
	return map[string]BackendSpec{"memory": {}}
}

func login(t testing.TB, c *sdk.Client, session, user string) sdk.Snapshot {
	t.Helper()
	snap, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: session, Login: user, Password: "secret"})
	if err != nil {
		t.Fatalf("OpenSession(%s): %v", user, err)
	}
	return snap
}

func backend(t testing.TB, th *testHost, name string) *sdk.Client {
	t.Helper()
	c, _, err := th.Backend(name)
	if err != nil {
		t.Fatalf("Backend(%q): %v", name, err)
	}
	return c
}

func TestStartRunsPluginAndDeliversEvents(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "parley-backend-memory", "parley-backend-memory")
	events := make(chan sdk.Event, 64)
	o := fastOptions(dir, memoryBackend())
	o.OnEvents = func(backend string, evs []sdk.Event) {
		for _, e := range evs {
			if backend == "memory" {
				events <- e
			}
		}
	}
	th := startHost(t, o)

	up := th.states.await(t, "memory", StateUp)
	if up.Info.Name != "memory" || up.Restarted {
		t.Errorf("first StateUp = %+v, want memory, not restarted", up)
	}
	st := th.status(t, "memory")
	if st.State != StateUp || st.PID == 0 || st.Version != "1.0.0" || st.Plugin != "memory" ||
		st.Path != filepath.Join(dir, "parley-backend-memory") {
		t.Errorf("status = %+v", st)
	}
	if v := th.metric(t, "parley_plugin_up", map[string]string{"backend": "memory"}); v != 1 {
		t.Errorf("parley_plugin_up = %v, want 1", v)
	}

	c, info, err := th.Backend("memory")
	if err != nil || info.Name != "memory" {
		t.Fatalf("Backend = %v, %+v", err, info)
	}
	login(t, c, "s-alice", "alice")
	login(t, c, "s-bob", "bob")
	if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s-bob", To: "alice", Text: "hi", IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitLimit)
	for {
		select {
		case e := <-events:
			if m, ok := e.Kind.(sdk.MessageEvent); ok && e.SessionID == "s-alice" {
				if m.From != "bob" || m.Text != "hi" {
					t.Errorf("message event = %+v", m)
				}
				return
			}
		case <-deadline:
			t.Fatal("alice's message event never reached OnEvents")
		}
	}
}

func TestCrashedPluginIsRestartedWithNewClient(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-crashy")
	th := startHost(t, fastOptions(dir, map[string]BackendSpec{"crashy": {}}))
	th.states.await(t, "crashy", StateUp)
	old := backend(t, th, "crashy")
	oldPID := th.status(t, "crashy").PID
	login(t, old, "s1", "alice")

	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	down := th.states.await(t, "crashy", StateDown)
	if down.Err == nil {
		t.Error("StateDown without an error")
	}
	up := th.states.await(t, "crashy", StateUp)
	if !up.Restarted {
		t.Error("StateUp after a crash not marked Restarted")
	}
	st := th.status(t, "crashy")
	if st.PID == oldPID || st.PID == 0 || st.Restarts != 1 {
		t.Errorf("after the crash: pid %d (was %d), restarts %d; want a new pid and 1 restart", st.PID, oldPID, st.Restarts)
	}
	if !processGone(oldPID) {
		t.Errorf("killed plugin %d still present", oldPID)
	}
	c := backend(t, th, "crashy")
	if c == old {
		t.Fatal("Backend returns the crashed process's client")
	}
	if _, err := old.GetInfo(context.Background()); sdk.ReasonOf(err) != sdk.ReasonBackendUnavailable {
		t.Errorf("call on the old client: %v, want backend_unavailable", err)
	}
	login(t, c, "s1", "alice") // the new process has no sessions: the core re-opens them

	// A plugin that exits by itself is restarted the same way.
	_, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "s2", Login: "crash"})
	if sdk.ReasonOf(err) != sdk.ReasonBackendUnavailable {
		t.Errorf("OpenSession(crash) = %v, want backend_unavailable", err)
	}
	th.states.await(t, "crashy", StateDown)
	th.states.await(t, "crashy", StateUp)
	login(t, backend(t, th, "crashy"), "s1", "alice")
	if got := th.status(t, "crashy").Restarts; got != 2 {
		t.Errorf("restarts = %d, want 2", got)
	}
	if v := th.metric(t, "parley_plugin_restarts_total", map[string]string{"backend": "crashy"}); v != 2 {
		t.Errorf("parley_plugin_restarts_total = %v, want 2", v)
	}
}

func TestPinnedChecksum(t *testing.T) {
	dir := pluginDir(t)
	path := install(t, dir, "parley-backend-memory", "parley-backend-memory")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	good := sha256.Sum256(data)

	t.Run("good", func(t *testing.T) {
		o := fastOptions(dir, memoryBackend())
		o.Pins = map[string][]byte{"memory": good[:]}
		th := startHost(t, o)
		th.states.await(t, "memory", StateUp)
		// A hash object shared between starts would make the second check
		// fail; the restart proves each start hashes afresh.
		if err := syscall.Kill(th.status(t, "memory").PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		th.states.await(t, "memory", StateDown)
		th.states.await(t, "memory", StateUp)
		login(t, backend(t, th, "memory"), "s1", "alice")
	})

	t.Run("bad", func(t *testing.T) {
		bad := sha256.Sum256([]byte("another binary"))
		o := fastOptions(dir, memoryBackend())
		o.Pins = map[string][]byte{"memory": bad[:]}
		th := startHost(t, o)
		failed := th.states.await(t, "memory", StateFailed)
		if !errors.Is(failed.Err, ErrChecksumMismatch) {
			t.Errorf("failed with %v, want ErrChecksumMismatch", failed.Err)
		}
		st := th.status(t, "memory")
		if st.PID != 0 || st.Restarts != 0 || !strings.Contains(st.LastError, "sha256") {
			t.Errorf("status = %+v", st)
		}
		if n := th.states.count("memory", StateStarting); n != 1 {
			t.Errorf("%d start attempts, want 1 (a refused binary is not retried)", n)
		}
		if _, _, err := th.Backend("memory"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Backend = %v, want ErrUnavailable", err)
		}
	})
}

func TestCrashLoopTripsBreaker(t *testing.T) {
	dir := pluginDir(t)
	runs := filepath.Join(t.TempDir(), "runs")
	writeScript(t, dir, "parley-backend-dying", "echo run >> '"+runs+"'\necho 'dying at start' >&2\nexit 1\n")
	o := fastOptions(dir, map[string]BackendSpec{"dying": {}})
	o.Restart.MaxCrashes = 3
	th := startHost(t, o)

	failed := th.states.await(t, "dying", StateFailed)
	if !errors.Is(failed.Err, ErrCrashLoop) {
		t.Fatalf("failed with %v, want ErrCrashLoop", failed.Err)
	}
	if n := countLines(t, runs); n != 3 {
		t.Errorf("plugin ran %d times before the breaker tripped, want 3", n)
	}
	st := th.status(t, "dying")
	if st.State != StateFailed || st.Restarts != 2 || !strings.Contains(st.LastError, "crashing in a loop") {
		t.Errorf("status = %+v", st)
	}
	if _, _, err := th.Backend("dying"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Backend = %v, want ErrUnavailable", err)
	}
	th.log.waitFor(t, "about the failed plugin", func(e map[string]any) bool {
		return e["@level"] == "error" && strings.HasPrefix(e["@message"].(string), "plugin failed")
	})

	// Reload re-arms the breaker: three more runs, then failed again. Had
	// the supervisor kept restarting after tripping, there would be more.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := th.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	th.states.await(t, "dying", StateFailed)
	if n := countLines(t, runs); n != 6 {
		t.Errorf("plugin ran %d times in all, want 6", n)
	}
}

func TestHostileStderrDoesNotCrashHost(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-hostile")
	th := startHost(t, fastOptions(dir, map[string]BackendSpec{"hostile": {}}))
	c := backend(t, th, "hostile")
	if _, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "h", Login: "hostile"}); sdk.ReasonOf(err) != sdk.ReasonInvalidArgument {
		t.Fatalf("OpenSession(hostile) = %v", err)
	}
	th.log.waitFor(t, "hostile-done", message("hostile-done"))

	malformed := th.log.find(message("malformed plugin log line"))
	lines := map[string]bool{}
	for _, e := range malformed {
		if e["@level"] != "warn" || e["@module"] != "parleyd.plugins.hostile" {
			t.Errorf("malformed line logged as %v", e)
		}
		lines[e["line"].(string)] = true
	}
	for _, want := range []string{`{"@message": 42}`, `{"@message": "level is a list", "@level": ["error"]}`,
		`{"@message": null, "@level": "info"}`, `{"@level": "info"}`, `{"@message": "unterminated`} {
		if !lines[want] {
			t.Errorf("%s not logged as a malformed line", want)
		}
	}

	valid := th.log.waitFor(t, "valid line", message("valid line"))
	if valid["@level"] != "warn" || valid["nested"] != `{"a": [1, 2]}` || valid["n"] != "3" || valid["@caller"] != nil {
		t.Errorf("valid line logged as %v", valid)
	}
	if e := th.log.waitFor(t, "panic", message("panic: not really")); e["@level"] != "error" {
		t.Errorf("panic line logged at %v", e["@level"])
	}
	colour := th.log.waitFor(t, "with escapes", func(e map[string]any) bool {
		return strings.Contains(e["@message"].(string), "colour")
	})
	if m := colour["@message"].(string); strings.ContainsAny(m, "\x1b\a") || !strings.Contains(m, "\uFFFD[31mcolour") {
		t.Errorf("escape sequences not neutralised: %q", m)
	}
	long := th.log.waitFor(t, "long line", func(e map[string]any) bool {
		return strings.HasPrefix(e["@message"].(string), "AAAA")
	})
	if len(long["@message"].(string)) > 8<<10 || long["truncated"] != true {
		t.Errorf("200 KiB line logged with %d bytes, truncated=%v", len(long["@message"].(string)), long["truncated"])
	}
	th.log.waitFor(t, "stray stdout", func(e map[string]any) bool { return e["line"] == "stray stdout line" })

	// The host is alive (the test binary is the host) and the plugin
	// keeps answering.
	login(t, c, "s1", "alice")
	if st := th.status(t, "hostile"); st.State != StateUp || st.Restarts != 0 {
		t.Errorf("status after hostile lines = %+v", st)
	}
}

func TestPluginLogIsRateLimited(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-chatty")
	o := fastOptions(dir, map[string]BackendSpec{"chatty": {}})
	o.LogLimit = LogLimit{LinesPerSecond: 0.001, Burst: 50}
	th := startHost(t, o)
	c := backend(t, th, "chatty")
	if _, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "f", Login: "flood"}); sdk.ReasonOf(err) != sdk.ReasonInvalidArgument {
		t.Fatalf("OpenSession(flood) = %v", err)
	}
	// Shutdown waits for the plugin's stderr to be read to the end and
	// reports the dropped lines.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := th.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	flood := th.log.find(func(e map[string]any) bool { return strings.HasPrefix(e["@message"].(string), "flood line") })
	if len(flood) > 50 {
		t.Errorf("%d flood lines logged, want at most the burst of 50", len(flood))
	}
	dropped := 0.0
	for _, e := range th.log.find(message("plugin log lines dropped: too many lines")) {
		dropped += e["dropped"].(float64)
	}
	if dropped < 5001-50 {
		t.Errorf("%v lines reported dropped, want at least %d", dropped, 5001-50)
	}
	if v := th.metric(t, "parley_plugin_log_lines_dropped_total", map[string]string{"backend": "chatty"}); v != dropped {
		t.Errorf("parley_plugin_log_lines_dropped_total = %v, log says %v", v, dropped)
	}
}

func TestHangingCallIsCutByDeadline(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-slow")
	o := fastOptions(dir, map[string]BackendSpec{"slow": {}})
	o.CallTimeout = time.Second
	th := startHost(t, o)
	c := backend(t, th, "slow")

	begin := time.Now()
	_, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: "h", Login: "hang"})
	if sdk.ReasonOf(err) != sdk.ReasonTimeout {
		t.Fatalf("hanging call returned %v, want a timeout", err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("hanging call took %v with a 1s call timeout", took)
	}
	login(t, c, "s1", "alice")
	if v := th.metric(t, "parley_plugin_call_errors_total", map[string]string{"backend": "slow",
		"method": "/parley.backend.v1.Backend/OpenSession", "code": "DeadlineExceeded"}); v != 1 {
		t.Errorf("parley_plugin_call_errors_total{OpenSession,DeadlineExceeded} = %v, want 1", v)
	}
}

func TestStreamedCallMetrics(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-slow")
	o := fastOptions(dir, map[string]BackendSpec{"slow": {}})
	o.CallTimeout = time.Second
	th := startHost(t, o)
	c := backend(t, th, "slow")
	login(t, c, "s1", "alice")

	_, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s1", To: "bob", Text: "hang"})
	if sdk.ReasonOf(err) != sdk.ReasonTimeout {
		t.Fatalf("hanging SendMessage returned %v, want a timeout", err)
	}
	_, err = c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "nobody", To: "bob", Text: "hi"})
	if sdk.ReasonOf(err) != sdk.ReasonSessionNotFound {
		t.Fatalf("SendMessage of an unknown session returned %v, want session_not_found", err)
	}
	if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s1", To: "bob", Text: "hi"}); err != nil {
		t.Fatalf("SendMessage after the failures: %v", err)
	}
	for code, want := range map[string]float64{"DeadlineExceeded": 1, "NotFound": 1} {
		if v := th.metric(t, "parley_plugin_call_errors_total", map[string]string{"backend": "slow",
			"method": "/parley.backend.v1.Backend/SendMessage", "code": code}); v != want {
			t.Errorf("parley_plugin_call_errors_total{SendMessage,%s} = %v, want %v", code, v, want)
		}
	}
}

func TestCrashFailsStreamedCalls(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-crashy")
	th := startHost(t, fastOptions(dir, map[string]BackendSpec{"crashy": {}}))
	c := backend(t, th, "crashy")
	login(t, c, "s1", "alice")

	_, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s1", To: "bob", Text: "crash"})
	if sdk.ReasonOf(err) != sdk.ReasonBackendUnavailable {
		t.Fatalf("SendMessage that crashes the plugin returned %v, want backend_unavailable", err)
	}
	th.states.await(t, "crashy", StateDown)
	th.states.await(t, "crashy", StateUp)
	c = backend(t, th, "crashy")
	login(t, c, "s1", "alice")
	if _, err := c.SendMessage(context.Background(), sdk.OutgoingMessage{SessionID: "s1", To: "bob", Text: "hi"}); err != nil {
		t.Fatalf("SendMessage on the restarted plugin: %v", err)
	}
}

func TestUnhealthyPluginIsRestarted(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-wedged")
	o := fastOptions(dir, map[string]BackendSpec{"wedged": {}})
	o.HealthInterval = 50 * time.Millisecond
	o.HealthFailures = 2
	o.CallTimeout = time.Second
	th := startHost(t, o)
	oldPID := th.status(t, "wedged").PID
	if _, err := backend(t, th, "wedged").OpenSession(context.Background(), sdk.Credentials{SessionID: "w", Login: "wedge-health"}); sdk.ReasonOf(err) != sdk.ReasonInvalidArgument {
		t.Fatalf("OpenSession(wedge-health) = %v", err)
	}
	down := th.states.await(t, "wedged", StateDown)
	if !errors.Is(down.Err, ErrUnhealthy) {
		t.Errorf("down with %v, want ErrUnhealthy", down.Err)
	}
	th.states.await(t, "wedged", StateUp)
	st := th.status(t, "wedged")
	if st.PID == oldPID || st.Restarts != 1 {
		t.Errorf("status = %+v (old pid %d)", st, oldPID)
	}
	if !processGone(oldPID) {
		t.Errorf("wedged plugin %d still present", oldPID)
	}
}

func TestShutdownLeavesNoPluginProcess(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "parley-backend-memory", "parley-backend-memory")
	install(t, dir, "testplugin", "parley-backend-slow")
	o := fastOptions(dir, map[string]BackendSpec{"memory": {}, "slow": {}, "other-memory": {Plugin: "parley-backend-memory"}})
	o.CallTimeout = time.Hour
	th := startHost(t, o)
	var pids []int
	for _, st := range th.Status() {
		if st.State != StateUp || st.PID == 0 {
			t.Fatalf("status = %+v", st)
		}
		pids = append(pids, st.PID)
	}
	// A call stuck in the plugin must not keep it alive.
	slow := backend(t, th, "slow")
	go func() {
		_, _ = slow.OpenSession(context.Background(), sdk.Credentials{SessionID: "h", Login: "hang"})
	}()

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := th.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("plugin %d still runs after Shutdown", pid)
		}
	}
	for _, st := range th.Status() {
		if st.State != StateStopped || st.PID != 0 || th.states.count(st.Backend, StateStopped) != 1 {
			t.Errorf("after Shutdown: %+v, %d stopped notices", st, th.states.count(st.Backend, StateStopped))
		}
	}
	if _, _, err := th.Backend("memory"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Backend after Shutdown = %v, want ErrUnavailable", err)
	}
}

func TestGetInfoMustAgreeWithFileName(t *testing.T) {
	dir := pluginDir(t)
	// The memory plugin reports name "memory", version 1.0.0.
	install(t, dir, "parley-backend-memory", "parley-backend-other")
	install(t, dir, "parley-backend-memory", "parley-backend-memory_v9.9.9")
	th := startHost(t, fastOptions(dir, map[string]BackendSpec{"other": {}, "memory": {}}))
	for backend, want := range map[string]string{"other": `reports the name "memory"`, "memory": `reports the version "1.0.0"`} {
		failed := th.states.await(t, backend, StateFailed)
		if !errors.Is(failed.Err, ErrNameMismatch) || !strings.Contains(failed.Err.Error(), want) {
			t.Errorf("%s failed with %v, want ErrNameMismatch (%s)", backend, failed.Err, want)
		}
		if n := th.states.count(backend, StateStarting); n != 1 {
			t.Errorf("%s: %d start attempts, want 1", backend, n)
		}
	}
	th.log.waitFor(t, "refusing parley-backend-other", func(e map[string]any) bool {
		msg, _ := e["error"].(string)
		return e["@level"] == "error" && e["backend"] == "other" && strings.Contains(msg, "parley-backend-other")
	})
}

func TestReloadRunsNewBinary(t *testing.T) {
	dir := pluginDir(t)
	install(t, dir, "parley-backend-memory", "parley-backend-memory_v1.0.0")
	th := startHost(t, fastOptions(dir, memoryBackend()))
	th.states.await(t, "memory", StateUp)
	first := th.status(t, "memory")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	// Nothing changed: the running plugin stays.
	if err := th.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if st := th.status(t, "memory"); st.PID != first.PID || th.states.count("memory", StateUp) != 1 {
		t.Errorf("reload without changes restarted the plugin: %+v", st)
	}

	// testplugin takes name and version from its file name.
	install(t, dir, "testplugin", "parley-backend-memory_v1.1.0")
	if err := th.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	up := th.states.await(t, "memory", StateUp)
	st := th.status(t, "memory")
	if up.Info.Version != "1.1.0" || st.Version != "1.1.0" || st.PID == first.PID ||
		st.Path != filepath.Join(dir, "parley-backend-memory_v1.1.0") || st.Restarts != 0 {
		t.Errorf("after reload: %+v, info %+v", st, up.Info)
	}
	if !processGone(first.PID) {
		t.Errorf("old plugin %d still runs", first.PID)
	}
	login(t, backend(t, th, "memory"), "s1", "alice")
}

func TestPluginEnvironmentAndTempDir(t *testing.T) {
	t.Setenv("PARLEY_TEST_SECRET", "hunter2")
	dir := pluginDir(t)
	install(t, dir, "testplugin", "parley-backend-envy")
	data := t.TempDir()
	stale := filepath.Join(data, tempDirName, "envy", "plugin123456")
	leftover := filepath.Join(data, tempDirName, "removed-backend")
	for _, d := range []string{filepath.Dir(stale), leftover} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o := fastOptions(dir, map[string]BackendSpec{"envy": {}})
	o.DataDir = data
	o.LogLevel = "warn"
	th := startHost(t, o)

	for _, p := range []string{stale, leftover} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("stale %s survived Start: %v", p, err)
		}
	}
	tmp := filepath.Join(data, tempDirName, "envy")
	info, err := os.Stat(tmp)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("plugin temp dir: %v, %v", info, err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	sockets := 0
	for _, e := range entries {
		if e.Type()&fs.ModeSocket != 0 {
			sockets++
		}
	}
	if sockets != 1 {
		t.Errorf("%d sockets in the plugin's TMPDIR, want its one", sockets)
	}

	_, err = backend(t, th, "envy").OpenSession(context.Background(), sdk.Credentials{SessionID: "e", Login: "env"})
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("OpenSession(env) = %v", err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(e.Message, "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["TMPDIR"] != tmp || env[sdk.EnvLogLevel] != "warn" || env["PATH"] == "" {
		t.Errorf("plugin environment lacks what the host sets: %v", env)
	}
	if _, leaked := env["PARLEY_TEST_SECRET"]; leaked {
		t.Error("the gateway's environment leaked into the plugin")
	}
}

func TestBackendErrors(t *testing.T) {
	dir := pluginDir(t)
	th := startHost(t, fastOptions(dir, map[string]BackendSpec{"absent": {}}))
	if _, _, err := th.Backend("nosuch"); !errors.Is(err, ErrUnknownBackend) {
		t.Errorf("Backend(nosuch) = %v, want ErrUnknownBackend", err)
	}
	th.states.await(t, "absent", StateMissing)
	_, _, err := th.Backend("absent")
	var e *sdk.Error
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &e) || e.Reason != sdk.ReasonBackendUnavailable {
		t.Errorf("Backend(absent) = %v, want ErrUnavailable carrying backend_unavailable", err)
	}
	if !strings.Contains(err.Error(), "parley-backend-absent") {
		t.Errorf("error does not name the missing binary: %v", err)
	}

	// Installing the binary and reloading brings it up.
	install(t, dir, "testplugin", "parley-backend-absent")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := th.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if st := th.status(t, "absent"); st.State != StateUp {
		t.Errorf("after reload: %+v", st)
	}
}

func TestMissingPluginDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	th := startHost(t, fastOptions(dir, memoryBackend()))
	if st := th.status(t, "memory"); st.State != StateMissing {
		t.Errorf("status = %+v, want missing", st)
	}
	th.log.waitFor(t, "about the missing dir", func(e map[string]any) bool {
		return e["@message"] == "plugin dir does not exist" && e["dir"] == dir
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := th.Reload(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload = %v, want ErrNotExist", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	install(t, dir, "parley-backend-memory", "parley-backend-memory")
	if err := th.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if st := th.status(t, "memory"); st.State != StateUp {
		t.Errorf("after creating the dir and reloading: %+v", st)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no dir":           {},
		"backend name":     {Dir: "/x", Backends: map[string]BackendSpec{"Bad Name": {}}},
		"plugin name":      {Dir: "/x", Backends: map[string]BackendSpec{"b": {Plugin: "x_y"}}},
		"pin length":       {Dir: "/x", Pins: map[string][]byte{"memory": {1, 2, 3}}},
		"plugin log level": {Dir: "/x", LogLevel: "loud"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
}

func TestTempDirTooLongForSockets(t *testing.T) {
	o := fastOptions(pluginDir(t), memoryBackend())
	o.DataDir = filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	if err := h.Start(context.Background()); !errors.Is(err, ErrTempDir) {
		t.Errorf("Start = %v, want ErrTempDir", err)
	}
}
