package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// Record is a session as the Store keeps it: enough to let devices resume
// after a gateway restart. The password is only ever present sealed.
type Record struct {
	ID        string
	User      string
	Backend   string
	Login     string
	CreatedAt time.Time
	LastSeq   uint64
	// SealedPassword is set when the admin enabled credential caching.
	SealedPassword []byte
	VerifierSalt   []byte
	VerifierHash   []byte
	Devices        []DeviceRecord
	// Events are the logged events not yet acknowledged by every device
	// (marshalled parley.device.v1.Event), written at shutdown.
	Events [][]byte
	// Dedupe maps recent client message ids to their conversation.
	Dedupe map[string]string
	// Final marks the record SaveAll wrote at a clean shutdown: its resume
	// tokens and positions are the session's last. A record written while
	// the gateway ran may be behind by the changes of the last moments
	// before a crash.
	Final bool `json:",omitempty"`
}

// DeviceRecord is one device of a stored session.
type DeviceRecord struct {
	ID        string
	TokenHash []byte
	// SpentTokenHash is the token TokenHash replaced: after a crash it is
	// refused as spent rather than as possibly newer than the record.
	SpentTokenHash []byte `json:",omitempty"`
	Acked          uint64
	DetachedAt     time.Time
}

// Store persists session records, encoded by this package (JSON of
// Record) and opaque to the store. The configuration database implements
// it: a PostgreSQL deployment then keeps sessions where every node sees
// them, and an embedded one needs no second file.
type Store interface {
	// WriteSessions applies n changes in one transaction: row(i) is the
	// i-th; nil data deletes the record with that id.
	WriteSessions(ctx context.Context, n int, row func(i int) (id, user, backend string, data []byte)) error
	LoadSessions(ctx context.Context) ([][]byte, error)
}

// ErrReloginRequired: the session survived a restart but its backend
// session could not be re-opened (credential caching is off), or the
// device's resume token was rotated after the session's last save before
// a crash.
var ErrReloginRequired = errors.New("session: log in again")

// ErrNotSaved: a resume could not be made durable (the store failed), so
// the device keeps its old token and should try again later.
var ErrNotSaved = errors.New("session: the session could not be saved")

// Defaults of the write-behind persister.
const (
	defaultSaveDelay = 50 * time.Millisecond
	defaultSaveBatch = 256
	// ackSaveInterval is how often sessions whose acknowledged positions
	// moved are saved: positions matter only after a crash, so they are
	// written lazily, at most once per interval per session.
	ackSaveInterval = time.Second
	saveTimeout     = 10 * time.Second
)

// persister writes session records behind the requests that change them.
// A change marks its session pending; one goroutine writes pending
// sessions in batches, one transaction each, taking each session's state
// at the time of the write, so repeated changes to a session coalesce into
// one write. A deletion is queued like a save and written after any save
// of the session taken before it, so an ended session is never written
// back. A change that must be durable before it is answered (a resume
// token rotation, see saveDurably) waits for the transaction that holds
// it; the goroutine then writes at once instead of after the delay, and
// everything pending goes in that transaction, so a burst of resumes is
// still written in batches (a group commit). After stop, every change is
// written synchronously.
type persister struct {
	store  Store
	logger hclog.Logger
	delay  time.Duration
	batch  int

	writeMu sync.Mutex // one write to the store at a time, in queue order

	mu      sync.Mutex
	pending map[string]*pendingWrite
	queue   []*pendingWrite // pending writes, oldest first
	acked   []*Session      // sessions whose positions moved, saved lazily
	stopped atomic.Bool     // set under mu; read without it by Deliver

	wake   chan struct{} // a write became pending
	urgent chan struct{} // a caller waits for a pending write
	full   chan struct{} // a batch's worth is pending
	flush  chan chan struct{}
	quit   chan struct{}
	done   chan struct{}
}

type pendingWrite struct {
	s       *Session
	remove  bool         // delete the record
	events  bool         // save the event log and dedupe window too
	waiters []chan error // told the outcome of the transaction that writes it
}

