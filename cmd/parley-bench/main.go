// Command parley-bench loads a real parleyd, its real backend plugins and
// the fake IM servers with simulated devices on loopback, and measures
// what docs/performance.md reports: relay throughput and latency beside
// the same traffic sent straight to the IM server, memory per idle
// session, resume against a full login, a reconnect storm, file relay
// through a plugin, and bytes on the wire for a login. After the figures
// it judges issue 7's targets from what the run measured, each beside its
// baseline from the same run.
//
//	make build
//	bin/parley-bench -json out.json             # every scenario, every target once (under 15 minutes on 2 cores)
//	bin/parley-bench -scenario relay            # one scenario
//	bin/parley-bench -short                     # what make bench runs (about half a minute)
//
// Every scenario starts its own processes from -bin (parleyd, the plugins
// in -bin/plugins, parley-fake-groupwise), bounds its load in count and
// time, and stops everything it started. Nothing leaves the machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	binDir    string
	scenarios []string
	verbose   io.Writer
	relay     relayOptions
	idle      idleOptions
	resume    resumeOptions
	storm     stormOptions
	file      fileOptions
	wire      wireOptions
	perf      *profiler
}

func (o options) logf(format string, args ...any) {
	fmt.Fprintf(o.verbose, "parley-bench: "+format+"\n", args...)
}

