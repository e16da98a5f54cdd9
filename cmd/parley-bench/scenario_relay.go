package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// relayOptions shape the relay scenario.
type relayOptions struct {
	backends []string  // memory, groupwise
	pairs    int       // sender/receiver device pairs per path
	loads    []float64 // offered msgs/s; 0 is closed loop ("max")
	duration time.Duration
	inflight int // concurrent sends per sender device
}

// Targets (issue 7), for a 2-core machine.
const (
	targetRelayRate   = 20000 // chat messages/s end to end
	targetAddedP50    = 0.3   // ms at half load
	targetAddedP99    = 2.0   // ms at half load
	targetResumeRatio = 0.20  // resume time / full login time
	targetStorm       = 10 * time.Second
	targetFileRate    = 100 // MB/s
	targetFileBuffer  = 256 << 10
	targetIdleGateway = 24 << 10
	targetIdleTotal   = 64 << 10
	targetSessions    = 100000
	targetWireRatio   = 0.5
)

func scenarioRelay(ctx context.Context, o options, rep *report) error {
	ro := o.relay
	work, err := os.MkdirTemp("", "parley-bench-relay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var spec gatewaySpec
	var fake *fakeGroupWise
	var memUsers, gwUsers []imUser
	for i := range ro.pairs {
		for _, prefix := range []string{"m", "g", "d"} {
			a, b := pairNames(prefix, i)
			switch prefix {
			case "m":
				memUsers = append(memUsers, imUser{ID: a, Password: password, Contacts: []string{}}, imUser{ID: b, Password: password, Contacts: []string{}})
			default:
				gwUsers = append(gwUsers, imUser{ID: a, Password: password, Contacts: []string{}}, imUser{ID: b, Password: password, Contacts: []string{}})
				if prefix == "g" {
					spec.gwUsers = append(spec.gwUsers, a, b)
				}
			}
		}
	}
	if slices.Contains(ro.backends, "memory") {
		spec.memoryUsers = memUsers
	}
	if slices.Contains(ro.backends, "groupwise") {
		if fake, err = startFakeGroupWise(ctx, o.binDir, work, gwUsers); err != nil {
			return err
		}
		defer fake.stop(5 * time.Second)
		spec.groupwise = fake
	} else {
		spec.gwUsers = nil
	}
	g, err := startGateway(ctx, o.binDir, work, "gateway", spec)
	if err != nil {
		return err
	}
	defer g.stop()

	tr := &tracker{}
	for _, backend := range ro.backends {
		var gwPath, direct relayPath
		procs := []namedPID{{"parleyd", g.PID()}}
		switch backend {
		case "memory":
			gp, err := newGatewayRelay(ctx, "memory via parleyd", g, "m", ro.pairs, tr)
			if err != nil {
				return g.failure("relay memory", err)
			}
			dp, err := newPluginRelay(ctx, o.binDir, work, memUsers, "m", ro.pairs, tr)
			if err != nil {
				gp.close()
				return fmt.Errorf("relay memory baseline: %w", err)
			}
			gwPath, direct = gp, dp
			procs = append(procs, namedPID{"plugin", g.plugin("parley-backend-memory")}, namedPID{"direct plugin", dp.pid})
		case "groupwise":
			gp, err := newGatewayRelay(ctx, "groupwise via parleyd", g, "g", ro.pairs, tr)
			if err != nil {
				return g.failure("relay groupwise", err)
			}
			dp, err := newGWDirectRelay(ctx, fake, "d", ro.pairs, tr)
			if err != nil {
				gp.close()
				return fmt.Errorf("relay groupwise baseline: %w", err)
			}
			gwPath, direct = gp, dp
			procs = append(procs, namedPID{"plugin", g.plugin("parley-backend-groupwise")}, namedPID{"fake server", fake.PID()})
		default:
			return fmt.Errorf("relay: unknown backend %q", backend)
		}
		procs = append(procs, namedPID{"bench", os.Getpid()})
		runRelayBackend(ctx, o, rep, tr, backend, gwPath, direct, procs)
		gwPath.close()
		direct.close()
	}
	return nil
}

// perProcess lists each process's share of a per-message CPU cost.
func perProcess(procs []namedPID, per []time.Duration) string {
	var parts []string
	for i, p := range procs {
		if per[i] > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f us", p.name, float64(per[i])/1e3))
		}
	}
	return strings.Join(parts, ", ")
}

