package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/frame"
)

// stormOptions shape the storm scenario.
type stormOptions struct {
	devices int
}

// stormText is the message every device gets while its link is down.
func stormText(user string) string { return "while you were away, " + user }

func scenarioStorm(ctx context.Context, o options, rep *report) error {
	n := o.storm.devices
	own := raiseNoFile(uint64(n) + fdReserve)
	if limit := sessionCapacity(own); n > limit {
		n = stormShortage(rep, n, limit, own)
	}
	work, err := os.MkdirTemp("", "parley-bench-storm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	users := append(numbered("s", n), imUser{ID: "sender", Password: password, Contacts: []string{}})
	g, err := startGateway(ctx, o.binDir, work, "gateway", gatewaySpec{memoryUsers: users, heartbeat: 10 * time.Minute, idleTimeout: time.Hour})
	if err != nil {
		return err
	}
	defer g.stop()
	if limit := sessionCapacity(own, raiseChildNoFile(g.PID(), uint64(n)+fdReserve)); n > limit {
		n = stormShortage(rep, n, limit, own)
	}

	devs := make([]*device, n)
	defer func() {
		for _, d := range devs {
			if d != nil {
				d.Close()
			}
		}
	}()
	rate, _, err := loginDevices(ctx, g, users, 0, n, true, devs, o.logf)
	if err != nil {
		return fmt.Errorf("storm: logging in: %w", err)
	}
	o.logf("storm: %d devices logged in (%.0f logins/s)", n, rate)
	type resumeState struct {
		id    string
		token []byte
		last  uint64
	}
	states := make([]resumeState, n)
	for i, d := range devs {
		// The resume token came with SessionOpened; dialDevice's login
		// kept it on the device.
		states[i] = resumeState{id: d.sessionID, token: d.token, last: d.lastSeq}
	}
	sender, err := client.Dial(ctx, client.Config{Addr: g.addr, TLS: g.tls, ClientName: "parley-bench", DeviceID: "sender-bench"})
	if err != nil {
		return err
	}
	defer sender.Close()
	if _, err := sender.Login(ctx, "sender", password); err != nil {
		return err
	}

	// Every link drops at once (a network change, a gateway-side
	// failover); while the devices are away each gets a message.
	for i, d := range devs {
		d.Close()
		devs[i] = nil
	}
	sendStart := time.Now()
	var sendWG sync.WaitGroup
	var sendErrs atomic.Int64
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			defer func() { <-sem }()
			if _, err := sender.SendMessage(ctx, users[i].ID, "", stormText(users[i].ID), fmt.Sprintf("storm-%d", i)); err != nil {
				sendErrs.Add(1)
			}
		}()
	}
	sendWG.Wait()
	o.logf("storm: %d messages sent to the absent devices in %v (%d failed)", n, time.Since(sendStart).Round(time.Millisecond), sendErrs.Load())

	// All devices resume at once, each reading until its message arrives.
	var (
		back, got, dups atomic.Int64
		wg              sync.WaitGroup
		firstErr        atomic.Pointer[error]
		backAt, gotAt   = make([]time.Duration, n), make([]time.Duration, n)
	)
	start := make(chan struct{})
	prof := o.perf.start(o, fmt.Sprintf("storm-%d", n), g.PID(), g.plugin("parley-backend-memory"))
	procs := []namedPID{{"parleyd", g.PID()}, {"plugin", g.plugin("parley-backend-memory")}, {"devices (this process)", os.Getpid()}}
	cpu0 := cpuOf(procs)
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			err := func() error {
				d, err := dialDevice(rctx, g.addr, g.tls, sourceAddr(i), users[i].ID+"-idle", frame.Limits{})
				if err != nil {
					return err
				}
				devs[i] = d
				if dl, ok := rctx.Deadline(); ok {
					d.conn.SetDeadline(dl)
				}
				st := states[i]
				if _, err := d.resume(st.id, st.token, st.last); err != nil {
					return err
				}
				backAt[i] = time.Since(t0)
				back.Add(1)
				want, seen := stormText(users[i].ID), 0
				for seen == 0 {
					for _, e := range d.takeEvents() {
						if m := e.GetMessage(); m != nil && m.Text == want {
							seen++
						}
					}
					if seen == 0 {
						if _, err := d.readFrame(); err != nil {
							return fmt.Errorf("waiting for the missed message: %w", err)
						}
					}
				}
				gotAt[i] = time.Since(t0)
				got.Add(1)
				if err := d.ack(); err != nil {
					return err
				}
				if seen > 1 {
					dups.Add(int64(seen - 1))
				}
				return nil
			}()
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
		}()
	}
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	used := cpuDelta(procs, cpu0)
	prof.stop(o)
	var allBack, allGot time.Duration
	var backs durations // of the devices that resumed
	for i := range n {
		allBack, allGot = max(allBack, backAt[i]), max(allGot, gotAt[i])
		if backAt[i] > 0 {
			backs = append(backs, backAt[i])
		}
	}
	// A message is lost when its device resumed but never got it; a
	// device that could not resume is a failure of its own.
	lost := back.Load() - got.Load()
	resumeFailed := int64(n) - back.Load()
	note := fmt.Sprintf("%d of %d resumed (%d failed), %d got the message sent while away (%d lost, %d duplicates); all resumed after %v (half after %v, 90%% after %v); %d sends failed",
		back.Load(), n, resumeFailed, got.Load(), lost, dups.Load(), allBack.Round(time.Millisecond), backs.pct(0.5).Round(time.Millisecond), backs.pct(0.9).Round(time.Millisecond), sendErrs.Load())
	var firstFailure string
	if e := firstErr.Load(); e != nil {
		firstFailure = (*e).Error()
		note += "; first failure: " + firstFailure
	}
	note += fmt.Sprintf("; CPU during the storm: parleyd %.1f s (%.2f ms per resume), plugin %.1f s, the simulated devices %.1f s",
		used[0].Seconds(), ms(used[0])/float64(n), used[1].Seconds(), used[2].Seconds())
	o.logf("storm: %s (%v)", note, elapsed.Round(time.Millisecond))
	value := allGot.Seconds()
	if got.Load() < int64(n) {
		value = elapsed.Seconds()
	}
	failures := resumeFailed + sendErrs.Load()
	rep.Measured.Storm = &stormResult{Requested: o.storm.devices, Devices: n, Seconds: value, Lost: int(lost), Failed: int(failures), FirstFailure: firstFailure, Load: loadAvg()}
	scen := fmt.Sprintf("storm %d", n)
	rep.add(figure{Scenario: scen, Name: "all devices resumed with missed messages", Value: value, Unit: "s",
		Target: fmt.Sprintf("<= %v, no loss", targetStorm), Met: ptr(value <= targetStorm.Seconds() && lost == 0 && failures == 0), Note: note})
	rep.add(figure{Scenario: scen, Name: "messages lost (device resumed, message never came)", Value: float64(lost), Unit: "msgs", Target: "0", Met: ptr(lost == 0)})
	rep.add(figure{Scenario: scen, Name: "resumes failed", Value: float64(resumeFailed), Unit: "devices", Target: "0", Met: ptr(resumeFailed == 0)})
	return nil
}

// stormShortage reports a storm the descriptor limits keep below n devices
// and returns the size they allow.
func stormShortage(rep *report, n, limit int, own uint64) int {
	why := fmt.Sprintf("each device takes a descriptor here and one in parleyd; %s", noFileWhy(own))
	rep.problem("storm: %d devices: %s: using %d", n, why, limit)
	rep.Measured.Limits = append(rep.Measured.Limits, sizeShortage{Scenario: "storm", Requested: n, Reached: limit, Why: why})
	return limit
}
