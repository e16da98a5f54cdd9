package filexfer

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

type direction int

const (
	sending   direction = iota + 1 // the session's user uploads
	receiving                      // the session's user downloads
)

func (d direction) String() string {
	if d == sending {
		return configdb.TransferSend
	}
	return configdb.TransferReceive
}

// transfer is one active upload or download, bound to the device that
// offered or accepted it. Its data lives in a spool file; the fields under
// mu say how far each side has come.
type transfer struct {
	m       *Manager
	id      string
	dir     direction
	sess    *session.Session
	dev     *session.Device
	backend Backend
	peer    string // the recipient (sending) or the sender (receiving)
	conv    string
	name    string
	size    uint64
	wantSum []byte // the sender's sha256, when known
	start   time.Time
	ctx     context.Context // the plugin call's; cancelled when the transfer ends
	cancel  context.CancelCauseFunc

	reserved int64 // spool room, guarded by m.mu

	mu         sync.Mutex
	done       bool
	spool      *spool
	lastActive time.Time // the device's last sign of life on this transfer
	changed    chan struct{}
	ended      chan struct{} // closed once finish has reported the end
	upload
	download
}

// upload is the state of a transfer the device sends.
type upload struct {
	received uint64 // bytes from the device in the spool (= spool.size)
	consumed uint64 // bytes the plugin has read
	ackGen   uint64 // the link generation the last ack went out on
	ackSent  uint64
	reported uint64 // bytes of the last TRANSFERRING event
	fullSum  []byte // sha256 of the whole file, once it is all in
	matched  bool   // a download on this gateway receives it (guarded by m.mu)
}

// download is the state of a transfer the device receives.
type download struct {
	optimize bool
	screen   [2]int // the device's screen, when optimising
	note     string
	complete bool   // all data is in the spool and checked
	out      *spool // the optimised copy, if one is delivered
	total    uint64 // size of what is delivered, known once complete
	gen      uint64 // the link generation that may receive chunks
	cursor   uint64 // next offset to send on gen
	acked    uint64 // the device's cumulative ack
	lastSent bool
	// sender is the upload this file comes from, when its sender is a
	// user of this gateway: it learns when the file is accepted.
	sender *transfer
}

func newTransfer(m *Manager, dir direction, d *session.Device, b Backend, id string) *transfer {
	ctx, cancel := context.WithCancelCause(m.ctx)
	now := m.o.Now()
	return &transfer{m: m, id: id, dir: dir, sess: d.Session(), dev: d, backend: b, start: now, lastActive: now,
		ctx: ctx, cancel: cancel, changed: make(chan struct{}, 1), ended: make(chan struct{})}
}

// poke wakes a goroutine waiting on t.changed.
func (t *transfer) poke() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// next returns the messages t has for the link of generation gen, using at
// most budget bytes of data; pending says that more is ready.
func (t *transfer) next(gen uint64, budget int) (msgs []*devicev1.Message, used int, pending bool) {
	if t.dir == sending {
		return t.nextAck(gen), 0, false
	}
	return t.nextChunks(gen, budget)
}

// waitingOnDevice reports whether t has waited for its device longer than
// window.
func (t *transfer) waitingOnDevice(now time.Time, window time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || now.Sub(t.lastActive) < window {
		return false
	}
	if t.dir == sending {
		// The plugin has read everything the device sent and wants more.
		return t.consumed == t.received && t.received < t.size && t.consumed > 0
	}
	return t.complete && t.acked < t.total
}

// ending is how a transfer ends: the event its session gets and the
// record the transfer log keeps.
type ending struct {
	state   devicev1.FileProgress_State
	outcome string
	rule    string
	err     error
	note    string
}

func completed(note string) ending {
	return ending{state: devicev1.FileProgress_COMPLETED, outcome: configdb.OutcomeDelivered, note: note}
}

func failed(err error) ending {
	return ending{state: devicev1.FileProgress_FAILED, outcome: configdb.OutcomeFailed, err: err}
}

func cancelled(why string) ending {
	return ending{state: devicev1.FileProgress_CANCELLED, outcome: configdb.OutcomeCancelled, err: sdk.Errorf(sdk.ReasonCancelled, "%s", why)}
}