func runRelayBackend(ctx context.Context, o options, rep *report, tr *tracker, backend string, gwPath, direct relayPath, procs []namedPID) {
	ro := o.relay
	// Warm up both paths (and learn the conversations) before measuring.
	for _, p := range []relayPath{direct, gwPath} {
		r := runStep(ctx, tr, p, ro.pairs, "w"+backend+" ", 2000, 500*time.Millisecond, 1, procs)
		if r.delivered == 0 {
			rep.problem("relay %s warm-up on %s: nothing delivered: %s", backend, p.label(), r.lossNote())
		}
		o.logf("warm-up %s: %d/%d delivered, %s", p.label(), r.delivered, r.sent, r.lat.summary())
	}
	scen := "relay " + backend
	var maxThroughput float64 // closed loop through parleyd, for "half"
	for si, load := range ro.loads {
		halfOfMax, halfOf := load == halfLoad, 0.0
		if halfOfMax {
			if maxThroughput == 0 {
				rep.problem("relay %s: half load: the closed loop delivered nothing to take half of", backend)
				continue
			}
			load, halfOf = math.Round(maxThroughput/2), maxThroughput
		}
		loadName := "max"
		if load > 0 {
			loadName = strconv.Itoa(int(load)) + "/s"
		}
		var res [2]stepResult
		for pi, p := range []relayPath{direct, gwPath} {
			if ctx.Err() != nil {
				return
			}
			tag := fmt.Sprintf("s%d%d ", si, pi)
			var prof *perfRun
			if p == gwPath {
				prof = o.perf.start(o, fmt.Sprintf("relay-%s-%s", backend, strings.TrimSuffix(loadName, "/s")), procs[0].pid, procs[1].pid)
			}
			res[pi] = runStep(ctx, tr, p, ro.pairs, tag, load, ro.duration, ro.inflight, procs)
			prof.stop(o)
			o.logf("%s %s: %.0f msgs/s, %s; %s %s", p.label(), loadName, res[pi].throughput, res[pi].lat.summary(), res[pi].cpu, res[pi].lossNote())
		}
		d, gw := res[0], res[1]
		if load == 0 {
			maxThroughput = max(maxThroughput, gw.throughput)
		}
		if halfOfMax {
			loadName += " (half of max)"
		}
		rep.Measured.Relay = append(rep.Measured.Relay, relayLevel{Backend: backend, Offered: load, HalfOf: halfOf,
			Throughput: gw.throughput, DirectThroughput: d.throughput,
			P50: ms(gw.lat.pct(0.5)), P99: ms(gw.lat.pct(0.99)), DirectP50: ms(d.lat.pct(0.5)), DirectP99: ms(d.lat.pct(0.99)),
			GatewayCPU: gw.cpuUS(0, 1), DevicesCPU: gw.cpuUS(len(procs) - 1), DirectCPU: float64(d.cpuPerMessage()) / 1e3,
			Lost: gw.sent - gw.delivered, Load: loadAvg()})
		note := gw.cpu
		if loss := gw.lossNote(); loss != "" {
			note += "; gateway: " + loss
		}
		if loss := d.lossNote(); loss != "" {
			note += "; baseline: " + loss
		}
		tput := figure{Scenario: scen, Name: "throughput at " + loadName, Value: gw.throughput, Unit: "msg/s",
			Baseline: ptr(d.throughput), BaselineName: direct.label(), Note: note}
		if load == 0 || load >= targetRelayRate {
			tput.Target = fmt.Sprintf(">= %d msg/s", targetRelayRate)
			tput.Met = atLeast(gw.throughput, targetRelayRate)
		}
		rep.add(tput)
		if len(gw.cpuPerMsg) > 0 && len(d.cpuPerMsg) > 0 {
			rep.add(figure{Scenario: scen, Name: "CPU per message at " + loadName, Value: float64(gw.cpuPerMessage()) / 1e3, Unit: "us",
				Baseline: ptr(float64(d.cpuPerMessage()) / 1e3), BaselineName: direct.label(),
				Note: "all processes of the path (" + perProcess(procs, gw.cpuPerMsg) + "); the machine is shared, so throughput follows the CPU left to us, CPU per message much less"})
			rep.add(figure{Scenario: scen, Name: "CPU per message, parleyd + plugin, at " + loadName, Value: gw.cpuUS(0, 1), Unit: "us",
				Note: fmt.Sprintf("the gateway's processes only; the simulated devices (this process) used %.0f us per message besides", gw.cpuUS(len(procs)-1))})
		}
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.5}, {"p99", 0.99}, {"p99.9", 0.999}} {
			rep.add(figure{Scenario: scen, Name: fmt.Sprintf("latency %s at %s", q.name, loadName), Value: ms(gw.lat.pct(q.q)), Unit: "ms",
				Baseline: ptr(ms(d.lat.pct(q.q))), BaselineName: direct.label()})
		}
		if load > 0 && (load <= halfTargetLoad || halfOfMax) {
			// What the gateway adds to the direct path; judged at half
			// the target rate, shown below it for the floor.
			added50 := ms(gw.lat.pct(0.5)) - ms(d.lat.pct(0.5))
			added99 := ms(gw.lat.pct(0.99)) - ms(d.lat.pct(0.99))
			f50 := figure{Scenario: scen, Name: "added latency p50 at " + loadName, Value: added50, Unit: "ms"}
			f99 := figure{Scenario: scen, Name: "added latency p99 at " + loadName, Value: added99, Unit: "ms"}
			if load == halfTargetLoad || halfOfMax {
				f50.Target, f50.Met = fmt.Sprintf("<= %.1f ms", targetAddedP50), atMost(added50, targetAddedP50)
				f99.Target, f99.Met = fmt.Sprintf("<= %.0f ms", targetAddedP99), atMost(added99, targetAddedP99)
			}
			rep.add(f50)
			rep.add(f99)
		}
	}
}
