package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/session"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Crash tests: what a device notices after parleyd is killed (SIGKILL)
// and started again on the same database (device protocol §6.3, §11.4).
// Session records are written about 50 ms behind a login or detach (a
// resume is answered only once written); the tests make "the change was
// saved" and "the change was not saved" deterministic by reading the
// database and by holding its write lock across the crash.

// crashRestart kills parleyd with SIGKILL (nothing is flushed) and starts
// it again on the same data directory and configuration.
func (d *daemon) crashRestart() {
	d.t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		d.t.Fatalf("killing parleyd: %v", err)
	}
	d.cmd.Wait()
	d.earlierLogs += d.logText() + "--- crash (SIGKILL) ---\n"
	d.start()
}

func (d *daemon) dbPath() string { return filepath.Join(d.dataDir, "parley.db") }

// waitSaved polls the configuration database until the session's stored
// record holds, for every device named in tokens, that device's current
// resume token: the write-behind save of those tokens has landed.
func (d *daemon) waitSaved(t *testing.T, sessionID string, tokens map[string][]byte) {
	t.Helper()
	db, err := configdb.Open(context.Background(), configdb.DriverSQLite, d.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		blobs, err := db.LoadSessions(context.Background())
		if err == nil && recordHolds(blobs, sessionID, tokens) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s was never saved with the devices' current tokens (%v)", sessionID, err)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's database: there is no event to wait on
	}
}

func recordHolds(blobs [][]byte, sessionID string, tokens map[string][]byte) bool {
	for _, blob := range blobs {
		var r session.Record
		if json.Unmarshal(blob, &r) != nil || r.ID != sessionID {
			continue
		}
		matched := 0
		for _, dev := range r.Devices {
			if token, ok := tokens[dev.ID]; ok {
				if sum := sha256.Sum256(token); bytes.Equal(dev.TokenHash, sum[:]) {
					matched++
				}
			}
		}
		return matched == len(tokens)
	}
	return false
}

// holdWrites takes the database's write lock, as another writer would:
// parleyd's session writes wait behind it (reads go on, the database is in
// WAL mode), so nothing changed until release is on disk. Release after
// the crash, before the restart.
func (d *daemon) holdWrites(t *testing.T) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+d.dbPath()+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(context.Background(), nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		db.Close()
		t.Fatalf("taking the database's write lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			tx.Rollback()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// waitState waits for the session's OnState reports to reach want; it
// fails on StateClosed unless that is what it waits for.
func waitState(t *testing.T, s *client.Session, states <-chan client.State, want client.State) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case st := <-states:
			if st == want {
				return
			}
			if st == client.StateClosed {
				_, err := s.State()
				t.Fatalf("the session closed while waiting for %v: %v", want, err)
			}
		case <-timeout:
			st, err := s.State()
			t.Fatalf("the session never reached %v; it is %v (%v)", want, st, err)
		}
	}
}

