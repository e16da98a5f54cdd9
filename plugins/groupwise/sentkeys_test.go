package groupwise

import (
	"context"
	"testing"
)

func TestSentKeysRemembersTheLastWindow(t *testing.T) {
	k := newSentKeys(2)
	ctx := context.Background()
	send := func(key, conv string) {
		t.Helper()
		if _, dup, err := k.begin(ctx, key); err != nil || dup {
			t.Fatalf("begin(%s) = dup %v, %v; want a new send", key, dup, err)
		}
		k.finish(key, conv, true)
	}
	send("k1", "c1")
	send("k2", "c2")
	if conv, dup, _ := k.begin(ctx, "k1"); !dup || conv != "c1" {
		t.Errorf("k1 within the window: %q, dup %v", conv, dup)
	}
	send("k3", "c3") // pushes k1 out
	if _, dup, _ := k.begin(ctx, "k1"); dup {
		t.Error("k1 still remembered after two newer keys")
	}
	for key, want := range map[string]string{"k2": "c2", "k3": "c3"} {
		if conv, dup, _ := k.begin(ctx, key); !dup || conv != want {
			t.Errorf("%s: %q, dup %v; want %q", key, conv, dup, want)
		}
	}
}
