package test

import (
	"context"
	"fmt"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/admin"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Fault tests: the session cache's guarantees through real processes.

// openSession starts a self-resuming device session for a user.
func (d *daemon) openSession(t *testing.T, user string) (*client.Session, chan client.State) {
	t.Helper()
	cfg := d.tlsConfig(t)
	cfg.DeviceID = user + "-phone"
	states := make(chan client.State, 256)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := client.OpenSession(ctx, client.SessionConfig{Config: *cfg, User: user, Password: "secret",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnState: func(st client.State, _ error) {
			select {
			case states <- st:
			default:
			}
		}})
	if err != nil {
		t.Fatalf("session for %s: %v", user, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, states
}

// receiveTexts collects n chat messages from a session, in order.
func receiveTexts(t *testing.T, s *client.Session, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case e := <-s.Events():
			if se := e.GetSessionEnded(); se != nil {
				t.Fatalf("the session ended (%v: %s) after %v", se.Reason, se.Message, got)
			}
			if m := e.GetMessage(); m != nil {
				got = append(got, m.Text)
			}
		case <-timeout:
			t.Fatalf("received %d of %d messages: %v", len(got), n, got)
		}
	}
	return got
}

func checkSequence(t *testing.T, got []string, prefix string, from, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d messages, want %d: %v", len(got), n, got)
	}
	for i, text := range got {
		if want := fmt.Sprintf("%s%03d", prefix, from+i); text != want {
			t.Fatalf("message %d is %q, want %q: lost, repeated or out of order: %v", i, text, want, got)
		}
	}
}

