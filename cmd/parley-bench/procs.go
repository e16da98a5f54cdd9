package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// forks carries the commands to start to the forking goroutine.
var forks = make(chan forkRequest)

type forkRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// Children get Pdeathsig, which Linux ties to the thread that forked them,
// not the process (golang/go#27505): a child forked on a thread that
// another goroutine later locks and retires (the plugin host's
// supervisors do that when the bench stops a baseline plugin) would be
// killed with it. Every child is therefore forked from one goroutine that
// holds its thread for as long as the bench runs.
func init() {
	go func() {
		runtime.LockOSThread()
		for r := range forks {
			r.done <- r.cmd.Start()
		}
	}()
}

func forkStart(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	forks <- forkRequest{cmd: cmd, done: done}
	return <-done
}

// errExited reports a child process that ended before it was ready.
var errExited = errors.New("process exited")

// proc is a child process whose stderr is kept for readiness checks and
// for the report when something fails.
type proc struct {
	name string
	cmd  *exec.Cmd

	mu     sync.Mutex
	log    strings.Builder
	logCap int
	more   chan struct{} // signalled on every line
	exited bool
}

// startProc runs bin with args; its stderr (and stdout) are captured.
func startProc(name, bin string, args []string, env []string) (*proc, error) {
	p := &proc{name: name, more: make(chan struct{}, 1), logCap: 1 << 20}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	// Own process group, so a stop also reaches the plugins parleyd runs.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := forkStart(p.cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go p.readLog(out)
	return p, nil
}

func (p *proc) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		if p.log.Len() > p.logCap {
			// Keep the newest half: the end of the log explains failures.
			kept := p.log.String()[p.log.Len()/2:]
			p.log.Reset()
			p.log.WriteString(kept)
		}
		p.log.WriteString(sc.Text())
		p.log.WriteByte('\n')
		p.mu.Unlock()
		p.signal()
	}
	if err := sc.Err(); err != nil {
		// Keep draining, so the process never blocks writing its log.
		p.mu.Lock()
		fmt.Fprintf(&p.log, "parley-bench: reading the log: %v\n", err)
		p.mu.Unlock()
		io.Copy(io.Discard, r)
	}
	p.mu.Lock()
	p.exited = true
	p.mu.Unlock()
	p.signal()
}

func (p *proc) signal() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// Log returns what the process wrote lately (the last 0.5 to 1 MiB).
func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits until a log line matches re and returns the submatches.
func (p *proc) waitLog(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	for {
		if m := re.FindStringSubmatch(p.Log()); m != nil {
			return m, nil
		}
		p.mu.Lock()
		exited := p.exited
		p.mu.Unlock()
		if exited {
			return nil, fmt.Errorf("%s: %w before logging %s; log:\n%s", p.name, errExited, re, tail(p.Log(), 40))
		}
		select {
		case <-p.more:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s never logged %s: %w; log:\n%s", p.name, re, ctx.Err(), tail(p.Log(), 40))
		}
	}
}

// PID is the process id.
func (p *proc) PID() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to grace, then kills the process group.
func (p *proc) stop(grace time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// procStatus reads a "Name: value kB" field of /proc/PID/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// rss is the resident set size of pid in bytes (0 if unreadable).
func rss(pid int) int64 {
	v, _ := procStatus(pid, "VmRSS")
	return v
}

// resetPeakRSS makes VmHWM start again from the current RSS.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
const clockTicks = 100

// cpuTime is the user+system CPU time pid has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// childrenByExe finds the children of parent whose executable's name is
// exe.
func childrenByExe(parent int, exe string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		if path, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); filepath.Base(path) == exe {
			pids = append(pids, pid)
		}
	}
	return pids
}

// loadAvg is the 1-minute load average, or -1 when unreadable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		return -1
	}
	return v
}
