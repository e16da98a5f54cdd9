package filexfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"github.com/prometheus/client_golang/prometheus"
)

// Protocol constants of the device side (docs/device-protocol.md §12).
const (
	// Window is how many bytes of one transfer may be unacknowledged, in
	// either direction.
	Window = 512 << 10
	// MaxChunk is the most data one FileChunk carries. Its frame, with the
	// envelope, fits frame.MaxBulkBody.
	MaxChunk = 64 << 10
)

// Defaults of Options.
const (
	DefaultResumeWindow   = 10 * time.Minute
	DefaultMaxActive      = 8
	DefaultMaxPending     = 64
	DefaultSpoolLimit     = 4 << 30
	DefaultMaxImagePixels = 16_000_000
)

// nextBudget bounds the chunk data one Next call returns: one chunk of the
// default size, a few when ChunkSize is small. The link frames each chunk
// (and gives its buffer back) before it flushes, so a link holds one chunk
// buffer at a time rather than one for every chunk of a round, and its
// writer gets back to its other duties between chunks.
const nextBudget = MaxChunk

// Policies gives the file policy that applies to a gateway user: their
// group's, or the configuration's default.
type Policies interface {
	Policy(ctx context.Context, user string) (configdb.Policy, error)
}

// Journal records transfers that ended (the admin's transfer log).
type Journal interface {
	RecordTransfer(ctx context.Context, r configdb.TransferRecord) (configdb.TransferRecord, error)
}

// Backend is a plugin's file transfer as the manager uses it; *sdk.Client
// is one.
type Backend interface {
	SendFile(ctx context.Context, h sdk.FileHeader, r io.Reader) (uint64, error)
	ReceiveFile(ctx context.Context, sessionID, transferID string, w io.Writer) error
	DeclineFile(ctx context.Context, sessionID, transferID string) error
}

// Options configure a Manager.
type Options struct {
	// Policies is required.
	Policies Policies
	// Journal records ended transfers; nil records nothing.
	Journal Journal
	// SpoolDir holds the transfers' spool files; it is created, and
	// emptied of a previous run's files. Required.
	SpoolDir string
	// DeviceError turns an error into the typed error a device sees in
	// FileProgress.error (the router's DeviceError). Required.
	DeviceError func(error) *devicev1.Error
	// ChunkSize is the data per FileChunk the gateway sends, at most
	// MaxChunk (the default); lower it to fit a small max_frame.
	ChunkSize int
	// ResumeWindow is how long a transfer waits for its device to come
	// back and carry on (default DefaultResumeWindow).
	ResumeWindow time.Duration
	// MaxActive bounds the transfers a session runs at once (default
	// DefaultMaxActive); MaxPending the offers it keeps unanswered
	// (DefaultMaxPending, the oldest is forgotten beyond it).
	MaxActive, MaxPending int
	// SpoolLimit bounds the disk all spool files may take, reserved by
	// announced size (default DefaultSpoolLimit).
	SpoolLimit int64
	// MaxImagePixels bounds the images optimised for a device; larger
	// ones are delivered unchanged (default DefaultMaxImagePixels).
	MaxImagePixels int
	Logger         hclog.Logger
	Registerer     prometheus.Registerer
	// Now is the clock (tests).
	Now func() time.Time
}

// Manager runs every file transfer of the gateway.
type Manager struct {
	o        Options
	log      hclog.Logger
	metrics  *metrics
	ctx      context.Context // parent of every transfer; cancelled by Close
	stop     context.CancelFunc
	janitor  chan struct{} // closed when the janitor has stopped
	optimize chan struct{} // one image optimisation at a time
	bufs     *chunkBuffers

	mu        sync.Mutex
	transfers map[transferKey]*transfer // active uploads and downloads
	finishing map[*transfer]bool        // unregistered, their end not yet reported
	offers    map[transferKey]*offer    // offers not answered yet
	devices   map[*session.Device]*deviceFiles
	spoolUsed int64
	ended     map[transferKey]bool // recently ended, oldest first in endedQ
	endedQ    []transferKey
}

