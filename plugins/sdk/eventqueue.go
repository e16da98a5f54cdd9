package sdk

import (
	"sync"
	"time"
)

// eventQueue is the plugin-side buffer between a backend's Emit calls and
// the Subscribe stream. Emit never blocks. When the queue is full, further
// events are dropped and counted per session; the session gets one
// ResyncEvent as soon as there is room again, so the gateway knows to
// fetch a fresh snapshot instead of silently missing events.
type eventQueue struct {
	mu      sync.Mutex
	events  []Event
	max     int
	dropped map[string]uint64
	ready   chan struct{} // signalled (non-blocking) when events arrive
	now     func() time.Time
}

func newEventQueue(max int) *eventQueue {
	return &eventQueue{max: max, dropped: map[string]uint64{}, ready: make(chan struct{}, 1), now: time.Now}
}

func (q *eventQueue) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = q.now()
	}
	q.mu.Lock()
	if len(q.events) >= q.max {
		q.dropped[e.SessionID]++
		q.mu.Unlock()
		return
	}
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take removes up to max queued events. Resync markers follow once the
// backlog queued before the overflow has been taken, so they always come
// after every event that was kept.
func (q *eventQueue) take(max int) []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.events), max)
	out := make([]Event, n, n+len(q.dropped))
	copy(out, q.events[:n])
	rest := copy(q.events, q.events[n:])
	clear(q.events[rest:])
	q.events = q.events[:rest]
	if rest == 0 {
		for sid, dropped := range q.dropped {
			out = append(out, Event{SessionID: sid, Time: q.now(), Kind: ResyncEvent{Dropped: dropped}})
			delete(q.dropped, sid)
		}
	}
	if len(q.events) > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return out
}