func (d *daemon) adminClient(t *testing.T) *admin.Client {
	t.Helper()
	token, err := admin.ReadToken(d.dataDir + "/admin.token")
	if err != nil {
		t.Fatal(err)
	}
	c, err := admin.NewClient(d.adminAddr, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const cachedCredentials = `heartbeat = "5s"
  cache_credentials = true`

func TestLinkCutMidConversationLosesNothing(t *testing.T) {
	d := startDaemon(t, memoryUsers...)
	alice, _ := d.openSession(t, "alice")
	bob := d.login(t, "bob")
	const total = 60
	go func() {
		for i := range total {
			if _, err := bob.SendMessage(context.Background(), "alice", "", fmt.Sprintf("m%03d", i), fmt.Sprint("b", i)); err != nil {
				return
			}
		}
	}()
	var got []string
	for len(got) < total {
		got = append(got, receiveTexts(t, alice, 10)...)
		alice.Reconnect() // the link drops while bob keeps sending
	}
	checkSequence(t, got, "m", 0, total)
}

func TestRetriedSendAfterLinkLossIsDeliveredOnce(t *testing.T) {
	d := startDaemon(t, memoryUsers...)
	bob := d.login(t, "bob")
	aliceLink := d.dial(t, "alice-phone")
	opened, err := aliceLink.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aliceLink.SendMessage(context.Background(), "bob", "", "exactly once", "msg-42"); err != nil {
		t.Fatal(err)
	}
	aliceLink.Close() // the answer may have been lost: the device retries on a new link
	again := d.dial(t, "alice-phone")
	if _, err := again.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq); err != nil {
		t.Fatal(err)
	}
	sent, err := again.SendMessage(context.Background(), "bob", "", "exactly once", "msg-42")
	if err != nil {
		t.Fatal(err)
	}
	if !sent.Duplicate {
		t.Fatal("the retry was not recognised as a duplicate")
	}
	if _, err := again.SendMessage(context.Background(), "bob", "", "marker", "msg-43"); err != nil {
		t.Fatal(err)
	}
	count := 0
	timeout := time.After(15 * time.Second)
	for {
		select {
		case e := <-bob.Events():
			switch e.GetMessage().GetText() {
			case "exactly once":
				count++
			case "marker":
				if count != 1 {
					t.Fatalf("the message arrived %d times", count)
				}
				return
			}
		case <-timeout:
			t.Fatal("the marker never arrived")
		}
	}
}

func TestPluginKilledDuringConversationSessionsComeBack(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers})
	alice, _ := d.openSession(t, "alice")
	bob, _ := d.openSession(t, "bob")
	ctx := context.Background()
	for i := range 5 {
		if _, err := bob.Send(ctx, "alice", "", fmt.Sprintf("k%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	before := receiveTexts(t, alice, 5)
	pid := d.pluginPID(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitLog(regexp.MustCompile(`session re-opened: user=alice`))
	d.waitLog(regexp.MustCompile(`session re-opened: user=bob`))
	for i := 5; i < 10; i++ {
		if _, err := bob.Send(ctx, "alice", "", fmt.Sprintf("k%03d", i)); err != nil {
			t.Fatalf("send after the plugin restart: %v", err)
		}
	}
	after := receiveTexts(t, alice, 5) // fails if alice's session ended
	checkSequence(t, append(before, after...), "k", 0, 10)
	if d.pluginPID(t) == pid {
		t.Fatal("the plugin was not restarted")
	}
}

func TestGatewayRestartDeviceResumesWithoutPassword(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers, FixedPort: true})
	cfg := d.tlsConfig(t)
	cfg.DeviceID = "alice-phone"
	// The device keeps no password: only what resumes its session.
	alice, err := client.OpenSession(context.Background(), client.SessionConfig{Config: *cfg, User: "alice", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	id, token, last := alice.Resumption()
	alice.Close()
	bob := d.login(t, "bob")
	if _, err := bob.SendMessage(context.Background(), "alice", "", "before the restart", "r1"); err != nil {
		t.Fatal(err)
	}
	// The message is in alice's session log (bob's presence came first)
	// before the gateway stops: what the gateway accepted must survive.
	d.adminWait(t, func(ss []admin.SessionInfo) bool {
		for _, s := range ss {
			if s.User == "alice" && s.PendingEvents >= 2 {
				return true
			}
		}
		return false
	})
	d.restart()
	d.waitLog(regexp.MustCompile(`session re-opened: user=alice`))

	cfg = d.tlsConfig(t)
	cfg.DeviceID = "alice-phone"
	back, err := client.OpenSession(context.Background(), client.SessionConfig{Config: *cfg, SessionID: id, ResumeToken: token, LastSeq: last})
	if err != nil {
		t.Fatalf("resume after the gateway restart: %v", err)
	}
	defer back.Close()
	got := receiveTexts(t, back, 1)
	if got[0] != "before the restart" {
		t.Fatalf("after the restart alice got %q", got[0])
	}
	bob2 := d.login(t, "bob")
	if _, err := bob2.SendMessage(context.Background(), "alice", "", "after the restart", "r2"); err != nil {
		t.Fatal(err)
	}
	if got := receiveTexts(t, back, 1); got[0] != "after the restart" {
		t.Fatalf("got %q", got[0])
	}
}

func TestGatewayRestartWithoutCachedCredentialsAsksForLogin(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Users: memoryUsers})
	c := d.dial(t, "alice-phone")
	opened, err := c.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	d.restart()
	again := d.dial(t, "alice-phone")
	_, err = again.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq)
	if client.Code(err) != devicev1.ErrorCode_RELOGIN_REQUIRED {
		t.Fatalf("resume after a restart without cached credentials: %v, want RELOGIN_REQUIRED", err)
	}
}

