package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/core/frame"
)

// idleOptions shape the idle scenario.
type idleOptions struct {
	sizes     []int // attached idle sessions at which memory is measured
	held      int   // sessions held in the cache with their links dropped
	groupwise int   // idle sessions on the GroupWise backend (plugin with an upstream TLS connection each)
}

// loginConcurrency bounds the logins in flight while sessions are set up.
var loginConcurrency = 64

// devicesPerSourceIP keeps each 127.0.0.x source address well inside the
// ephemeral port range.
const devicesPerSourceIP = 20000

// sourceAddr spreads devices over 127.0.0.2, 127.0.0.3, …
func sourceAddr(i int) net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i/devicesPerSourceIP))}
}

// memSample is the memory of the gateway and its plugin at one moment.
type memSample struct {
	sessions        int
	gatewayRSS      int64
	pluginRSS       int64
	heap, stack, gr float64
}

// sampleMemory reads the memory figures three times a second apart and
// keeps the median of each, so one sample taken just before or after a
// garbage collection does not decide the result.
func sampleMemory(ctx context.Context, g *gateway, plugin string, sessions int) (memSample, error) {
	var samples []memSample
	for i := range 3 {
		if i > 0 {
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return memSample{}, ctx.Err()
			}
		}
		st, err := scrapeGoStats(ctx, g.metricsAddr)
		if err != nil {
			return memSample{}, err
		}
		samples = append(samples, memSample{sessions: sessions, gatewayRSS: rss(g.PID()), pluginRSS: g.pluginRSS(plugin),
			heap: st.heapInuse, stack: st.stackInuse, gr: st.goroutines})
	}
	med := func(f func(memSample) float64) float64 {
		v := []float64{f(samples[0]), f(samples[1]), f(samples[2])}
		slices.Sort(v)
		return v[1]
	}
	return memSample{sessions: sessions,
		gatewayRSS: int64(med(func(m memSample) float64 { return float64(m.gatewayRSS) })),
		pluginRSS:  int64(med(func(m memSample) float64 { return float64(m.pluginRSS) })),
		heap:       med(func(m memSample) float64 { return m.heap }),
		stack:      med(func(m memSample) float64 { return m.stack }),
		gr:         med(func(m memSample) float64 { return m.gr })}, nil
}

// settle waits for the gateway to finish what logins left behind (log
// lines, persisted sessions) before memory is read.
func settle(ctx context.Context) {
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
	}
}

// loginDevices logs in users[from:to] from new devices, loginConcurrency
// at a time, keeping the links open when keep is set. It returns the
// logins per second and how many succeeded; after the first failure it
// starts no more logins. Kept devices are stored in devs. A long fill
// reports its progress to logf every progressEvery.
func loginDevices(ctx context.Context, g *gateway, users []imUser, from, to int, keep bool, devs []*device, logf func(string, ...any)) (float64, int, error) {
	sem := make(chan struct{}, loginConcurrency)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	var ok atomic.Int64
	t0 := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				n := ok.Load()
				logf("logins: %d of %d done (%.0f/s)", from+int(n), to, float64(n)/time.Since(t0).Seconds())
			}
		}
	}()
	for i := from; i < to && firstErr.Load() == nil && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			d, err := dialDevice(dctx, g.addr, g.tls, sourceAddr(i), users[i].ID+"-idle", frame.Limits{})
			if err == nil {
				_, err = d.login(users[i].ID)
				if err != nil {
					d.Close()
				}
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			ok.Add(1)
			if keep {
				devs[i] = d
			} else {
				d.Close()
			}
		}()
	}
	wg.Wait()
	rate := float64(ok.Load()) / time.Since(t0).Seconds()
	if e := firstErr.Load(); e != nil {
		return rate, int(ok.Load()), *e
	}
	return rate, int(ok.Load()), ctx.Err()
}

// progressEvery is how often a long login fill says how far it got.
const progressEvery = 20 * time.Second

// idleShard is the most users one memory backend of the idle scenario
// holds (see gatewaySpec.memoryShard).
const idleShard = 10000