// recentlyEnded bounds the ended transfers remembered so that a plugin's
// late progress events about them are not passed on.
const recentlyEnded = 1024

type transferKey struct{ session, id string }

// deviceFiles is a device's share of the transfers: the ones it sends or
// receives, and the signal that wakes its link's writer.
type deviceFiles struct {
	wake      chan struct{}
	transfers []*transfer
	next      int // round-robin start for Next
}

// New returns a running Manager; Close stops it.
func New(o Options) (*Manager, error) {
	if o.Policies == nil || o.DeviceError == nil || o.SpoolDir == "" {
		return nil, errors.New("filexfer: Policies, DeviceError and SpoolDir are required")
	}
	if o.ChunkSize <= 0 || o.ChunkSize > MaxChunk {
		o.ChunkSize = MaxChunk
	}
	if o.ResumeWindow <= 0 {
		o.ResumeWindow = DefaultResumeWindow
	}
	if o.MaxActive <= 0 {
		o.MaxActive = DefaultMaxActive
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.SpoolLimit <= 0 {
		o.SpoolLimit = DefaultSpoolLimit
	}
	if o.MaxImagePixels <= 0 {
		o.MaxImagePixels = DefaultMaxImagePixels
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := cleanSpoolDir(o.SpoolDir); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	m := &Manager{o: o, log: o.Logger, ctx: ctx, stop: stop, janitor: make(chan struct{}), optimize: make(chan struct{}, 1),
		transfers: map[transferKey]*transfer{}, finishing: map[*transfer]bool{}, offers: map[transferKey]*offer{}, devices: map[*session.Device]*deviceFiles{},
		ended: map[transferKey]bool{}}
	m.bufs = newChunkBuffers(o.ChunkSize)
	m.metrics = newMetrics(o.Registerer, m)
	go m.sweep()
	return m, nil
}

// Close ends every transfer (they are recorded as failed) and removes the
// spool files. It returns once every transfer's end has been recorded and
// delivered to its session, including those another goroutine was
// finishing at the time, so a session saved after Close has them.
func (m *Manager) Close() {
	m.stop()
	<-m.janitor
	m.mu.Lock()
	ts := make([]*transfer, 0, len(m.transfers)+len(m.finishing))
	for _, t := range m.transfers {
		ts = append(ts, t)
	}
	for t := range m.finishing {
		ts = append(ts, t)
	}
	m.mu.Unlock()
	// No transfer is admitted once m.ctx is cancelled, and a transfer
	// leaves m.transfers only for m.finishing, so ts holds every
	// transfer whose end may not have been delivered yet.
	for _, t := range ts {
		m.finish(t, failed(ErrClosed))
	}
	waiting := 0
	for _, t := range ts {
		select {
		case <-t.ended:
		default:
			waiting++
		}
	}
	if waiting == 0 {
		return
	}
	m.log.Debug("waiting for file transfers that are ending", "transfers", waiting)
	for _, t := range ts {
		<-t.ended
	}
}

func (m *Manager) all() []*transfer {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*transfer, 0, len(m.transfers))
	for _, t := range m.transfers {
		out = append(out, t)
	}
	return out
}

func newTransferID() string {
	var b [12]byte
	rand.Read(b[:])
	return "f" + hex.EncodeToString(b[:])
}

// lookup returns the session's transfer id.
func (m *Manager) lookup(s *session.Session, id string) (*transfer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.transfers[transferKey{s.ID, id}]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTransfer, id)
	}
	return t, nil
}

