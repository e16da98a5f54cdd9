package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestErrorsCrossTheBoundaryWithReasonAndLimit(t *testing.T) {
	in := &Error{Reason: ReasonFileTooLarge, Message: "server limit", LimitBytes: 1 << 20}
	out := fromStatus(toStatus(fmt.Errorf("wrapped: %w", in)))
	var e *Error
	if !errors.As(out, &e) || e.Reason != ReasonFileTooLarge || e.LimitBytes != 1<<20 || e.Message != "server limit" {
		t.Fatalf("round trip gave %#v", out)
	}
	if !errors.Is(out, &Error{Reason: ReasonFileTooLarge}) {
		t.Fatal("errors.Is does not match on the reason")
	}
}

func TestPlainErrorsGetAReason(t *testing.T) {
	cases := []struct {
		in   error
		want Reason
	}{
		{context.DeadlineExceeded, ReasonTimeout},
		{errors.New("boom"), ReasonInternal},
		{status.Error(codes.Unavailable, "connection refused"), ReasonBackendUnavailable},
	}
	for _, c := range cases {
		var got error
		if _, ok := status.FromError(c.in); ok && c.in != nil {
			got = fromStatus(c.in)
		} else {
			got = fromStatus(toStatus(c.in))
		}
		if r := ReasonOf(got); r != c.want {
			t.Errorf("%v → %q, want %q", c.in, r, c.want)
		}
	}
}

func TestEventQueueOverflowMarksSessionForResyncAfterKeptEvents(t *testing.T) {
	q := newEventQueue(2)
	for i := range 5 {
		q.Emit(Event{SessionID: "s1", Kind: MessageEvent{Text: fmt.Sprint(i)}})
	}
	first := q.take(nil, 1)
	if len(first) != 1 || first[0].Kind.(MessageEvent).Text != "0" {
		t.Fatalf("first take = %+v", first)
	}
	rest := q.take(nil, 10)
	if len(rest) != 2 {
		t.Fatalf("second take has %d events, want the kept message then the resync marker", len(rest))
	}
	if m, ok := rest[0].Kind.(MessageEvent); !ok || m.Text != "1" {
		t.Fatalf("kept event = %+v", rest[0])
	}
	if r, ok := rest[1].Kind.(ResyncEvent); !ok || r.Dropped != 3 || rest[1].SessionID != "s1" {
		t.Fatalf("marker = %+v, want resync for s1 with 3 dropped", rest[1])
	}
	if again := q.take(nil, 10); len(again) != 0 {
		t.Fatalf("queue not empty: %+v", again)
	}
}

func TestEventQueueKeepsOrderWhileTakesAndEmitsInterleave(t *testing.T) {
	q := newEventQueue(300)
	next, want := 0, 0
	var batch []Event
	for round := range 200 {
		for range round % 7 * 20 { // bursts of 0 to 120 events
			q.Emit(Event{SessionID: "s1", Kind: MessageEvent{Text: fmt.Sprint(next)}})
			next++
		}
		batch = q.take(batch[:0], round%5*30+1)
		for _, e := range batch {
			if got := e.Kind.(MessageEvent).Text; got != fmt.Sprint(want) {
				t.Fatalf("round %d: got event %s, want %d", round, got, want)
			}
			want++
		}
	}
	for batch = q.take(batch[:0], 1000); len(batch) > 0; batch = q.take(batch[:0], 1000) {
		for _, e := range batch {
			if _, ok := e.Kind.(ResyncEvent); ok {
				t.Fatalf("an event was dropped below the queue's bound (resync after %d)", want)
			}
			want++
		}
	}
	if want != next {
		t.Fatalf("took %d events, emitted %d", want, next)
	}
}
