package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memStore is an in-memory Store. It records the size of every
// transaction, and when gate is set, its first write waits for gate to
// close after telling entered.
type memStore struct {
	mu      sync.Mutex
	data    map[string][]byte
	batches []int
	entered chan struct{}
	gate    chan struct{}
}

func newMemStore() *memStore { return &memStore{data: map[string][]byte{}} }

func (s *memStore) WriteSessions(_ context.Context, n int, row func(int) (string, string, string, []byte)) error {
	if s.gate != nil {
		close(s.entered)
		<-s.gate
		s.gate = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, n)
	for i := range n {
		id, _, _, data := row(i)
		if data == nil {
			delete(s.data, id)
		} else {
			s.data[id] = append([]byte(nil), data...)
		}
	}
	return nil
}

func (s *memStore) LoadSessions(context.Context) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, d := range s.data {
		out = append(out, d)
	}
	return out, nil
}

func (s *memStore) record(t *testing.T, id string) (Record, bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.data[id]
	if !ok {
		return Record{}, false
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("stored record of %s: %v", id, err)
	}
	return r, true
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data)
}

// manual keeps changes pending until Flush or SaveAll.
const manual = time.Hour

func TestRestartWithCachedCredentialsResumesWithoutPassword(t *testing.T) {
	store := newMemStore()
	sealer, err := LoadSealer(filepath.Join(t.TempDir(), "credential.key"))
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := newTestManager(Config{Store: store, Sealer: sealer})
	d, token := login(t, before, "alice", "phone")
	for i := range 3 {
		d.Session().Deliver(message(fmt.Sprint(i)))
	}
	d.Ack(1)
	before.Detach(d, gen(d))
	before.SaveAll()
	if s := string(store.data[d.Session().ID]); strings.Contains(s, "secret") {
		t.Fatal("the stored record holds the password in clear")
	}

	after, _, _ := newTestManager(Config{Store: store, Sealer: sealer})
	restored, relogin, err := after.Restore(context.Background())
	if err != nil || restored != 1 || relogin != 0 {
		t.Fatalf("restore: %d restored, %d relogin, %v", restored, relogin, err)
	}
	reopen := after.NeedsReopen("memory")
	if len(reopen) != 1 {
		t.Fatalf("%d sessions to re-open, want 1", len(reopen))
	}
	if pw, err := after.Password(reopen[0]); err != nil || pw != "secret" {
		t.Fatalf("cached password: %q, %v", pw, err)
	}
	d2, _, err := after.Resume(d.Session().ID, token, 1, "phone")
	if err != nil {
		t.Fatalf("resume after restart: %v", err)
	}
	evs, _ := d2.Next(10)
	if got := fmt.Sprint(texts(evs)); got != "[1 2]" {
		t.Fatalf("replayed after restart: %s, want [1 2]", got)
	}
	if evs[0].Seq != 2 {
		t.Fatalf("seq after restart = %d, want 2 (numbering continues)", evs[0].Seq)
	}
}

func TestRestartWithoutCachedCredentialsNeedsRelogin(t *testing.T) {
	store := newMemStore()
	before, _, _ := newTestManager(Config{Store: store})
	d, token := login(t, before, "alice", "phone")
	before.SaveAll()

	after, _, _ := newTestManager(Config{Store: store})
	if _, relogin, err := after.Restore(context.Background()); err != nil || relogin != 1 {
		t.Fatalf("restore: relogin %d, %v", relogin, err)
	}
	if _, _, err := after.Resume(d.Session().ID, token, 0, "phone"); !errors.Is(err, ErrReloginRequired) {
		t.Fatalf("resume without cached credentials: %v, want ErrReloginRequired", err)
	}
}

func TestSpentTokenStaysSpentAcrossCleanRestart(t *testing.T) {
	store := newMemStore()
	sealer, _ := LoadSealer(filepath.Join(t.TempDir(), "k"))
	before, _, _ := newTestManager(Config{Store: store, Sealer: sealer})
	d, token := login(t, before, "alice", "phone")
	if _, _, err := before.Resume(d.Session().ID, token, 0, "phone"); err != nil {
		t.Fatal(err)
	}
	before.SaveAll()
	after, _, _ := newTestManager(Config{Store: store, Sealer: sealer})
	after.Restore(context.Background())
	if _, _, err := after.Resume(d.Session().ID, token, 0, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a token spent before the restart: %v, want ErrUnauthenticated", err)
	}
}

