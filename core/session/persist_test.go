package session

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// memStore is an in-memory Store.
type memStore struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (s *memStore) SaveSession(_ context.Context, id, _, _ string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[id] = append([]byte(nil), data...)
	return nil
}

func (s *memStore) DeleteSession(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, id)
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

func TestRestartWithCachedCredentialsResumesWithoutPassword(t *testing.T) {
	store := &memStore{data: map[string][]byte{}}
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
	store := &memStore{data: map[string][]byte{}}
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

func TestSpentTokenStaysSpentAcrossRestart(t *testing.T) {
	store := &memStore{data: map[string][]byte{}}
	sealer, _ := LoadSealer(filepath.Join(t.TempDir(), "k"))
	before, _, _ := newTestManager(Config{Store: store, Sealer: sealer})
	d, token := login(t, before, "alice", "phone")
	if _, _, err := before.Resume(d.Session().ID, token, 0, "phone"); err != nil {
		t.Fatal(err)
	}
	after, _, _ := newTestManager(Config{Store: store, Sealer: sealer})
	after.Restore(context.Background())
	if _, _, err := after.Resume(d.Session().ID, token, 0, "phone"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a token spent before the restart: %v, want ErrUnauthenticated", err)
	}
}

func TestLogoutForgetsTheRecord(t *testing.T) {
	store := &memStore{data: map[string][]byte{}}
	m, _, _ := newTestManager(Config{Store: store})
	d, _ := login(t, m, "alice", "phone")
	if len(store.data) != 1 {
		t.Fatalf("%d records after login", len(store.data))
	}
	m.Logout(d)
	if len(store.data) != 0 {
		t.Fatalf("%d records after the last device logged out", len(store.data))
	}
}
