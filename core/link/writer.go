package link

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// A link's writer is a goroutine that runs only while the link has
// something to send. An answer queued by the reader, the plugin stream or
// the parking (session events, file data, a newer link of the device, the
// heartbeat) starts it; once a whole QuietPeriod has passed without work it
// hands the link to the parking and exits, so an idle link costs one
// goroutine, its reader, and no timer of its own.

// coalesceWindow is how recently the link must have flushed for the writer
// to count it as busy: a busy writer yields once before flushing, so that
// answers and events that become ready meanwhile share its TLS record and
// write syscall. A link that was quiet flushes at once and adds no latency.
const coalesceWindow = time.Millisecond

// writerState is the part of a link that its writers share.
type writerState struct {
	kick     chan struct{}   // signalled when there is something to send
	stop     chan struct{}   // closed when the reader has ended
	broken   chan struct{}   // closed when a writer ended the link
	fileWake <-chan struct{} // signalled when file data waits for the device
	lastPing atomic.Int64    // unix nanoseconds of the last heartbeat Ping

	wmu      sync.Mutex
	writing  bool       // a writer goroutine runs
	closing  bool       // the link is ending: no writer starts again
	parkedIn *parkShard // watches the link while no writer runs
	werr     error      // why a writer ended the link
	writers  sync.WaitGroup

	lastFlush time.Time         // used by the one writer running
	events    []*devicev1.Event // the writer's scratch for the events of a batch
}

// wakeWriter makes a writer send what is waiting, starting one if none
// runs. It never blocks on the connection.
func (l *link) wakeWriter() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.writing || l.closing {
		return
	}
	if l.parkedIn != nil {
		l.srv.parking.remove(l.parkedIn, l)
		l.parkedIn = nil
	}
	l.writing = true
	l.writers.Add(1)
	go l.writeLoop()
}

// writeLoop sends answers, session events and file data until the link
// ends or has been quiet for a QuietPeriod.
func (l *link) writeLoop() {
	defer l.writers.Done()
	var batch []*devicev1.Message
	busy := true
	for {
		select {
		case <-l.stale:
			// The device is back on a newer link; this one must not take
			// its events.
			l.end(nil)
			return
		case <-l.stop:
			// deliver the answers the reader queued last (a Logout's Ok)
			l.end(l.flush(&batch))
			return
		default:
		}
		if err := l.flush(&batch); err != nil {
			l.end(err)
			return
		}
		if l.device.Session().Ended() {
			// Send what was queued before the session ended (a Logout's
			// Ok is queued before the logout ends it), then close.
			l.end(l.flush(&batch))
			return
		}
		select {
		case <-l.kick:
		case <-l.device.Wake():
		case <-l.fileWake:
		case <-l.stale:
		case <-l.stop:
		case <-l.srv.quiet.next():
			if !busy && !l.heartbeatDue() && l.park() {
				return
			}
			busy = false
			continue
		}
		busy = true
	}
}

// park hands the link to the parking unless something is waiting to be
// sent or the link is ending. It reports whether the writer must exit.
func (l *link) park() bool {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closing || len(l.kick) > 0 {
		return false
	}
	l.writing = false
	l.parkedIn = l.srv.parking.add(l)
	return true
}

// end closes the link from the writer's side, which ends the reader, and
// lets no writer start again.
func (l *link) end(err error) {
	l.wmu.Lock()
	l.writing = false
	if l.werr == nil {
		l.werr = err
	}
	if !l.closing {
		l.closing = true
		close(l.broken)
	}
	l.wmu.Unlock()
	// Closing a TLS connection may wait for its close_notify to be
	// written: not while holding wmu, which the plugin stream's goroutine
	// takes to queue answers.
	l.conn.Close()
}

// finish stops the writers after the reader ended: a running writer sends
// what is queued and closes the link; without one, that happens here. It
// returns why a writer ended the link, if one did.
func (l *link) finish() error {
	l.wmu.Lock()
	running, ended := l.writing, l.closing
	l.closing = true
	if l.parkedIn != nil {
		l.srv.parking.remove(l.parkedIn, l)
		l.parkedIn = nil
	}
	l.wmu.Unlock()
	close(l.stop)
	if !running && !ended {
		var batch []*devicev1.Message
		l.end(l.flush(&batch))
	}
	l.writers.Wait()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.werr
}