// After a crash the store holds what the persister had written. A resume
// was written before it was answered, so its spent token stays spent and
// its new one resumes; a login written behind its answer was lost, so its
// device is sent to log in again (never let in).
func TestCrashRestoresTheLastWrittenRecord(t *testing.T) {
	store := newMemStore()
	sealer, _ := LoadSealer(filepath.Join(t.TempDir(), "k"))
	before, _, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual})
	d, spent := login(t, before, "alice", "phone")
	_, current, err := before.Resume(d.Session().ID, spent, 0, "phone")
	if err != nil {
		t.Fatal(err)
	}
	_, unwritten := login(t, before, "alice", "laptop")
	// The gateway crashes here: the laptop's login was never written.

	crashed := func() *Manager {
		m, _, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual})
		if restored, _, err := m.Restore(context.Background()); err != nil || restored != 1 {
			t.Fatalf("restore: %d, %v", restored, err)
		}
		return m
	}
	if _, _, err := crashed().Resume(d.Session().ID, unwritten, 0, "laptop"); !errors.Is(err, ErrReloginRequired) {
		t.Fatalf("a token a login issued after the last write: %v, want ErrReloginRequired", err)
	}
	if _, _, err := crashed().Resume(d.Session().ID, spent, 0, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("the token spent by the resume before the crash: %v, want ErrUnauthenticated", err)
	}
	if _, _, err := crashed().Resume(d.Session().ID, current, 0, "phone"); err != nil {
		t.Fatalf("the token the resume before the crash issued: %v", err)
	}
}

// failingStore refuses every write while failing is set.
type failingStore struct {
	*memStore
	failing atomic.Bool
}

var errDiskFull = errors.New("disk full")

func (s *failingStore) WriteSessions(ctx context.Context, n int, row func(int) (string, string, string, []byte)) error {
	if s.failing.Load() {
		return errDiskFull
	}
	return s.memStore.WriteSessions(ctx, n, row)
}

func TestResumeThatCannotBeSavedFailsAndKeepsTheOldToken(t *testing.T) {
	store := &failingStore{memStore: newMemStore()}
	m, _, _ := newTestManager(Config{Store: store, SaveDelay: manual})
	d, token := login(t, m, "alice", "phone")
	m.Flush()
	store.failing.Store(true)
	if _, _, err := m.Resume(d.Session().ID, token, 0, "phone"); !errors.Is(err, ErrNotSaved) || !errors.Is(err, errDiskFull) {
		t.Fatalf("resume while the store fails: %v, want ErrNotSaved wrapping the store's error", err)
	}
	if _, attached := d.Session().Devices(); attached != 0 {
		t.Fatalf("%d devices attached after a failed resume", attached)
	}
	store.failing.Store(false)
	_, next, err := m.Resume(d.Session().ID, token, 0, "phone")
	if err != nil {
		t.Fatalf("retrying the resume with the same token: %v", err)
	}
	r, _ := store.record(t, d.Session().ID)
	if want := hashToken(next); len(r.Devices) != 1 || string(r.Devices[0].TokenHash) != string(want[:]) {
		t.Fatalf("stored devices %+v, want the retried resume's token", r.Devices)
	}
}