func scenarioIdle(ctx context.Context, o options, rep *report) error {
	opt := o.idle
	sizes := slices.Clone(opt.sizes)
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	wanted := sizes[len(sizes)-1]
	own := raiseNoFile(uint64(wanted + fdReserve))
	total := max(wanted, opt.held)

	work, err := os.MkdirTemp("", "parley-bench-idle-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	users := numbered("u", total)
	t0 := time.Now()
	g, err := startGateway(ctx, o.binDir, work, "gateway", gatewaySpec{memoryUsers: users, memoryShard: idleShard, heartbeat: 10 * time.Minute, idleTimeout: time.Hour})
	if err != nil {
		return err
	}
	defer g.stop()
	const plugin = "parley-backend-memory"
	shards := len(g.plugins[plugin])
	o.logf("idle: parleyd up with %d users on %d memory plugin processes in %v (configuration database %v)",
		total, shards, time.Since(t0).Round(time.Millisecond), g.setupTime.Round(time.Millisecond))
	gwLimit := raiseChildNoFile(g.PID(), uint64(wanted+fdReserve))
	capacity := sessionCapacity(own, gwLimit)
	o.logf("idle: RLIMIT_NOFILE %d here, %d in parleyd: room for %d attached sessions", own, gwLimit, capacity)
	short := func(requested, reached int, why string) {
		rep.Measured.Limits = append(rep.Measured.Limits, sizeShortage{Scenario: "idle attached", Requested: requested, Reached: reached, Why: why})
	}
	var plan []int
	for _, n := range sizes {
		if n > capacity {
			why := fmt.Sprintf("each attached session takes a descriptor here and one in parleyd; %s", noFileWhy(min(own, gwLimit)))
			rep.problem("idle: %d attached sessions: %s: measuring %d", n, why, capacity)
			short(n, capacity, why)
			n = capacity
		}
		plan = append(plan, n)
	}
	plan = slices.Compact(plan)

	settle(ctx)
	base, err := sampleMemory(ctx, g, plugin, 0)
	if err != nil {
		return err
	}
	devs := make([]*device, total)
	defer func() {
		for _, d := range devs {
			if d != nil {
				d.Close()
			}
		}
	}()
	prev, next, attached := base, 0, 0
	for _, n := range plan {
		prof := o.perf.start(o, fmt.Sprintf("idle-login-%d", n), g.PID(), g.plugin(plugin))
		from := next
		rate, ok, err := loginDevices(ctx, g, users, from, n, true, devs, o.logf)
		prof.stop(o)
		next, attached = n, attached+ok
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Measure what was reached rather than nothing.
			rep.problem("idle: logging in devices %d..%d: %v: %d attached sessions reached", from, n, err, attached)
			short(n, attached, err.Error())
		}
		if attached == prev.sessions {
			break
		}
		settle(ctx)
		s, serr := sampleMemory(ctx, g, plugin, attached)
		if serr != nil {
			return serr
		}
		o.logf("idle: %d attached sessions: parleyd RSS %d MB, plugin RSS %d MB, heap %.0f MB, stack %.0f MB, %0.f goroutines (%.0f logins/s)",
			attached, s.gatewayRSS>>20, s.pluginRSS>>20, s.heap/1e6, s.stack/1e6, s.gr, rate)
		// The first size is the reference the next ones grow from: an
		// empty gateway still holds the garbage of parsing a large
		// configuration, which the first sessions' memory reuses.
		if prev != base || len(plan) == 1 {
			reportIdle(rep, fmt.Sprintf("idle %d attached", attached), base, prev, s, rate, shards)
		}
		prev = s
		if err != nil {
			break
		}
	}
	held := &heldSessions{Attached: attached, Load: loadAvg()}
	rep.Measured.Held = held
	if opt.held > next {
		// Devices drop their links; the sessions wait in the cache for
		// them, as phones that went to the background do.
		for i, d := range devs {
			if d != nil {
				d.Close()
				devs[i] = nil
			}
		}
		// parleyd has as many descriptors as the attached sessions had
		// until it notices the drops; new logins must not run it out.
		if err := waitDescriptors(ctx, g.PID(), 1000); err != nil {
			return err
		}
		settle(ctx)
		dropped, err := sampleMemory(ctx, g, plugin, attached)
		if err != nil {
			return err
		}
		rate, ok, err := loginDevices(ctx, g, users, next, opt.held, false, nil, o.logf)
		held.Cached, held.Load = attached+ok, loadAvg()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.problem("idle: logging in sessions %d..%d: %v: %d sessions held", next, opt.held, err, held.Cached)
			rep.Measured.Limits = append(rep.Measured.Limits, sizeShortage{Scenario: "idle held", Requested: opt.held, Reached: held.Cached, Why: err.Error()})
		}
		settle(ctx)
		s, err := sampleMemory(ctx, g, plugin, held.Cached)
		if err != nil {
			return err
		}
		o.logf("idle: %d sessions held, links dropped: parleyd RSS %d MB, plugin RSS %d MB, heap %.0f MB, %.0f goroutines (%.0f logins/s)",
			held.Cached, s.gatewayRSS>>20, s.pluginRSS>>20, s.heap/1e6, s.gr, rate)
		sessionsHeld := float64(held.Cached)
		rep.add(figure{Scenario: "idle", Name: "sessions held (links dropped)", Value: sessionsHeld, Unit: "sessions",
			Target: fmt.Sprintf(">= %d", targetSessions), Met: atLeast(sessionsHeld, targetSessions),
			Note: fmt.Sprintf("parleyd RSS %d MB, plugin RSS %d MB (%d processes), %.0f logins/s while filling", s.gatewayRSS>>20, s.pluginRSS>>20, shards, rate)})
		// Growth from the sessions left when the attached links dropped
		// (their garbage collected by then) to the full cache.
		if added := float64(held.Cached - attached); added > 0 {
			note := fmt.Sprintf("growth from %d to %d held sessions; upper bound, all of parleyd's RSS over all sessions: %.1f KB",
				attached, held.Cached, float64(s.gatewayRSS)/sessionsHeld/1024)
			rep.add(figure{Scenario: "idle", Name: "parleyd RSS per held session (no link)", Value: float64(s.gatewayRSS-dropped.gatewayRSS) / added / 1024, Unit: "KB", Note: note})
			rep.add(figure{Scenario: "idle", Name: "plugin RSS per held session", Value: float64(s.pluginRSS-dropped.pluginRSS) / added / 1024, Unit: "KB"})
		}
	}
	if opt.groupwise > 0 {
		for i, d := range devs { // their descriptors are needed now
			if d != nil {
				d.Close()
				devs[i] = nil
			}
		}
		return idleGroupWise(ctx, o, rep, work)
	}
	return nil
}