func TestFullSessionTableReclaimsThenRefuses(t *testing.T) {
	users := append(memoryUsers, user{"carol", "memory", true}, user{"dave", "memory", true})
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: `heartbeat = "5s"
  max_sessions = 2`, Users: users})
	alice := d.dial(t, "alice-phone")
	if _, err := alice.Login(context.Background(), "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	d.login(t, "bob")
	alice.Close() // alice's session is detached: it may be reclaimed
	d.adminWait(t, func(ss []admin.SessionInfo) bool {
		for _, s := range ss {
			if s.User == "alice" && s.DevicesAttached == 0 {
				return true
			}
		}
		return false
	})
	d.login(t, "carol") // reclaims alice's
	d.waitLog(regexp.MustCompile(`session ended: user=alice .*reason=reclaimed`))
	c := d.dial(t, "dave-phone")
	if _, err := c.Login(context.Background(), "dave", "secret"); client.Code(err) != devicev1.ErrorCode_SERVER_BUSY {
		t.Fatalf("login into a full table with nothing detached: %v, want SERVER_BUSY", err)
	}
}

// adminWait polls the admin API's session list until ok accepts it.
func (d *daemon) adminWait(t *testing.T, ok func([]admin.SessionInfo) bool) {
	t.Helper()
	c := d.adminClient(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ss, err := c.Sessions(context.Background(), "")
		if err == nil && ok(ss.Sessions) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions never reached the expected state: %+v %v", ss, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a remote API: there is no event to wait on
	}
}

func TestResumeWithBadTokensIsRefused(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: `heartbeat = "5s"
  detach_ttl = "1s"`, Users: memoryUsers})
	c := d.dial(t, "alice-phone")
	opened, err := c.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	wrong := d.dial(t, "alice-phone")
	if _, err := wrong.Resume(context.Background(), opened.SessionId, []byte("not the token"), 0); client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("wrong token: %v, want UNAUTHENTICATED", err)
	}
	ok := d.dial(t, "alice-phone")
	if _, err := ok.Resume(context.Background(), opened.SessionId, opened.ResumeToken, 0); err != nil {
		t.Fatal(err)
	}
	ok.Close()
	reused := d.dial(t, "alice-phone")
	if _, err := reused.Resume(context.Background(), opened.SessionId, opened.ResumeToken, 0); client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("reused token: %v, want UNAUTHENTICATED", err)
	}
	d.adminWait(t, func(ss []admin.SessionInfo) bool { return len(ss) == 0 }) // detach_ttl passes
	expired := d.dial(t, "alice-phone")
	if _, err := expired.Resume(context.Background(), opened.SessionId, opened.ResumeToken, 0); client.Code(err) != devicev1.ErrorCode_RESUME_EXPIRED {
		t.Fatalf("expired session: %v, want RESUME_EXPIRED", err)
	}
}

func TestSlowDeviceFillsOnlyItsOwnLog(t *testing.T) {
	users := append(memoryUsers, user{"carol", "memory", true})
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: `heartbeat = "2s"
  event_log_max_events = 50`, Users: users})
	// alice logs in and then never reads again.
	cfg := d.tlsConfig(t)
	cfg.DeviceID, cfg.EventBuffer, cfg.ManualAck = "alice-phone", 1, true
	slow, err := client.Dial(context.Background(), *cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Login(context.Background(), "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	bob, carol := d.login(t, "bob"), d.login(t, "carol")
	const flood = 400
	for i := range flood {
		if _, err := bob.SendMessage(context.Background(), "alice", "", fmt.Sprintf("flood %d with some padding to fill buffers", i), fmt.Sprint("f", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Others are unaffected while alice's log is full.
	start := time.Now()
	if _, err := bob.SendMessage(context.Background(), "carol", "", "are you there?", "c1"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, carol, "bob", "are you there?")
	if wait := time.Since(start); wait > 5*time.Second {
		t.Fatalf("carol waited %v behind alice's backlog", wait)
	}
	d.adminWait(t, func(ss []admin.SessionInfo) bool {
		for _, s := range ss {
			if s.User == "alice" {
				if s.PendingEvents > 50 {
					t.Fatalf("alice's log holds %d events, over its bound of 50", s.PendingEvents)
				}
				return s.PendingEvents == 50
			}
		}
		return false
	})
}