// Resumes that arrive while a write is in progress wait for the next one
// and share it: a reconnect storm is written in batches.
func TestWaitingResumesShareOneTransaction(t *testing.T) {
	store := newMemStore()
	m, _, _ := newTestManager(Config{Store: store, SaveDelay: manual})
	const n = 6
	devices, tokens := make([]*Device, n), make([][]byte, n)
	for i := range n {
		devices[i], tokens[i] = login(t, m, fmt.Sprint("user", i), "phone")
	}
	m.Flush()
	store.mu.Lock()
	store.batches = nil
	store.entered, store.gate = make(chan struct{}), make(chan struct{})
	store.mu.Unlock()
	errs := make(chan error, n)
	resume := func(i int) {
		_, _, err := m.Resume(devices[i].Session().ID, tokens[i], 0, "phone")
		errs <- err
	}
	go resume(0)
	<-store.entered // the first resume's write is in progress
	for i := 1; i < n; i++ {
		go resume(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.persist.mu.Lock()
		queued := len(m.persist.queue)
		m.persist.mu.Unlock()
		if queued == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d resumes queued", queued, n-1)
		}
		runtime.Gosched()
	}
	close(store.gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(store.batches); got != fmt.Sprint([]int{1, n - 1}) {
		t.Fatalf("transactions of %s sessions, want [1 %d]", got, n-1)
	}
}

// A session restored after a crash asks a device with a token it does not
// know to log in again only until the device comes back, and lets a
// device claim a position beyond the restored log only on its first
// resume and only as far as the log could have held.
func TestRestoredStateEndsWithTheFirstResume(t *testing.T) {
	store := newMemStore()
	sealer, _ := LoadSealer(filepath.Join(t.TempDir(), "k"))
	before, _, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual, MaxEvents: 10})
	d, token := login(t, before, "alice", "phone")
	for i := range 3 {
		d.Session().Deliver(message(fmt.Sprint(i)))
	}
	before.Flush()
	// The gateway crashes with seq 3 saved; the phone saw more.

	m, clk, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual, MaxEvents: 10})
	if restored, _, err := m.Restore(context.Background()); err != nil || restored != 1 {
		t.Fatalf("restore: %d, %v", restored, err)
	}
	id := d.Session().ID
	wrong := make([]byte, 32)
	if _, _, err := m.Resume(id, wrong, 0, "phone"); !errors.Is(err, ErrReloginRequired) {
		t.Fatalf("unknown token of a restored device: %v, want ErrReloginRequired", err)
	}
	if _, _, err := m.Resume(id, token, 3+10+1, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("last_seq beyond what the restored log could hold: %v, want ErrUnauthenticated", err)
	}
	d, token, err := m.Resume(id, token, 3+10, "phone")
	if err != nil {
		t.Fatalf("last_seq the restored log could have held: %v", err)
	}
	if got := d.Session().LastSeq(); got != 13 {
		t.Fatalf("session continues from seq %d, want the device's 13", got)
	}
	if _, _, err := m.Resume(id, wrong, 0, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown token after the device resumed: %v, want ErrUnauthenticated", err)
	}
	if _, _, err := m.Resume(id, token, 14, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("last_seq beyond the session after the first resume: %v, want ErrUnauthenticated", err)
	}
	if _, _, err := m.Resume(id, wrong, 0, "laptop"); !errors.Is(err, ErrReloginRequired) {
		t.Fatalf("a device the record lacks, right after the restore: %v, want ErrReloginRequired", err)
	}
	clk.Advance(31 * time.Minute) // beyond the default detach TTL
	if _, _, err := m.Resume(id, wrong, 0, "laptop"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a device the record lacks, a detach TTL after the restore: %v, want ErrUnauthenticated", err)
	}
}

func TestRestoredSeqLimit(t *testing.T) {
	for _, c := range []struct {
		r    Record
		want uint64
	}{
		{Record{LastSeq: 5}, 1005},
		{Record{LastSeq: 5, Final: true}, 5},
		{Record{LastSeq: math.MaxUint64 - 999}, math.MaxUint64},
		{Record{LastSeq: math.MaxUint64 - 1000}, math.MaxUint64},
		{Record{LastSeq: math.MaxUint64 - 1001}, math.MaxUint64 - 1},
	} {
		if got := restoredSeqLimit(c.r, 1000); got != c.want {
			t.Errorf("restoredSeqLimit(last seq %d, final %v) = %d, want %d", c.r.LastSeq, c.r.Final, got, c.want)
		}
	}
}

func TestLogoutForgetsTheRecord(t *testing.T) {
	store := newMemStore()
	m, _, _ := newTestManager(Config{Store: store, SaveDelay: manual})
	d, _ := login(t, m, "alice", "phone")
	m.Flush()
	if store.len() != 1 {
		t.Fatalf("%d records after login", store.len())
	}
	m.Logout(d)
	m.Flush()
	if store.len() != 0 {
		t.Fatalf("%d records after the last device logged out", store.len())
	}
}

func TestRepeatedChangesToASessionAreWrittenOnce(t *testing.T) {
	store := newMemStore()
	m, _, _ := newTestManager(Config{Store: store, SaveDelay: manual})
	want := map[string][32]byte{} // session → hash of its newest token
	for i := range 5 {
		d, token := login(t, m, fmt.Sprint("user", i), "phone")
		for range 3 {
			m.Detach(d, gen(d))
			d, token = login(t, m, fmt.Sprint("user", i), "phone")
		}
		m.Detach(d, gen(d))
		want[d.Session().ID] = hashToken(token)
	}
	m.Flush()
	if fmt.Sprint(store.batches) != "[5]" {
		t.Fatalf("transactions of %v sessions, want one of 5 (40 changes to 5 sessions)", store.batches)
	}
	for id, hash := range want {
		r, ok := store.record(t, id)
		if !ok || len(r.Devices) != 1 || string(r.Devices[0].TokenHash) != string(hash[:]) || r.Devices[0].DetachedAt.IsZero() {
			t.Fatalf("session %s stored as %+v, want its newest token, detached", id, r)
		}
	}
}