// heartbeatDue reports whether the link should send its heartbeat Ping:
// every Heartbeat, give or take the eighth of one that the clocks of the
// writers and of the parking allow.
func (l *link) heartbeatDue() bool {
	hb := l.srv.cfg.Heartbeat
	return time.Since(time.Unix(0, l.lastPing.Load())) >= hb-hb/8
}

// flush writes everything waiting, answers and events batched up to
// MaxBatch per frame, then file data, and flushes it in one write.
func (l *link) flush(batch *[]*devicev1.Message) error {
	max := l.srv.cfg.MaxBatch
	yielded := false
	for {
		l.gather(batch, max)
		if len(*batch) >= max {
			if err := l.writeBatch(batch); err != nil {
				return err
			}
			continue
		}
		if len(*batch) > 0 && !yielded && time.Since(l.lastFlush) < coalesceWindow {
			// Busy: let the reader and the plugin stream run once, then
			// take what they made ready along.
			yielded = true
			runtime.Gosched()
			continue
		}
		if l.heartbeatDue() {
			l.lastPing.Store(time.Now().UnixNano())
			*batch = append(*batch, &devicev1.Message{Body: &devicev1.Message_Ping{Ping: &devicev1.Ping{Nonce: uint64(time.Now().UnixNano())}}})
		}
		if len(*batch) > 0 {
			if err := l.writeBatch(batch); err != nil {
				return err
			}
		}
		if err := l.sendFiles(); err != nil {
			return err
		}
		if l.out.Buffered() == 0 {
			return nil
		}
		l.lastFlush = time.Now()
		return l.out.Flush()
	}
}

// gather moves the waiting answers and events into batch, up to max.
func (l *link) gather(batch *[]*devicev1.Message, max int) {
	*batch = l.takeReplies(*batch, max-len(*batch))
	if len(*batch) >= max {
		return
	}
	events, gap := l.device.AppendNext(l.events[:0], max-len(*batch))
	if gap != nil {
		// Events were lost to overflow: say so, then resynchronise the
		// device with a fresh snapshot before what follows.
		*batch = append(*batch, &devicev1.Message{Body: &devicev1.Message_Event{Event: &devicev1.Event{
			TimeUnixMs: time.Now().UnixMilli(), Kind: &devicev1.Event_Gap{Gap: gap}}}})
		if snap := l.srv.router.SnapshotEvent(context.Background(), l.device.Session()); snap != nil {
			*batch = append(*batch, &devicev1.Message{Body: &devicev1.Message_Event{Event: snap}})
		}
	}
	if len(events) > 0 {
		// One allocation for the batch's messages rather than two per event.
		msgs := make([]eventMessage, len(events))
		for i, e := range events {
			m := &msgs[i]
			m.body.Event = e
			m.msg.Body = &m.body
			*batch = append(*batch, &m.msg)
		}
	}
	clear(events)
	l.events = events[:0]
}

// eventMessage is a Message carrying an Event, with its oneof wrapper, in
// one allocation.
type eventMessage struct {
	msg  devicev1.Message
	body devicev1.Message_Event
}

// writeBatch frames the batch (unflushed) and empties it.
func (l *link) writeBatch(batch *[]*devicev1.Message) error {
	err := l.write(false, *batch...)
	clear(*batch)
	*batch = (*batch)[:0]
	return err
}

// ticks is a clock shared by all writers: next returns a channel that
// closes at the next tick. It keeps no goroutine, and its timer runs only
// while some writer waits for it.
type ticks struct {
	period time.Duration
	ch     atomic.Pointer[chan struct{}]
	mu     sync.Mutex
}

func (t *ticks) next() <-chan struct{} {
	if ch := t.ch.Load(); ch != nil {
		return *ch
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch := t.ch.Load(); ch != nil {
		return *ch
	}
	ch := make(chan struct{})
	t.ch.Store(&ch)
	time.AfterFunc(t.period, func() {
		t.ch.Store(nil)
		close(ch)
	})
	return ch
}