// waitDescriptors waits until pid has fewer than n open descriptors.
func waitDescriptors(ctx context.Context, pid, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			return err
		}
		if len(fds) < n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("parleyd still has %d descriptors open a minute after the links dropped", len(fds))
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reportIdle adds the per-session figures at one size, as the growth
// since the previous size (base for the first): what one more idle
// session costs, without the start-up garbage an empty gateway still
// holds.
func reportIdle(rep *report, scen string, base, prev, s memSample, rate float64, shards int) {
	n := float64(s.sessions - prev.sessions)
	gw := float64(s.gatewayRSS-prev.gatewayRSS) / n
	pl := float64(s.pluginRSS-prev.pluginRSS) / n
	all := float64(s.sessions - base.sessions)
	note := fmt.Sprintf("from %d to %d sessions: heap %.1f KB + stacks %.1f KB, %.2f goroutines per session; "+
		"from the empty gateway: parleyd %.1f KB, plugin %.1f KB per session; %.0f logins/s; memory backend in %d plugin processes",
		prev.sessions, s.sessions, (s.heap-prev.heap)/n/1024, (s.stack-prev.stack)/n/1024, (s.gr-prev.gr)/n,
		float64(s.gatewayRSS-base.gatewayRSS)/all/1024, float64(s.pluginRSS-base.pluginRSS)/all/1024, rate, shards)
	rep.Measured.Idle = append(rep.Measured.Idle, idleLevel{Backend: "memory", From: prev.sessions, To: s.sessions, GatewayKB: gw / 1024, TotalKB: (gw + pl) / 1024, Load: loadAvg()})
	rep.add(figure{Scenario: scen, Name: "parleyd RSS per idle session", Value: gw / 1024, Unit: "KB",
		Target: fmt.Sprintf("<= %d KB", targetIdleGateway>>10), Met: atMost(gw, targetIdleGateway), Note: note})
	rep.add(figure{Scenario: scen, Name: "parleyd + memory plugin RSS per session", Value: (gw + pl) / 1024, Unit: "KB",
		Target: fmt.Sprintf("<= %d KB", targetIdleTotal>>10), Met: atMost(gw+pl, targetIdleTotal)})
}

