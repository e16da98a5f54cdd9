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
//
// Queued events are events[head:]: take advances head instead of moving
// the rest of a backlog forward, so draining a deep queue costs the same
// per event as a shallow one.
type eventQueue struct {
	mu      sync.Mutex
	events  []Event
	head    int
	max     int
	dropped map[string]uint64
	ready   chan struct{} // signalled (non-blocking) when events arrive
	now     func() time.Time
}

func newEventQueue(max int) *eventQueue {
	return &eventQueue{max: max, dropped: map[string]uint64{}, ready: make(chan struct{}, 1), now: time.Now}
}

// len is the number of queued events; q.mu must be held.
func (q *eventQueue) len() int { return len(q.events) - q.head }

func (q *eventQueue) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = q.now()
	}
	q.mu.Lock()
	if q.len() >= q.max {
		q.dropped[e.SessionID]++
		q.mu.Unlock()
		return
	}
	if q.head > 0 && len(q.events) == cap(q.events) {
		// Reuse the taken front before growing the array.
		n := copy(q.events, q.events[q.head:])
		clear(q.events[n:])
		q.events, q.head = q.events[:n], 0
	}
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take appends up to max queued events to batch (which the caller reuses
// between calls) and returns it. Resync markers follow once the backlog
// queued before the overflow has been taken, so they always come after
// every event that was kept.
func (q *eventQueue) take(batch []Event, max int) []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(q.len(), max)
	batch = append(batch, q.events[q.head:q.head+n]...)
	clear(q.events[q.head : q.head+n])
	q.head += n
	if q.head == len(q.events) {
		// Keep the array: one per plugin process, it saves regrowing it
		// on every burst.
		q.events, q.head = q.events[:0], 0
		for sid, dropped := range q.dropped {
			batch = append(batch, Event{SessionID: sid, Time: q.now(), Kind: ResyncEvent{Dropped: dropped}})
			delete(q.dropped, sid)
		}
	}
	if q.len() > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return batch
}