var allScenarios = []string{"relay", "idle", "resume", "storm", "file", "wire"}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o         options
		scenario  = fs.String("scenario", "all", "scenarios to run, comma-separated: "+strings.Join(allScenarios, ", ")+", or all")
		short     = fs.Bool("short", false, "the short run of make bench: relay (20 pairs, max and half of it), resume, wire (about a minute)")
		jsonOut   = fs.String("json", "", "also write the figures as JSON to this file (- for stdout; the table then goes to stderr)")
		quiet     = fs.Bool("q", false, "no progress lines")
		backends  = fs.String("backends", "memory,groupwise", "relay: backends to measure")
		loads     = fs.String("loads", "max,half,10000", "relay: offered loads in messages/s; max is a closed loop, half is half of what max measured through parleyd")
		idleSizes = fs.String("idle-sessions", "5000,10000,50000,100000", "idle: attached idle sessions at which memory is measured, comma-separated; the first is the reference the others grow from; sizes the descriptor limits do not allow are lowered to what they allow")
		held      = fs.Int("held-sessions", 100000, "idle: sessions to hold in the cache with their links dropped (0: skip)")
	)
	perfDir := fs.String("perf-dir", "", "record perf CPU profiles of parleyd and its plugins during the measured phases into this directory")
	fs.StringVar(&o.binDir, "bin", "bin", "directory with parleyd, parley-fake-* and plugins/")
	fs.IntVar(&o.relay.pairs, "pairs", 100, "relay: device pairs per path")
	fs.DurationVar(&o.relay.duration, "duration", 5*time.Second, "relay: how long each load is offered")
	fs.IntVar(&o.relay.inflight, "inflight", 8, "relay: concurrent sends per sender device")
	fs.IntVar(&loginConcurrency, "login-concurrency", loginConcurrency, "idle, storm: logins in flight while sessions are set up")
	fs.StringVar(&gatewayLogLevel, "gateway-log-level", gatewayLogLevel, "parleyd's log level: info, debug or trace (failures print the end of its log)")
	fs.StringVar(&gatewayGOGC, "gateway-gogc", gatewayGOGC, "GOGC for parleyd, as conf/parleyd.service sets it (empty: Go's default)")
	fs.IntVar(&o.idle.groupwise, "idle-groupwise", 1000, "idle: sessions on the GroupWise backend, with an IM connection each (0: skip)")
	fs.IntVar(&o.resume.rounds, "resume-rounds", 200, "resume: full logins and resumes timed, each")
	fs.DurationVar(&o.resume.imRTT, "im-rtt", 50*time.Millisecond, "resume: round-trip time added between the GroupWise plugin and the fake server (0: none)")
	fs.IntVar(&o.storm.devices, "storm-devices", 10000, "storm: devices that resume at once")
	fs.Int64Var(&o.file.t8Size, "file-t8-size", 5_000_000, "file: bytes of the short single transfer T8 names, run 5 times (0: skip it)")
	fs.Int64Var(&o.file.size, "file-size", 256<<20, "file: bytes of the long single transfer")
	fs.IntVar(&o.file.concurrent, "file-concurrent", 20, "file: concurrent transfers in the second run")
	fs.Int64Var(&o.file.concurrentSize, "file-concurrent-size", 16<<20, "file: bytes of each concurrent transfer")
	fs.IntVar(&o.wire.contacts, "contacts", 200, "wire: contacts on the login's contact list")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if abs, err := filepath.Abs(o.binDir); err == nil {
		o.binDir = abs
	}
	o.verbose = stderr
	if *quiet {
		o.verbose = io.Discard
	}
	o.scenarios = strings.Split(*scenario, ",")
	if *scenario == "all" {
		o.scenarios = allScenarios
	}
	o.relay.backends = strings.Split(*backends, ",")
	var err error
	if o.relay.loads, err = parseLoads(*loads); err != nil {
		fmt.Fprintln(stderr, "parley-bench: -loads:", err)
		return 2
	}
	if o.idle.sizes, err = parseInts(*idleSizes); err != nil {
		fmt.Fprintln(stderr, "parley-bench: -idle-sessions:", err)
		return 2
	}
	o.idle.held = *held
	o.perf = &profiler{dir: *perfDir}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if *short {
		if !explicit["scenario"] {
			o.scenarios = []string{"relay", "resume", "wire"}
		}
		if !explicit["loads"] {
			o.relay.loads = []float64{0, halfLoad}
		}
		o.relay.pairs = 20
		o.relay.duration = 3 * time.Second
		o.resume.rounds = 50
		o.resume.imRTT = 0
	}
	for _, s := range o.scenarios {
		if !validScenario(s) {
			fmt.Fprintf(stderr, "parley-bench: unknown scenario %q (want %s or all)\n", s, strings.Join(allScenarios, ", "))
			return 2
		}
	}
	for _, exe := range []string{"parleyd", "parley-fake-groupwise", "plugins/parley-backend-memory", "plugins/parley-backend-groupwise"} {
		if _, err := os.Stat(o.binDir + "/" + exe); err != nil {
			fmt.Fprintf(stderr, "parley-bench: %v (run make build first, or pass -bin)\n", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep := &report{Started: time.Now().UTC(), Host: host()}
	failed := false
	for _, s := range o.scenarios {
		o.logf("scenario %s (load average %.2f)", s, loadAvg())
		if err := runScenario(ctx, s, o, rep); err != nil {
			failed = true
			rep.problem("%s: %v", s, err)
			o.logf("%s failed: %v", s, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.Targets = targets(rep.Measured)
	rep.Elapsed = time.Since(rep.Started).Seconds()
	table := stdout
	if *jsonOut == "-" {
		table = stderr
	}
	rep.writeTable(table)
	if *jsonOut != "" {
		out := stdout
		if *jsonOut != "-" {
			f, err := os.Create(*jsonOut)
			if err != nil {
				fmt.Fprintln(stderr, "parley-bench:", err)
				return 1
			}
			defer f.Close()
			out = f
		}
		if err := rep.writeJSON(out); err != nil {
			fmt.Fprintln(stderr, "parley-bench:", err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

func validScenario(s string) bool {
	for _, a := range allScenarios {
		if s == a {
			return true
		}
	}
	return false
}

func runScenario(ctx context.Context, name string, o options, rep *report) error {
	switch name {
	case "relay":
		return scenarioRelay(ctx, o, rep)
	case "idle":
		return scenarioIdle(ctx, o, rep)
	case "resume":
		return scenarioResume(ctx, o, rep)
	case "storm":
		return scenarioStorm(ctx, o, rep)
	case "file":
		return scenarioFile(ctx, o, rep)
	case "wire":
		return scenarioWire(ctx, o, rep)
	}
	return fmt.Errorf("unknown scenario %q", name)
}

var (
	errBadList       = errors.New("not a comma-separated list of numbers")
	errHalfBeforeMax = errors.New("needs max earlier in the list: it is half of the throughput max measures")
)

// halfLoad stands for "half" in the relay loads: half of the closed-loop
// throughput measured through parleyd earlier in the same run.
const halfLoad = -1

func parseLoads(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); f {
		case "max":
			out = append(out, 0)
			continue
		case "half":
			if !slices.Contains(out, 0) {
				return nil, fmt.Errorf("half: %w", errHalfBeforeMax)
			}
			out = append(out, halfLoad)
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: %w", f, errBadList)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: %w", f, errBadList)
		}
		out = append(out, v)
	}
	return out, nil
}

func host() hostInfo {
	h := hostInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), NoFile: noFileLimit()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}

func noFileLimit() uint64 {
	var l syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}