func TestBatchesAreBounded(t *testing.T) {
	store := newMemStore()
	m, _, _ := newTestManager(Config{Store: store, SaveDelay: manual, SaveBatch: 4})
	for i := range 10 {
		login(t, m, fmt.Sprint("user", i), "phone")
	}
	m.Flush()
	total := 0
	for _, n := range store.batches {
		if n > 4 {
			t.Fatalf("transactions of %v sessions, want at most 4 each", store.batches)
		}
		total += n
	}
	if store.len() != 10 || total != 10 {
		t.Fatalf("%d records from %d writes (%v), want 10 of 10", store.len(), total, store.batches)
	}
}

func TestSaveAllWritesPendingChangesAndLogs(t *testing.T) {
	store := newMemStore()
	sealer, _ := LoadSealer(filepath.Join(t.TempDir(), "k"))
	m, _, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual})
	d, token := login(t, m, "alice", "phone")
	d.Session().Deliver(message("kept"))
	d, token, err := m.Resume(d.Session().ID, token, 0, "phone")
	if err != nil {
		t.Fatal(err)
	}
	m.SaveAll()
	r, ok := store.record(t, d.Session().ID)
	if !ok || !r.Final || len(r.Events) != 1 || string(r.Devices[0].TokenHash) != string(func() []byte { h := hashToken(token); return h[:] }()) {
		t.Fatalf("after SaveAll: stored %v %+v, want the final record with the newest token and the unacknowledged event", ok, r)
	}
	// Changes after SaveAll, events included (a transfer ended by the
	// shutdown), are written at once and keep the record final; a session
	// ending then (its backend stops) is forgotten at once: nothing is
	// left pending when the store closes.
	m.Detach(d, gen(d))
	d.Session().Deliver(message("the transfer ended"))
	if r, _ := store.record(t, d.Session().ID); !r.Final || len(r.Events) != 2 || r.Devices[0].DetachedAt.IsZero() {
		t.Fatalf("a detach and an event after SaveAll stored %+v, want both in the final record", r)
	}
	m.Logout(d)
	if store.len() != 0 {
		t.Fatalf("%d records after the last device logged out after SaveAll", store.len())
	}
}

func TestLogoutAfterAQueuedSaveDoesNotResurrectTheSession(t *testing.T) {
	store := newMemStore()
	m, _, _ := newTestManager(Config{Store: store, SaveDelay: manual})
	d, _ := login(t, m, "alice", "phone")
	m.Logout(d)
	m.Flush()
	if store.len() != 0 {
		t.Fatalf("%d records: the save queued before the logout was written after it", store.len())
	}
}

func TestLogoutDuringItsSaveDoesNotResurrectTheSession(t *testing.T) {
	store := newMemStore()
	store.entered, store.gate = make(chan struct{}), make(chan struct{})
	m, _, _ := newTestManager(Config{Store: store, SaveDelay: manual})
	d, _ := login(t, m, "alice", "phone")
	flushed := make(chan struct{})
	go func() {
		m.Flush()
		close(flushed)
	}()
	<-store.entered // the login's save is being written
	m.Logout(d)
	close(store.gate)
	<-flushed
	m.Flush()
	if store.len() != 0 {
		t.Fatalf("%d records: the session ended during its save came back", store.len())
	}
}

func TestAcknowledgedPositionsAreSaved(t *testing.T) {
	store := newMemStore()
	sealer, _ := LoadSealer(filepath.Join(t.TempDir(), "k"))
	m, _, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual})
	d, _ := login(t, m, "alice", "phone")
	for i := range 3 {
		d.Session().Deliver(message(fmt.Sprint(i)))
	}
	m.Flush()
	d.Ack(2)
	m.Flush()
	r, _ := store.record(t, d.Session().ID)
	if r.LastSeq != 3 || len(r.Devices) != 1 || r.Devices[0].Acked != 2 {
		t.Fatalf("stored last seq %d, devices %+v; want 3 and acked 2", r.LastSeq, r.Devices)
	}
}
