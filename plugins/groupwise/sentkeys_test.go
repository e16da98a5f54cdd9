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

func TestSentKeysRetryWaitsForTheSendInFlight(t *testing.T) {
	k := newSentKeys(4)
	ctx := context.Background()
	if _, dup, err := k.begin(ctx, "k1"); err != nil || dup {
		t.Fatalf("first begin: dup %v, %v", dup, err)
	}
	type result struct {
		conv string
		dup  bool
	}
	retries := make(chan result, 2)
	for range 2 {
		go func() {
			conv, dup, _ := k.begin(ctx, "k1")
			if !dup {
				k.finish("k1", "c-retry", true)
			}
			retries <- result{conv, dup}
		}()
	}
	k.finish("k1", "", false) // the first send failed: one retry sends
	got := []result{<-retries, <-retries}
	sent := 0
	for _, r := range got {
		if !r.dup {
			sent++
		} else if r.conv != "c-retry" {
			t.Errorf("a waiting retry got %q, want the retried send's conversation", r.conv)
		}
	}
	if sent != 1 {
		t.Errorf("%d retries sent, want exactly one (%v)", sent, got)
	}
}