// idleGroupWise holds idle sessions on the GroupWise backend, where the
// plugin keeps a TLS connection to the IM server per session.
func idleGroupWise(ctx context.Context, o options, rep *report, work string) error {
	n := o.idle.groupwise
	users := numbered("w", n)
	fake, err := startFakeGroupWise(ctx, o.binDir, work, users)
	if err != nil {
		return err
	}
	defer fake.stop(5 * time.Second)
	ids := make([]string, n)
	for i, u := range users {
		ids[i] = u.ID
	}
	g, err := startGateway(ctx, o.binDir, work, "gateway-gw", gatewaySpec{groupwise: fake, gwUsers: ids, heartbeat: 10 * time.Minute, idleTimeout: time.Hour})
	if err != nil {
		return err
	}
	defer g.stop()
	const plugin = "parley-backend-groupwise"
	settle(ctx)
	base, err := sampleMemory(ctx, g, plugin, 0)
	if err != nil {
		return err
	}
	devs := make([]*device, n)
	defer func() {
		for _, d := range devs {
			if d != nil {
				d.Close()
			}
		}
	}()
	half := n / 2
	if _, _, err := loginDevices(ctx, g, users, 0, half, true, devs, o.logf); err != nil {
		return fmt.Errorf("idle groupwise: %w", err)
	}
	settle(ctx)
	mid, err := sampleMemory(ctx, g, plugin, half)
	if err != nil {
		return err
	}
	rate, _, err := loginDevices(ctx, g, users, half, n, true, devs, o.logf)
	if err != nil {
		return fmt.Errorf("idle groupwise: %w", err)
	}
	settle(ctx)
	s, err := sampleMemory(ctx, g, plugin, n)
	if err != nil {
		return err
	}
	o.logf("idle groupwise: %d sessions: parleyd RSS %d MB, plugin RSS %d MB (%.0f logins/s; empty: %d MB, %d MB)",
		n, s.gatewayRSS>>20, s.pluginRSS>>20, rate, base.gatewayRSS>>20, base.pluginRSS>>20)
	scen := fmt.Sprintf("idle %d groupwise", n)
	gw := float64(s.gatewayRSS-mid.gatewayRSS) / float64(n-half)
	pl := float64(s.pluginRSS-mid.pluginRSS) / float64(n-half)
	rep.Measured.Idle = append(rep.Measured.Idle, idleLevel{Backend: "groupwise", From: half, To: n, GatewayKB: gw / 1024, TotalKB: (gw + pl) / 1024, Load: loadAvg()})
	rep.add(figure{Scenario: scen, Name: "parleyd RSS per idle session", Value: gw / 1024, Unit: "KB",
		Target: fmt.Sprintf("<= %d KB", targetIdleGateway>>10), Met: atMost(gw, targetIdleGateway)})
	rep.add(figure{Scenario: scen, Name: "parleyd + groupwise plugin RSS per session", Value: (gw + pl) / 1024, Unit: "KB",
		Target: fmt.Sprintf("<= %d KB", targetIdleTotal>>10), Met: atMost(gw+pl, targetIdleTotal),
		Note: fmt.Sprintf("growth from %d to %d sessions; plugin %.1f KB per session (one TLS connection to the IM server each); %.0f logins/s", half, n, pl/1024, rate)})
	return nil
}