func newPersister(store Store, logger hclog.Logger, delay time.Duration, batch int) *persister {
	p := &persister{store: store, logger: logger, delay: delay, batch: batch, pending: map[string]*pendingWrite{},
		wake: make(chan struct{}, 1), urgent: make(chan struct{}, 1), full: make(chan struct{}, 1), flush: make(chan chan struct{}),
		quit: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *persister) run() {
	defer close(p.done)
	ticker := time.NewTicker(ackSaveInterval)
	defer ticker.Stop()
	var due <-chan time.Time // armed while writes wait for the delay
	for {
		select {
		case <-p.wake:
			if due == nil {
				due = time.After(p.delay)
			}
			continue
		case <-ticker.C:
			p.markAcked()
			continue
		case reply := <-p.flush:
			p.markAcked()
			p.drain()
			close(reply)
			continue
		case <-p.quit:
			p.drain()
			return
		case <-due:
		case <-p.full:
		case <-p.urgent:
		}
		due = nil
		p.drain()
	}
}

// mark makes a write of s pending (or writes it at once after stop).
func (p *persister) mark(s *Session, remove, events bool) {
	p.markWaiting(s, remove, events, nil)
}

// saveDurably writes s (with whatever else is pending) without waiting for
// the save delay and returns when the transaction holding it committed,
// with its error.
func (p *persister) saveDurably(s *Session) error {
	done := make(chan error, 1)
	p.markWaiting(s, false, false, done)
	return <-done
}

// markWaiting makes a write of s pending; done, if not nil, receives the
// outcome of the write.
func (p *persister) markWaiting(s *Session, remove, events bool, done chan error) {
	p.mu.Lock()
	if p.stopped.Load() {
		// After SaveAll every record is final: a later write keeps the
		// session's events with it.
		p.mu.Unlock()
		err := p.write([]pendingWrite{{s: s, remove: remove, events: true}})
		if done != nil {
			done <- err
		}
		return
	}
	w, ok := p.pending[s.ID]
	if !ok {
		w = &pendingWrite{s: s}
		p.pending[s.ID] = w
		p.queue = append(p.queue, w)
	}
	w.remove = w.remove || remove
	w.events = w.events || events
	if done != nil {
		w.waiters = append(w.waiters, done)
	}
	n := len(p.queue)
	p.mu.Unlock()
	if done != nil {
		signal(p.urgent)
	} else {
		signal(p.wake)
	}
	if n >= p.batch {
		signal(p.full)
	}
}

// markAckedLater schedules a lazy save of a session whose acknowledged
// position moved; the caller set s.ackDirty.
func (p *persister) markAckedLater(s *Session) {
	p.mu.Lock()
	if !p.stopped.Load() {
		p.acked = append(p.acked, s)
	}
	p.mu.Unlock()
}

func (p *persister) markAcked() {
	p.mu.Lock()
	acked := p.acked
	p.acked = nil
	p.mu.Unlock()
	for _, s := range acked {
		s.ackDirty.Store(false)
		if !s.Ended() {
			p.mark(s, false, false)
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// drain writes every pending change, a batch at a time.
func (p *persister) drain() {
	for {
		p.mu.Lock()
		n := min(len(p.queue), p.batch)
		batch := make([]pendingWrite, n)
		for i, w := range p.queue[:n] {
			batch[i] = *w
			delete(p.pending, w.s.ID)
			p.queue[i] = nil
		}
		p.queue = p.queue[n:]
		if len(p.queue) == 0 {
			p.queue = nil
		}
		p.mu.Unlock()
		if n == 0 {
			return
		}
		err := p.write(batch)
		for _, w := range batch {
			for _, done := range w.waiters {
				done <- err
			}
		}
	}
}

type sessionRow struct {
	id, user, backend string
	data              []byte // nil: delete
}

// write stores a batch in one transaction, each session as it is now. A
// failure is logged and returned for the callers waiting for the batch;
// for the others it is not fatal: the sessions work, they just may not
// survive a restart.
func (p *persister) write(batch []pendingWrite) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	rows := make([]sessionRow, 0, len(batch))
	for _, w := range batch {
		if w.remove {
			rows = append(rows, sessionRow{id: w.s.ID})
			continue
		}
		r, ok := w.s.record(w.events)
		if !ok {
			continue // ended (its deletion is queued) or not open yet
		}
		data, err := json.Marshal(r)
		if err != nil {
			p.logger.Warn("encoding session", "session", w.s.ID, "error", err)
			continue
		}
		rows = append(rows, sessionRow{id: w.s.ID, user: w.s.User, backend: w.s.Backend, data: data})
	}
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	err := p.store.WriteSessions(ctx, len(rows), func(i int) (string, string, string, []byte) {
		return rows[i].id, rows[i].user, rows[i].backend, rows[i].data
	})
	if err != nil {
		p.logger.Warn("saving sessions", "sessions", len(rows), "error", err)
		return fmt.Errorf("session: saving %d sessions: %w", len(rows), err)
	}
	return nil
}

// flushPending writes every change made before the call, moved
// acknowledged positions included, and returns when they are stored.
func (p *persister) flushPending() {
	reply := make(chan struct{})
	select {
	case p.flush <- reply:
		<-reply
	case <-p.done: // stopped: changes are written synchronously
	}
}

// stop writes what is pending and ends the goroutine; later changes are
// written synchronously.
func (p *persister) stop() {
	p.mu.Lock()
	if p.stopped.Load() {
		p.mu.Unlock()
		return
	}
	p.stopped.Store(true)
	p.acked = nil
	p.mu.Unlock()
	close(p.quit)
	<-p.done
}

// record captures the session for the store; withEvents adds the log and
// the dedupe window. It reports false for a session that ended or whose
// backend session is not open yet (there is nothing to resume).
func (s *Session) record(withEvents bool) (Record, bool) {
	select {
	case <-s.ready:
	default:
		return Record{}, false
	}
	if s.openErr != nil {
		return Record{}, false
	}
	<-s.verifierReady // being derived since the open, off the login's path
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return Record{}, false
	}
	r := Record{ID: s.ID, User: s.User, Backend: s.Backend, Login: s.Login, CreatedAt: s.createdAt,
		LastSeq: s.log.lastSeq, SealedPassword: s.sealed, VerifierSalt: s.verifier.salt[:], VerifierHash: s.verifier.hash}
	for _, d := range s.devices {
		// A copy: the record is encoded after s.mu is released, while the
		// device may re-attach with a new token.
		hash, spent := d.tokenHash, d.spentHash
		r.Devices = append(r.Devices, DeviceRecord{ID: d.ID, TokenHash: hash[:], SpentTokenHash: spent[:], Acked: d.acked, DetachedAt: d.detachedAt})
	}
	if withEvents {
		r.Final = true
		for _, e := range s.log.entries {
			if b, err := proto.Marshal(e.event); err == nil {
				r.Events = append(r.Events, b)
			}
		}
		r.Dedupe = make(map[string]string, len(s.dedupe))
		for k, v := range s.dedupe {
			r.Dedupe[k] = v
		}
	}
	return r, true
}

// save queues a write of the session's record.
func (m *Manager) save(s *Session) {
	if m.persist != nil {
		m.persist.mark(s, false, false)
	}
}

// forget queues the deletion of the session's record; it is written after
// any save queued or in progress, so the session does not come back.
func (m *Manager) forget(s *Session) {
	if m.persist != nil {
		m.persist.mark(s, true, false)
	}
}

// delivered writes a session that got an event after SaveAll.
func (m *Manager) delivered(s *Session) {
	if m.persist != nil && m.persist.stopped.Load() {
		m.persist.mark(s, false, true)
	}
}

// ackMoved schedules a lazy save of the session's acknowledged positions.
func (m *Manager) ackMoved(s *Session) {
	if m.persist != nil && s.ackDirty.CompareAndSwap(false, true) {
		m.persist.markAckedLater(s)
	}
}

// Flush writes every session change made so far and returns when the
// store has it.
func (m *Manager) Flush() {
	if m.persist != nil {
		m.persist.flushPending()
	}
}

// SaveAll writes every session with its event log and dedupe window and
// waits for the store (at shutdown). After it, the persister's goroutine
// is gone and every later change is written at once, events delivered
// while the gateway stops included (a transfer that ends, sessions ending
// as their backends stop), so the store has them when it closes.
func (m *Manager) SaveAll() {
	if m.persist == nil {
		return
	}
	for _, s := range m.Sessions() {
		m.persist.mark(s, false, true)
	}
	m.persist.stop()
}

// Restore loads the stored sessions after a restart. Sessions with a
// sealed password come back detached and marked for re-opening (see
// Reopen); their devices can resume at once. Sessions without one cannot
// reach their backend again: their devices get ErrReloginRequired.
func (m *Manager) Restore(ctx context.Context) (restored, relogin int, err error) {
	if m.cfg.Store == nil {
		return 0, 0, nil
	}
	blobs, err := m.cfg.Store.LoadSessions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("session: restoring: %w", err)
	}
	now := m.cfg.Now()
	var unusable []string
	for _, blob := range blobs {
		var r Record
		if err := json.Unmarshal(blob, &r); err != nil || r.ID == "" {
			m.cfg.Logger.Warn("skipping an unreadable stored session", "error", err)
			continue
		}
		if r.SealedPassword == nil || m.cfg.Sealer == nil {
			m.mu.Lock()
			m.relogin[r.ID] = now.Add(m.cfg.DetachTTL)
			m.mu.Unlock()
			unusable = append(unusable, r.ID)
			relogin++
			continue
		}
		s := m.newSession(r.ID, r.User, r.Backend, r.Login)
		close(s.ready)
		s.createdAt, s.sealed, s.needsReopen = r.CreatedAt, r.SealedPassword, true
		if !r.Final {
			s.staleUntil = now.Add(m.cfg.DetachTTL)
		}
		s.seqLimit = restoredSeqLimit(r, m.cfg.MaxEvents)
		copy(s.verifier.salt[:], r.VerifierSalt)
		s.verifier.hash = r.VerifierHash
		close(s.verifierReady)
		s.log.lastSeq = r.LastSeq
		for _, b := range r.Events {
			var e devicev1.Event
			if proto.Unmarshal(b, &e) == nil {
				s.log.restore(&e)
			}
		}
		for k, v := range r.Dedupe {
			s.dedupe[k] = v
			s.dedupeQ = append(s.dedupeQ, k)
		}
		for _, dr := range r.Devices {
			d := &Device{ID: dr.ID, sess: s, wake: make(chan struct{}, 1), acked: dr.Acked, cursor: dr.Acked, detachedAt: now, restored: true}
			copy(d.tokenHash[:], dr.TokenHash)
			copy(d.spentHash[:], dr.SpentTokenHash)
			s.devices[d.ID] = d
		}
		m.mu.Lock()
		m.byID[s.ID] = s
		m.byUser[s.User] = s
		m.mu.Unlock()
		restored++
	}
	err = m.cfg.Store.WriteSessions(ctx, len(unusable), func(i int) (string, string, string, []byte) {
		return unusable[i], "", "", nil
	})
	if err != nil {
		m.cfg.Logger.Warn("deleting stored sessions that need a new login", "error", err)
	}
	return restored, relogin, nil
}

// restoredSeqLimit is the highest last_seq a device of a restored session
// may claim on its first resume. A record written at a clean shutdown
// holds the session's last seq. One written while the gateway ran may lag
// behind what devices saw before a crash, but not by more than the event
// log holds: a device that fell further behind would have got a gap.
func restoredSeqLimit(r Record, maxEvents int) uint64 {
	if r.Final {
		return r.LastSeq
	}
	if r.LastSeq > math.MaxUint64-uint64(maxEvents) {
		return math.MaxUint64
	}
	return r.LastSeq + uint64(maxEvents)
}

// NeedsReopen lists the sessions of a backend whose backend session must
// be opened again (after a gateway restart or a plugin crash), with their
// cached passwords. A session without a cached password is not listed.
func (m *Manager) NeedsReopen(backend string) []*Session {
	var out []*Session
	for _, s := range m.Sessions() {
		s.mu.Lock()
		if s.Backend == backend && s.needsReopen && s.sealed != nil {
			out = append(out, s)
		}
		s.mu.Unlock()
	}
	return out
}

// MarkReopen flags every session of a backend for re-opening (its plugin
// restarted). It returns the sessions that have no cached password and so
// cannot be re-opened.
func (m *Manager) MarkReopen(backend string) (lost []*Session) {
	for _, s := range m.Sessions() {
		s.mu.Lock()
		if s.Backend == backend {
			if s.sealed != nil && m.cfg.Sealer != nil {
				s.needsReopen = true
			} else {
				lost = append(lost, s)
			}
		}
		s.mu.Unlock()
	}
	return lost
}

// Password unseals the session's cached password.
func (m *Manager) Password(s *Session) (string, error) {
	if m.cfg.Sealer == nil || s.sealed == nil {
		return "", ErrReloginRequired
	}
	return m.cfg.Sealer.Open(s.ID, s.sealed)
}

// Reopened records that the session's backend session is open again.
func (s *Session) Reopened() {
	s.mu.Lock()
	s.needsReopen = false
	s.mu.Unlock()
}

// Reopening reports whether the session waits for its backend session.
func (s *Session) Reopening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.needsReopen
}