// admit registers t (a new upload, or an accepted offer turning into a
// download) as active on its device: it checks the session's transfer
// count and reserves spool room for its size.
func (m *Manager) admit(t *transfer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return ErrClosed
	}
	active := 0
	for k := range m.transfers {
		if k.session == t.sess.ID {
			active++
		}
	}
	if active >= m.o.MaxActive {
		return fmt.Errorf("%w: the session already runs %d transfers", ErrBusy, active)
	}
	if m.spoolUsed+int64(t.size) > m.o.SpoolLimit {
		return fmt.Errorf("%w: the gateway's spool has no room for %d bytes", ErrBusy, t.size)
	}
	m.spoolUsed += int64(t.size)
	t.reserved = int64(t.size)
	m.transfers[transferKey{t.sess.ID, t.id}] = t
	df := m.devices[t.dev]
	if df == nil {
		df = &deviceFiles{wake: make(chan struct{}, 1)}
		m.devices[t.dev] = df
	}
	df.transfers = append(df.transfers, t)
	return nil
}

// addPending registers an offer the session's user has not answered; the
// oldest is dropped and returned beyond MaxPending.
func (m *Manager) addPending(o *offer) (dropped *offer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var oldest *offer
	pending := 0
	for k, p := range m.offers {
		if k.session == o.sess.ID {
			pending++
			if oldest == nil || p.start.Before(oldest.start) {
				oldest = p
			}
		}
	}
	m.offers[transferKey{o.sess.ID, o.id}] = o
	if pending < m.o.MaxPending {
		return nil
	}
	delete(m.offers, transferKey{oldest.sess.ID, oldest.id})
	return oldest
}

// markEnded remembers that a transfer of the session has ended.
func (m *Manager) markEnded(s *session.Session, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.markEndedLocked(transferKey{s.ID, id})
}

func (m *Manager) markEndedLocked(k transferKey) {
	if m.ended[k] {
		return
	}
	m.ended[k] = true
	m.endedQ = append(m.endedQ, k)
	if len(m.endedQ) > recentlyEnded {
		delete(m.ended, m.endedQ[0])
		m.endedQ = m.endedQ[1:]
	}
}

// unregister forgets t and releases its spool room; t stays among the
// finishing transfers until ended.
func (m *Manager) unregister(t *transfer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := transferKey{t.sess.ID, t.id}
	if m.transfers[k] == t {
		delete(m.transfers, k)
	}
	m.finishing[t] = true
	m.markEndedLocked(k)
	m.spoolUsed -= t.reserved
	t.reserved = 0
	if df := m.devices[t.dev]; df != nil {
		for i, o := range df.transfers {
			if o == t {
				df.transfers = append(df.transfers[:i], df.transfers[i+1:]...)
				break
			}
		}
	}
}

// reported marks t's end as recorded and delivered.
func (m *Manager) reported(t *transfer) {
	m.mu.Lock()
	delete(m.finishing, t)
	m.mu.Unlock()
	close(t.ended)
}

// signal wakes the link writer of t's device.
func (m *Manager) signal(d *session.Device) {
	m.mu.Lock()
	df := m.devices[d]
	m.mu.Unlock()
	if df != nil {
		select {
		case df.wake <- struct{}{}:
		default:
		}
	}
}

// Wake is signalled when the device has file data or acknowledgements to
// be sent. It is the same channel for every link of the device.
func (m *Manager) Wake(d *session.Device) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	df := m.devices[d]
	if df == nil {
		df = &deviceFiles{wake: make(chan struct{}, 1)}
		m.devices[d] = df
	}
	return df.wake
}

// Next returns the file messages (chunks of downloads, acknowledgements
// of uploads) the device's link with attachment generation gen should
// send now: whole chunks of at most nextBudget bytes together, and never
// more than a transfer's window. If more is ready, Wake is signalled again.
// Next never blocks on the network. The chunks' data is lent: give it back
// with Release once the chunks are framed.
func (m *Manager) Next(d *session.Device, gen uint64) []*devicev1.Message {
	m.mu.Lock()
	df := m.devices[d]
	var list []*transfer
	if df != nil && len(df.transfers) > 0 {
		start := df.next % len(df.transfers)
		list = append(list, df.transfers[start:]...)
		list = append(list, df.transfers[:start]...)
		df.next++
	}
	m.mu.Unlock()
	var out []*devicev1.Message
	budget, more := nextBudget, false
	for _, t := range list {
		msgs, used, pending := t.next(gen, budget)
		out = append(out, msgs...)
		budget -= used
		more = more || pending
	}
	if more {
		m.signal(d)
	}
	return out
}