func declined(err error) ending {
	return ending{state: devicev1.FileProgress_DECLINED, outcome: configdb.OutcomeDeclined, err: err}
}

// refusal classifies an error that refused a file: which rule, if any.
func refusal(err error) ending {
	e := failed(err)
	var tooLarge *configdb.FileTooLargeError
	switch {
	case errors.Is(err, configdb.ErrTransferDisabled):
		e.rule = configdb.RuleDisabled
	case errors.As(err, &tooLarge):
		e.rule = configdb.RuleGatewayLimit
	case errors.Is(err, configdb.ErrFileTypeBlocked):
		e.rule = configdb.RuleTypeBlocked
	case errors.Is(err, &sdk.Error{Reason: sdk.ReasonFileTooLarge}):
		e.rule = configdb.RuleIMServerLimit
	case errors.Is(err, &sdk.Error{Reason: sdk.ReasonUnsupported}):
		e.rule = configdb.RuleUnsupported
	case errors.Is(err, ErrBusy):
	default:
		return e
	}
	e.outcome = configdb.OutcomeRefused
	return e
}

// fromBackend classifies the error a plugin call ended with.
func fromBackend(err error) ending {
	switch sdk.ReasonOf(err) {
	case sdk.ReasonDeclined:
		return declined(err)
	case sdk.ReasonCancelled:
		return ending{state: devicev1.FileProgress_CANCELLED, outcome: configdb.OutcomeCancelled, err: err}
	}
	return refusal(err)
}

// finish ends t once: it stops the plugin call, removes the spool files,
// records the transfer and tells the session.
func (m *Manager) finish(t *transfer, e ending) {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return
	}
	t.done = true
	bytes := t.received
	if t.dir == receiving {
		bytes = t.acked
	}
	var sum string
	if t.spool != nil && t.spool.size == t.size {
		sum = hex.EncodeToString(t.spool.digest())
	} else if len(t.wantSum) > 0 {
		sum = hex.EncodeToString(t.wantSum)
	}
	if t.spool != nil {
		t.spool.remove()
	}
	if t.out != nil {
		t.out.remove()
	}
	note := e.note
	if note == "" {
		note = t.note
	}
	t.mu.Unlock()
	cause := e.err
	if cause == nil {
		cause = context.Canceled
	}
	t.cancel(cause)
	t.poke()
	if t.dir == receiving && e.state != devicev1.FileProgress_COMPLETED {
		// The plugin may not have taken the acceptance before the call
		// was cancelled; a decline then ends the offer for the sender.
		go m.declineFor(&offer{id: t.id, sess: t.sess, backend: t.backend})
	}
	m.unregister(t)
	m.signal(t.dev)
	// The device hears first; the transfer log is a database write.
	m.progress(t, e.state, bytes, e.err, note)
	m.record(t.dir, t.sess, t.id, t.peer, t.name, t.size, bytes, e, sum)
	m.metrics.ended(t.dir, e.outcome)
	if e.outcome != configdb.OutcomeDelivered {
		m.log.Debug("file transfer ended", "transfer", t.id, "user", t.sess.User, "direction", t.dir, "outcome", e.outcome, "error", e.err)
	}
	m.reported(t)
}

// record writes the transfer log entry of a transfer that ended.
func (m *Manager) record(dir direction, s *session.Session, id, peer, name string, size, bytes uint64, e ending, sum string) {
	if m.o.Journal == nil {
		return
	}
	r := configdb.TransferRecord{TransferID: id, Direction: dir.String(), User: s.User, Backend: s.Backend,
		Name: name, Size: int64(min(size, 1<<62)), Bytes: int64(min(bytes, 1<<62)), Outcome: e.outcome, Rule: e.rule, SHA256: sum}
	if dir == sending {
		r.Sender, r.Recipient = s.Login, peer
	} else {
		r.Sender, r.Recipient = peer, s.Login
	}
	switch {
	case e.err != nil:
		r.Detail = m.o.DeviceError(e.err).GetMessage()
	case e.note != "":
		r.Detail = e.note
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.o.Journal.RecordTransfer(ctx, r); err != nil {
		m.log.Warn("recording a file transfer", "transfer", id, "error", err)
	}
}
