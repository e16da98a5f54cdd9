package admin_test

import (
	"context"
	"sync"
	"testing"

	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
)

func TestSessionManagerAdapter(t *testing.T) {
	var (
		mu     sync.Mutex
		closed = map[string]string{} // user → reason
	)
	m := session.NewManager(session.Config{MaxSessions: 10}, func(s *session.Session, reason string) {
		mu.Lock()
		closed[s.User] = reason
		mu.Unlock()
	}, nil)
	open := func(context.Context, *session.Session) (sdk.Capabilities, error) { return sdk.Capabilities{}, nil }
	ctx := context.Background()
	alicePhone, _, _, err := m.Login(ctx, "alice", "groupwise", "asmith", "pw", "phone", open)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := m.Login(ctx, "alice", "groupwise", "asmith", "pw", "laptop", open); err != nil {
		t.Fatal(err)
	}
	gen, _ := alicePhone.Attachment()
	m.Detach(alicePhone, gen)
	if _, _, _, err := m.Login(ctx, "bob", "sametime", "bob", "pw", "phone", open); err != nil {
		t.Fatal(err)
	}

	s := admin.SessionManager(m)
	byUser := map[string]admin.SessionInfo{}
	for _, info := range s.List() {
		byUser[info.User] = info
	}
	a := byUser["alice"]
	if a.ID != alicePhone.Session().ID || a.Backend != "groupwise" || a.Login != "asmith" ||
		a.DevicesTotal != 2 || a.DevicesAttached != 1 || len(byUser) != 2 {
		t.Errorf("List = %+v", byUser)
	}

	if n := s.Kick("ALICE", admin.ReasonUserDisable); n != 1 {
		t.Errorf("Kick(ALICE) = %d, want 1", n)
	}
	if !alicePhone.Session().Ended() {
		t.Error("alice's session did not end")
	}
	mu.Lock()
	reason, bobClosed := closed["alice"], closed["bob"]
	mu.Unlock()
	if reason != admin.ReasonUserDisable || bobClosed != "" {
		t.Errorf("backend sessions closed: %v", closed)
	}
	if left := s.List(); len(left) != 1 || left[0].User != "bob" {
		t.Errorf("after the kick: %+v", left)
	}
	if n := s.Kick("alice", admin.ReasonKicked); n != 0 {
		t.Errorf("second Kick = %d", n)
	}
}