// sessionWithStates opens a client.Session reporting its states.
func sessionWithStates(t *testing.T, cfg client.SessionConfig) (*client.Session, chan client.State, error) {
	t.Helper()
	states := make(chan client.State, 256)
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 200*time.Millisecond
	cfg.OnState = func(st client.State, _ error) {
		select {
		case states <- st:
		default:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := client.OpenSession(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, states, err
}

// exchange checks that alice's session and bob's link still carry
// messages both ways.
func exchange(t *testing.T, alice *client.Session, bob *client.Conn, tag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := bob.SendMessage(ctx, "alice", "", "to alice "+tag, "b-"+tag); err != nil {
		t.Fatalf("bob sending %s: %v", tag, err)
	}
	if got := receiveTexts(t, alice, 1); got[0] != "to alice "+tag {
		t.Fatalf("alice got %q, want %q", got[0], "to alice "+tag)
	}
	if _, err := alice.Send(ctx, "bob", "", "to bob "+tag); err != nil {
		t.Fatalf("alice sending %s: %v", tag, err)
	}
	waitMessage(t, bob, "alice", "to bob "+tag)
}

func TestCrashSavedSessionResumesWithoutPassword(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers, FixedPort: true})
	// The device logged in once; from then on it keeps only what resumes
	// its session, never the password.
	first := d.dial(t, "alice-phone")
	opened, err := first.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	cfg := d.tlsConfig(t)
	cfg.DeviceID = "alice-phone"
	alice, states, err := sessionWithStates(t, client.SessionConfig{Config: *cfg,
		SessionID: opened.SessionId, ResumeToken: opened.ResumeToken, LastSeq: opened.LastSeq})
	if err != nil {
		t.Fatalf("resume before the crash: %v", err)
	}
	bob := d.login(t, "bob")
	exchange(t, alice, bob, "before the crash")
	id, token, _ := alice.Resumption()
	d.waitSaved(t, id, map[string][]byte{"alice-phone": token})

	d.crashRestart()
	d.waitLog(regexp.MustCompile(`session re-opened: user=alice`))
	// The live session notices the dropped link and resumes by itself.
	waitState(t, alice, states, client.StateReconnecting)
	waitState(t, alice, states, client.StateConnected)
	if after, _, _ := alice.Resumption(); after != id {
		t.Fatalf("after the crash the device is in session %s, want its saved session %s", after, id)
	}
	exchange(t, alice, d.login(t, "bob"), "after the crash")
}

func TestCrashTokenIssuedAfterLastSaveAsksForLogin(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers, FixedPort: true})
	// The laptop keeps no password.
	laptop := d.dial(t, "alice-laptop")
	laptopOpened, err := laptop.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	id := laptopOpened.SessionId
	d.waitSaved(t, id, map[string][]byte{"alice-laptop": laptopOpened.ResumeToken})

	// Logins are answered before their write: both get tokens that never
	// reach the database. The laptop logs in once more (it is in the
	// saved record); the phone, which keeps the password and logs in
	// again when asked to, joins (it is not).
	release := d.holdWrites(t)
	laptop.Close()
	laptopAgain := d.dial(t, "alice-laptop")
	relogged, err := laptopAgain.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatalf("laptop login before the crash: %v", err)
	}
	cfg := d.tlsConfig(t)
	cfg.DeviceID = "alice-phone"
	phone, phoneStates, err := sessionWithStates(t, client.SessionConfig{Config: *cfg, User: "alice", Password: "secret", Relogin: true})
	if err != nil {
		t.Fatal(err)
	}
	if joined, _, _ := phone.Resumption(); joined != id {
		t.Fatalf("the phone joined session %s, the laptop is in %s", joined, id)
	}
	d.crashRestart()
	release()

	// A device without the password is told to log in again, by code.
	cfg = d.tlsConfig(t)
	cfg.DeviceID = "alice-laptop"
	_, err = client.OpenSession(context.Background(), client.SessionConfig{Config: *cfg,
		SessionID: id, ResumeToken: relogged.ResumeToken, LastSeq: relogged.LastSeq})
	if client.Code(err) != devicev1.ErrorCode_RELOGIN_REQUIRED {
		t.Fatalf("resume with a token issued after the last save: %v, want RELOGIN_REQUIRED", err)
	}
	// The phone logs in again by itself and joins the restored session.
	waitState(t, phone, phoneStates, client.StateReconnecting)
	waitState(t, phone, phoneStates, client.StateConnected)
	if after, _, _ := phone.Resumption(); after != id {
		t.Fatalf("after logging in again the phone is in session %s, want the restored %s", after, id)
	}
	d.waitLog(regexp.MustCompile(`session re-opened: user=alice`))
	exchange(t, phone, d.login(t, "bob"), "after the crash")
}

