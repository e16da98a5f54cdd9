package session

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// The first login is answered before its verifier is derived; a second
// device's join that arrives in between must wait for it and be checked
// against it, never let through unchecked.
func TestJoinWaitsForTheVerifier(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	s := m.newSession(newID(), "alice", "memory", "alice")
	close(s.ready) // the backend session is open; the verifier is not derived yet
	m.mu.Lock()
	m.byID[s.ID], m.byUser[s.User] = s, s
	m.mu.Unlock()

	gaveUp, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := m.Login(gaveUp, "alice", "memory", "alice", "secret", "tablet", openOK); !errors.Is(err, context.Canceled) {
		t.Fatalf("a join before the verifier is ready: %v, want it to wait until its context ends", err)
	}

	results := map[string]chan error{"secret": make(chan error, 1), "wrong": make(chan error, 1)}
	for password, result := range results {
		go func() {
			_, _, _, err := m.Login(context.Background(), "alice", "memory", "alice", password, "device-"+password, openOK)
			result <- err
		}()
	}
	s.verifier = newVerifier("secret")
	close(s.verifierReady)
	if err := <-results["secret"]; err != nil {
		t.Fatalf("join with the right password: %v", err)
	}
	if err := <-results["wrong"]; !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("join with a wrong password: %v, want ErrUnauthenticated", err)
	}
}

// A burst of logins queues its derivations; every session gets its own
// verifier.
func TestEveryLoginOfABurstGetsItsVerifier(t *testing.T) {
	m, _, _ := newTestManager(Config{})
	const users = 50
	for i := range users {
		user := fmt.Sprint("user", i)
		if _, _, _, err := m.Login(context.Background(), user, "memory", user, "secret-"+user, "phone", openOK); err != nil {
			t.Fatal(err)
		}
	}
	for i := range users {
		user := fmt.Sprint("user", i)
		if _, _, _, err := m.Login(context.Background(), user, "memory", user, "secret-user0", "tablet", openOK); (err == nil) != (i == 0) {
			t.Fatalf("%s's tablet with user0's password: %v", user, err)
		}
		if _, _, _, err := m.Login(context.Background(), user, "memory", user, "secret-"+user, "tablet", openOK); err != nil {
			t.Fatalf("%s's tablet with the right password: %v", user, err)
		}
	}
}

func BenchmarkVerifier(b *testing.B) {
	for b.Loop() {
		newVerifier("secret")
	}
}
