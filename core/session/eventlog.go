package session

import (
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// eventLog holds a session's events that some device has not acknowledged
// yet, oldest first, bounded by count and bytes. When a new event does not
// fit, the oldest are dropped and the drop is remembered as a gap so a
// device behind it learns that it missed events instead of losing them
// silently.
type eventLog struct {
	entries   []logEntry
	bytes     int
	maxEvents int
	maxBytes  int
	lastSeq   uint64
	// droppedThrough is the seq of the newest event dropped by overflow
	// (0: none). A device whose cursor is below it has a gap.
	droppedThrough uint64
	dropped        uint64
}

type logEntry struct {
	event *devicev1.Event
	size  int
}

func newEventLog(maxEvents, maxBytes int) *eventLog {
	return &eventLog{maxEvents: maxEvents, maxBytes: maxBytes}
}

// append numbers e and stores it. It reports how many events overflow
// dropped.
func (l *eventLog) append(e *devicev1.Event) (dropped int) {
	l.lastSeq++
	e.Seq = l.lastSeq
	size := proto.Size(e)
	for len(l.entries) > 0 && (len(l.entries)+1 > l.maxEvents || l.bytes+size > l.maxBytes) {
		l.droppedThrough = l.entries[0].event.Seq
		l.bytes -= l.entries[0].size
		l.entries[0] = logEntry{}
		l.entries = l.entries[1:]
		l.dropped++
		dropped++
	}
	l.entries = append(l.entries, logEntry{event: e, size: size})
	l.bytes += size
	return dropped
}

// restore puts back an event saved at shutdown, seq included. Saved
// events are the contiguous tail of the log, restored in order.
func (l *eventLog) restore(e *devicev1.Event) {
	if n := len(l.entries); n > 0 && l.entries[n-1].event.Seq+1 != e.Seq {
		return // not contiguous: keep the log's invariant, drop the stray
	}
	size := proto.Size(e)
	l.entries = append(l.entries, logEntry{event: e, size: size})
	l.bytes += size
	l.lastSeq = max(l.lastSeq, e.Seq)
}

// appendAfter appends to events up to max events with seq > cursor. gap
// is true when events after cursor were dropped.
func (l *eventLog) appendAfter(events []*devicev1.Event, cursor uint64, max int) (_ []*devicev1.Event, gap bool) {
	if cursor < l.droppedThrough {
		gap = true
	}
	i := l.index(cursor + 1)
	for n := 0; i < len(l.entries) && n < max; i, n = i+1, n+1 {
		events = append(events, l.entries[i].event)
	}
	return events, gap
}

// index returns the position of the first entry with seq ≥ seq.
func (l *eventLog) index(seq uint64) int {
	if len(l.entries) == 0 || seq <= l.entries[0].event.Seq {
		return 0
	}
	i := int(seq - l.entries[0].event.Seq)
	return min(i, len(l.entries))
}

// trim forgets events with seq ≤ through (acknowledged by every device).
func (l *eventLog) trim(through uint64) {
	n := l.index(through + 1)
	for i := 0; i < n; i++ {
		l.bytes -= l.entries[i].size
		l.entries[i] = logEntry{}
	}
	l.entries = l.entries[n:]
	if len(l.entries) == 0 {
		l.entries = nil // release the backing array of an idle session
	}
}

func (l *eventLog) len() int { return len(l.entries) }
