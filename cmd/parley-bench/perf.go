package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profiler records CPU profiles of the gateway's processes with perf
// while a scenario's measured phase runs (-perf-dir). parleyd has no pprof
// endpoint; perf needs none and sees the plugins and the kernel too.
type profiler struct {
	dir string
}

// perfRun is one running perf record.
type perfRun struct {
	cmd  *exec.Cmd
	file string
}

// start profiles pids into dir/name.perf.data until stop; nil when
// profiling is off or perf cannot start (the run goes on without it).
func (p *profiler) start(o options, name string, pids ...int) *perfRun {
	if p == nil || p.dir == "" {
		return nil
	}
	var list []string
	for _, pid := range pids {
		if pid > 0 {
			list = append(list, strconv.Itoa(pid))
		}
	}
	file := filepath.Join(p.dir, name+".perf.data")
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-o", file, "-p", strings.Join(list, ","))
	if err := cmd.Start(); err != nil {
		o.logf("perf: %v (profiling skipped)", err)
		return nil
	}
	return &perfRun{cmd: cmd, file: file}
}

// stop ends the recording and says where it is.
func (r *perfRun) stop(o options) {
	if r == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	o.logf("profile: %s (perf report -i %s --no-children --sort dso,sym)", r.file, r.file)
}