// A resume is answered only once its new token is saved, so a crash right
// after the answer cannot bring the spent token back (§6.3: single use).
func TestCrashRightAfterResumeKeepsTheSpentTokenSpent(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers, FixedPort: true})
	c := d.dial(t, "alice-phone")
	opened, err := c.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	d.waitSaved(t, opened.SessionId, map[string][]byte{"alice-phone": opened.ResumeToken})
	c.Close()
	again := d.dial(t, "alice-phone")
	resumed, err := again.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	d.crashRestart()
	d.waitLog(regexp.MustCompile(`session re-opened: user=alice`))

	spent := d.dial(t, "alice-phone")
	if _, err := spent.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq); client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("resume with the token spent right before a crash: %v, want UNAUTHENTICATED", err)
	}
	cfg := d.tlsConfig(t)
	cfg.DeviceID = "alice-phone"
	alice, _, err := sessionWithStates(t, client.SessionConfig{Config: *cfg,
		SessionID: opened.SessionId, ResumeToken: resumed.ResumeToken, LastSeq: resumed.LastSeq})
	if err != nil {
		t.Fatalf("resume with the token issued right before a crash: %v", err)
	}
	exchange(t, alice, d.login(t, "bob"), "after the crash")
}

func TestCrashSessionOpenedAfterLastSaveIsUnknown(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers, FixedPort: true})
	release := d.holdWrites(t)
	c := d.dial(t, "alice-phone")
	opened, err := c.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	d.crashRestart()
	release()

	cfg := d.tlsConfig(t)
	cfg.DeviceID = "alice-phone"
	resume := client.SessionConfig{Config: *cfg, SessionID: opened.SessionId, ResumeToken: opened.ResumeToken, LastSeq: opened.LastSeq}
	// Without the password the device can only report it.
	if _, _, err := sessionWithStates(t, resume); client.Code(err) != devicev1.ErrorCode_RESUME_EXPIRED {
		t.Fatalf("resume of a session opened after the last save: %v, want RESUME_EXPIRED", err)
	}
	// With it, the device logs in again: a new session.
	resume.User, resume.Password, resume.Relogin = "alice", "secret", true
	alice, _, err := sessionWithStates(t, resume)
	if err != nil {
		t.Fatalf("logging in again after RESUME_EXPIRED: %v", err)
	}
	if id, _, _ := alice.Resumption(); id == opened.SessionId {
		t.Fatal("the unknown session came back")
	}
	exchange(t, alice, d.login(t, "bob"), "after the crash")
}

func TestRestartRightAfterResumeKeepsTheNewToken(t *testing.T) {
	d := startDaemonOpts(t, daemonOptions{Backends: memoryBackend, Sessions: cachedCredentials, Users: memoryUsers, FixedPort: true})
	c := d.dial(t, "alice-phone")
	opened, err := c.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	again := d.dial(t, "alice-phone")
	resumed, err := again.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	// A clean stop right after the token rotated, whether or not its
	// write-behind save has happened yet, keeps it: nothing is lost.
	d.restart()
	d.waitLog(regexp.MustCompile(`session re-opened: user=alice`))
	spent := d.dial(t, "alice-phone")
	if _, err := spent.Resume(context.Background(), opened.SessionId, opened.ResumeToken, opened.LastSeq); client.Code(err) != devicev1.ErrorCode_UNAUTHENTICATED {
		t.Fatalf("resume with the token spent before a clean restart: %v, want UNAUTHENTICATED", err)
	}
	cfg := d.tlsConfig(t)
	cfg.DeviceID = "alice-phone"
	alice, _, err := sessionWithStates(t, client.SessionConfig{Config: *cfg,
		SessionID: opened.SessionId, ResumeToken: resumed.ResumeToken, LastSeq: resumed.LastSeq})
	if err != nil {
		t.Fatalf("resume with the newest token after a clean restart: %v", err)
	}
	exchange(t, alice, d.login(t, "bob"), "after the restart")
}