// FromDevice takes a FileChunk (upload data) or FileChunkAck (download
// progress) the device sent. Messages for unknown or ended transfers are
// dropped: the device learns a transfer's end from its FileProgress event.
// It never blocks on the plugin, and keeps no reference to msg or to a
// chunk's data once it returns (the data is written to the spool), so the
// caller may reuse the data's buffer.
func (m *Manager) FromDevice(d *session.Device, msg *devicev1.Message) {
	var id string
	switch b := msg.Body.(type) {
	case *devicev1.Message_FileChunk:
		id = b.FileChunk.TransferId
	case *devicev1.Message_FileChunkAck:
		id = b.FileChunkAck.TransferId
	default:
		return
	}
	t, err := m.lookup(d.Session(), id)
	if err != nil || t.dev != d {
		return
	}
	var ferr error
	switch b := msg.Body.(type) {
	case *devicev1.Message_FileChunk:
		ferr = t.chunk(b.FileChunk)
	case *devicev1.Message_FileChunkAck:
		ferr = t.ack(b.FileChunkAck.Offset)
	}
	if ferr != nil {
		m.log.Info("file transfer failed: device broke the chunk protocol", "transfer", t.id, "user", t.sess.User, "error", ferr)
		m.finish(t, failed(ferr))
	}
}

// SessionEnded cancels the session's transfers; the session manager has
// ended it, so no device learns of it.
func (m *Manager) SessionEnded(s *session.Session) {
	for _, t := range m.all() {
		if t.sess == s {
			m.finish(t, cancelled("the session ended"))
		}
	}
	m.mu.Lock()
	var offers []*offer
	for k, o := range m.offers {
		if k.session == s.ID {
			offers = append(offers, o)
			delete(m.offers, k)
		}
	}
	for d := range m.devices {
		if d.Session() == s {
			delete(m.devices, d)
		}
	}
	m.mu.Unlock()
	for _, o := range offers {
		m.endOffer(o, cancelled("the session ended"))
	}
}

// DeviceGone cancels the transfers of a device that logged out.
func (m *Manager) DeviceGone(d *session.Device) {
	for _, t := range m.all() {
		if t.dev == d {
			m.finish(t, cancelled("the device logged out"))
		}
	}
	m.mu.Lock()
	delete(m.devices, d)
	m.mu.Unlock()
}

// sweep fails transfers whose device has not come back within the resume
// window, until Close.
func (m *Manager) sweep() {
	defer close(m.janitor)
	tick := time.NewTicker(min(max(m.o.ResumeWindow/10, 100*time.Millisecond), 30*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-tick.C:
		}
		now := m.o.Now()
		for _, t := range m.all() {
			if t.waitingOnDevice(now, m.o.ResumeWindow) {
				m.log.Info("file transfer abandoned by its device", "transfer", t.id, "user", t.sess.User)
				m.finish(t, failed(fmt.Errorf("%w (%v)", ErrAbandoned, m.o.ResumeWindow)))
			}
		}
	}
}

// deliver sends t's session a FileProgress event.
func (m *Manager) progress(t *transfer, state devicev1.FileProgress_State, bytes uint64, err error, note string) {
	p := &devicev1.FileProgress{TransferId: t.id, State: state, Bytes: bytes, Note: note}
	if err != nil {
		p.Error = m.o.DeviceError(err)
	}
	t.sess.Deliver(&devicev1.Event{TimeUnixMs: m.o.Now().UnixMilli(), Kind: &devicev1.Event_FileProgress{FileProgress: p}})
}
