package pluginhost

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBackoffAndBreaker(t *testing.T) {
	var changes []StateChange
	h, err := New(Options{Dir: "/plugins", Backends: map[string]BackendSpec{"b": {}},
		Restart: RestartPolicy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
			ResetAfter: time.Minute, MaxCrashes: 3, CrashWindow: time.Minute},
		OnState: func(c StateChange) { changes = append(changes, c) }})
	if err != nil {
		t.Fatal(err)
	}
	s := h.sups["b"]
	crash := errors.New("crash")

	for i, ceiling := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		ceiling *= time.Millisecond
		s.crashes = nil // keep the breaker out of this part
		if d := s.judge(crash, time.Time{}); d < ceiling/2 || d > ceiling {
			t.Errorf("crash %d: backoff %v, want %v..%v", i+1, d, ceiling/2, ceiling)
		}
	}
	if last := changes[len(changes)-1]; last.State != StateDown || last.Err != crash {
		t.Errorf("after a crash: %+v, want down with the crash", last)
	}

	s.crashes = nil
	if d := s.judge(crash, time.Now().Add(-2*time.Minute)); d > 100*time.Millisecond {
		t.Errorf("backoff %v after a long healthy run, want it reset to at most 100ms", d)
	}

	// Crashes older than the window do not count towards the breaker.
	old := time.Now().Add(-2 * time.Minute)
	s.crashes = []time.Time{old, old, old}
	if d := s.judge(crash, time.Time{}); d < 0 {
		t.Fatal("old crashes tripped the breaker")
	}
	s.judge(crash, time.Time{})
	if d := s.judge(crash, time.Time{}); d >= 0 {
		t.Fatalf("3 crashes within the window: backoff %v, want the breaker tripped", d)
	}
	if last := changes[len(changes)-1]; last.State != StateFailed || !errors.Is(last.Err, ErrCrashLoop) || !errors.Is(last.Err, crash) {
		t.Errorf("after the third crash: %+v, want failed with ErrCrashLoop wrapping the crash", last)
	}

	s.crashes = nil
	if d := s.judge(fmt.Errorf("starting: %w", ErrChecksumMismatch), time.Time{}); d >= 0 || len(s.crashes) != 0 {
		t.Errorf("a refused binary: backoff %v, %d crashes recorded; want failed at once", d, len(s.crashes))
	}
}
