package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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

// After a crash the store holds what the persister had written: a token
// rotated since then cannot be checked, so its device is sent to log in
// again (never let in); the token that was current at the last write
// still resumes.
func TestCrashRestoresTheLastWrittenRecord(t *testing.T) {
	store := newMemStore()
	sealer, _ := LoadSealer(filepath.Join(t.TempDir(), "k"))
	before, _, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual})
	d, token := login(t, before, "alice", "phone")
	_, written, err := before.Resume(d.Session().ID, token, 0, "phone")
	if err != nil {
		t.Fatal(err)
	}
	before.Flush()
	_, unwritten, err := before.Resume(d.Session().ID, written, 0, "phone")
	if err != nil {
		t.Fatal(err)
	}
	// The gateway crashes here: the last resume was never written.

	crashed := func() *Manager {
		m, _, _ := newTestManager(Config{Store: store, Sealer: sealer, SaveDelay: manual})
		if restored, _, err := m.Restore(context.Background()); err != nil || restored != 1 {
			t.Fatalf("restore: %d, %v", restored, err)
		}
		return m
	}
	if _, _, err := crashed().Resume(d.Session().ID, unwritten, 0, "phone"); !errors.Is(err, ErrReloginRequired) {
		t.Fatalf("a token rotated after the last write: %v, want ErrReloginRequired", err)
	}
	if _, _, err := crashed().Resume(d.Session().ID, token, 0, "phone"); !errors.Is(err, ErrReloginRequired) {
		t.Fatalf("a token spent before the last write: %v, want ErrReloginRequired", err)
	}
	if _, _, err := crashed().Resume(d.Session().ID, written, 0, "phone"); err != nil {
		t.Fatalf("the token current at the last write: %v", err)
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
			var err error
			if d, token, err = m.Resume(d.Session().ID, token, 0, "phone"); err != nil {
				t.Fatal(err)
			}
		}
		m.Detach(d, gen(d))
		want[d.Session().ID] = hashToken(token)
	}
	m.Flush()
	if fmt.Sprint(store.batches) != "[5]" {
		t.Fatalf("transactions of %v sessions, want one of 5 (25 changes to 5 sessions)", store.batches)
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
