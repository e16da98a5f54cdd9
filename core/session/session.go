package session

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Session is one user's backend session, shared by all their devices.
type Session struct {
	ID      string
	User    string // the gateway user name
	Backend string
	Login   string // the backend login name
	Caps    sdk.Capabilities

	mgr     *Manager
	ready   chan struct{} // closed when the backend session is open (or failed)
	openErr error
	// verifier is set, and verifierReady closed, once derived after the
	// backend session opened (or when restored).
	verifier      passwordVerifier
	verifierReady chan struct{}
	createdAt     time.Time
	ackDirty      atomic.Bool // a lazy save of the positions is scheduled

	mu       sync.Mutex
	log      *eventLog
	devices  map[string]*Device
	dedupe   map[string]string        // client message id → conversation id
	dedupeQ  []string                 // ids in dedupe, oldest first
	inflight map[string]chan struct{} // ids being sent right now, with a channel once a retry waits for one
	ended    bool
	// staleUntil: restored from a record written while the gateway ran
	// (it crashed), so the token of a device that logged in shortly before
	// the crash may be missing from it; until then (the detach TTL after
	// the restore) such a device is asked to log in again (see
	// tokenMayBeStaleLocked).
	staleUntil time.Time
	// seqLimit bounds the last_seq a restored device may claim beyond the
	// restored log on its first resume (0 for a session not restored).
	seqLimit    uint64
	lastUsed    time.Time
	sealed      []byte // the IM password sealed by the manager's Sealer, if caching
	needsReopen bool   // the backend session must be opened again
}

// Device is one device attached to (or detached from) a session.
type Device struct {
	ID     string
	Screen *devicev1.Screen
	sess   *Session

	// guarded by sess.mu
	tokenHash  [32]byte
	spentHash  [32]byte // the token the current one replaced
	acked      uint64   // cumulative ack from the device
	cursor     uint64   // highest seq handed to the current link
	attached   bool
	gen        uint64        // counts attachments; a link detaches only its own
	superseded chan struct{} // closed when a newer link attaches the device
	detachedAt time.Time
	gapSent    bool
	wake       chan struct{}
	// restored: loaded from the store after a restart and not attached
	// since; cleared by the device's first login or resume.
	restored bool
}

// Session returns the session the device belongs to.
func (d *Device) Session() *Session { return d.sess }

// Attachment identifies the device's current link: a link keeps the
// generation it got at login or resume and stops when superseded closes,
// because the device came back on another link.
func (d *Device) Attachment() (gen uint64, superseded <-chan struct{}) {
	d.sess.mu.Lock()
	defer d.sess.mu.Unlock()
	return d.gen, d.superseded
}

// Wake is signalled when events arrive for the device or the session ends.
func (d *Device) Wake() <-chan struct{} { return d.wake }

func (d *Device) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Next returns up to max events the device's link has not been given yet
// and advances its cursor. gap reports events lost to overflow before them
// (reported once).
func (d *Device) Next(max int) (events []*devicev1.Event, gap *devicev1.Gap) {
	return d.AppendNext(nil, max)
}

// AppendNext is Next appending the events to dst, for a link that reuses
// one slice for every batch.
func (d *Device) AppendNext(dst []*devicev1.Event, max int) (events []*devicev1.Event, gap *devicev1.Gap) {
	s := d.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(dst)
	events, lost := s.log.appendAfter(dst, d.cursor, max)
	if lost && !d.gapSent {
		gap = &devicev1.Gap{AfterSeq: d.cursor, Dropped: s.log.droppedThrough - d.cursor}
		d.gapSent = true
	}
	if len(events) > n {
		d.cursor = events[len(events)-1].Seq
	} else if lost {
		d.cursor = s.log.droppedThrough
	}
	return events, gap
}

// Ack records the device's cumulative acknowledgement and forgets events
// every device of the session has acknowledged.
func (d *Device) Ack(seq uint64) {
	s := d.sess
	s.mu.Lock()
	if seq > s.log.lastSeq {
		seq = s.log.lastSeq
	}
	if seq <= d.acked {
		s.mu.Unlock()
		return
	}
	d.acked = seq
	low := seq
	for _, other := range s.devices {
		low = min(low, other.acked)
	}
	s.log.trim(low)
	s.mu.Unlock()
	s.mgr.ackMoved(s)
}

// Pending is how many events the session log holds for its devices.
func (s *Session) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.len()
}

// LastSeq is the seq of the newest event of the session.
func (s *Session) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.lastSeq
}

// Deliver appends an event to the session's log and wakes its attached
// devices. It never blocks on a device.
func (s *Session) Deliver(e *devicev1.Event) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	dropped := s.log.append(e)
	for _, d := range s.devices {
		if d.attached {
			d.signal()
		}
	}
	s.mu.Unlock()
	if dropped > 0 {
		s.mgr.metrics.overflows.Add(float64(dropped))
	}
	s.mgr.delivered(s)
}

// Claim starts handling a client message id. If the id was handled
// already it returns the conversation it went to and dup true. If another
// link of the session is handling the same id right now (a retry that
// overtook the original), Claim waits for that attempt first. Otherwise
// the caller owns the id and must call Finish. An empty id is never
// deduplicated.
func (s *Session) Claim(ctx context.Context, clientMsgID string) (conv string, dup bool, err error) {
	if clientMsgID == "" {
		return "", false, nil
	}
	for {
		s.mu.Lock()
		if conv, ok := s.dedupe[clientMsgID]; ok {
			s.mu.Unlock()
			return conv, true, nil
		}
		busy, inFlight := s.inflight[clientMsgID]
		if !inFlight {
			// No channel yet: most ids never see a retry while in flight,
			// and the first one that does makes it.
			s.inflight[clientMsgID] = nil
			s.mu.Unlock()
			return "", false, nil
		}
		if busy == nil {
			busy = make(chan struct{})
			s.inflight[clientMsgID] = busy
		}
		s.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
	}
}

// Finish ends the handling of a claimed id: sent records it (bounded
// window) so later retries are answered as duplicates; a failed attempt
// leaves the id free to be tried again.
func (s *Session) Finish(clientMsgID, conversationID string, sent bool) {
	if clientMsgID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if busy, ok := s.inflight[clientMsgID]; ok {
		if busy != nil {
			close(busy)
		}
		delete(s.inflight, clientMsgID)
	}
	if !sent {
		return
	}
	s.dedupe[clientMsgID] = conversationID
	s.dedupeQ = append(s.dedupeQ, clientMsgID)
	if len(s.dedupeQ) > s.mgr.cfg.DedupeWindow {
		delete(s.dedupe, s.dedupeQ[0])
		s.dedupeQ = s.dedupeQ[1:]
	}
}

// Touch records activity for the inactivity timeout.
func (s *Session) Touch() {
	s.mu.Lock()
	s.lastUsed = s.mgr.cfg.Now()
	s.mu.Unlock()
}

// Ended reports whether the session is over.
func (s *Session) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func hashToken(token []byte) [32]byte { return sha256.Sum256(token) }

func tokenMatches(hash [32]byte, token []byte) bool {
	h := hashToken(token)
	return subtle.ConstantTimeCompare(hash[:], h[:]) == 1
}
