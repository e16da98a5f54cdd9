package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/parleygw/parley/core/frame"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// resumeOptions shape the resume scenario.
type resumeOptions struct {
	rounds int           // full logins and resumes timed, each
	imRTT  time.Duration // extra IM round trip for the GroupWise run (0: none)
}

// connectTimes are the parts of one device connection.
type connectTimes struct {
	total   durations // dial + TLS + Hello/Welcome + Login or Resume
	request durations // Login or Resume request to SessionOpened
}

func scenarioResume(ctx context.Context, o options, rep *report) error {
	work, err := os.MkdirTemp("", "parley-bench-resume-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	users := []imUser{{ID: "r0", Password: password, Contacts: []string{}}}

	type run struct {
		name string
		spec gatewaySpec
	}
	runs := []run{{name: "memory", spec: gatewaySpec{memoryUsers: users}}}
	fake, err := startFakeGroupWise(ctx, o.binDir, work, users)
	if err != nil {
		return err
	}
	defer fake.stop(5 * time.Second)
	runs = append(runs, run{name: "groupwise", spec: gatewaySpec{groupwise: fake, gwUsers: []string{"r0"}}})
	if o.resume.imRTT > 0 {
		proxy, err := startDelayProxy(fmt.Sprintf("127.0.0.1:%d", fake.port), o.resume.imRTT)
		if err != nil {
			return err
		}
		defer proxy.close()
		far := *fake
		far.port = proxy.port()
		runs = append(runs, run{name: fmt.Sprintf("groupwise +%v IM RTT", o.resume.imRTT), spec: gatewaySpec{groupwise: &far, gwUsers: []string{"r0"}}})
	}
	for i, r := range runs {
		g, err := startGateway(ctx, o.binDir, work, fmt.Sprintf("gateway-%d", i), r.spec)
		if err != nil {
			return err
		}
		login, resume, err := timeConnects(ctx, g, "r0", o.resume.rounds)
		g.stop()
		if err != nil {
			return fmt.Errorf("resume %s: %w", r.name, err)
		}
		o.logf("resume %s: full login %s; resume %s", r.name, login.total.summary(), resume.total.summary())
		scen := "resume " + r.name
		ratio := float64(resume.total.pct(0.5)) / float64(login.total.pct(0.5))
		rep.Measured.Resume = append(rep.Measured.Resume, resumeRatio{Name: r.name, LoginMS: ms(login.total.pct(0.5)), ResumeMS: ms(resume.total.pct(0.5)), Load: loadAvg()})
		rep.add(figure{Scenario: scen, Name: "full login p50 (TLS+Hello+Login)", Value: ms(login.total.pct(0.5)), Unit: "ms",
			Note: fmt.Sprintf("full login %s; Login request alone %s", login.total.summary(), login.request.summary())})
		rep.add(figure{Scenario: scen, Name: "resume p50 (TLS+Hello+Resume)", Value: ms(resume.total.pct(0.5)), Unit: "ms",
			Baseline: ptr(ms(login.total.pct(0.5))), BaselineName: "full login p50",
			Target: fmt.Sprintf("<= %.0f%% of full login", targetResumeRatio*100), Met: atMost(ratio, targetResumeRatio),
			Note: fmt.Sprintf("resume %s; Resume request alone %s", resume.total.summary(), resume.request.summary())})
		rep.add(figure{Scenario: scen, Name: "resume p99", Value: ms(resume.total.pct(0.99)), Unit: "ms",
			Baseline: ptr(ms(login.total.pct(0.99))), BaselineName: "full login p99"})
		rep.add(figure{Scenario: scen, Name: "Resume request p50 (after TLS)", Value: ms(resume.request.pct(0.5)), Unit: "ms",
			Baseline: ptr(ms(login.request.pct(0.5))), BaselineName: "Login request p50"})
	}
	return nil
}

// timeConnects times rounds full logins (each followed by a logout, so the
// next one logs in to the IM server again) and then rounds resumes of one
// session over fresh links.
func timeConnects(ctx context.Context, g *gateway, user string, rounds int) (login, resume connectTimes, err error) {
	connect := func(do func(*device) (*devicev1.SessionOpened, error)) (*device, *devicev1.SessionOpened, time.Duration, time.Duration, error) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		t0 := time.Now()
		d, err := dialDevice(cctx, g.addr, g.tls, nil, user+"-phone", frame.Limits{})
		if err != nil {
			return nil, nil, 0, 0, err
		}
		t1 := time.Now()
		opened, err := do(d)
		if err != nil {
			d.Close()
			return nil, nil, 0, 0, err
		}
		return d, opened, time.Since(t0), time.Since(t1), nil
	}
	for i := -2; i < rounds; i++ { // two unrecorded warm-up rounds
		d, _, total, req, err := connect(func(d *device) (*devicev1.SessionOpened, error) { return d.login(user) })
		if err != nil {
			return login, resume, err
		}
		if i >= 0 {
			login.total, login.request = append(login.total, total), append(login.request, req)
		}
		_, err = d.call(&devicev1.Message{Body: &devicev1.Message_Logout{Logout: &devicev1.Logout{}}})
		d.Close()
		if err != nil {
			return login, resume, fmt.Errorf("logout: %w", err)
		}
	}
	d, opened, _, _, err := connect(func(d *device) (*devicev1.SessionOpened, error) { return d.login(user) })
	if err != nil {
		return login, resume, err
	}
	id, token, last := opened.SessionId, opened.ResumeToken, d.lastSeq
	d.Close()
	for i := -2; i < rounds; i++ {
		d, opened, total, req, err := connect(func(d *device) (*devicev1.SessionOpened, error) { return d.resume(id, token, last) })
		if err != nil {
			return login, resume, err
		}
		if i >= 0 {
			resume.total, resume.request = append(resume.total, total), append(resume.request, req)
		}
		token, last = opened.ResumeToken, d.lastSeq
		d.Close()
	}
	return login, resume, nil
}
