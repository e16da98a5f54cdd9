package filexfer

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// declineTimeout bounds a decline the gateway sends on a user's behalf.
const declineTimeout = 10 * time.Second

// offer is a file offered to a session's user that they have not answered.
type offer struct {
	id, from, name, conv string
	size                 uint64
	sess                 *session.Session
	backend              Backend
	start                time.Time
	sender               *transfer // the upload it comes from, if on this gateway
}

// Offered turns a plugin's file offer into a FileInvitation event for the
// session. An offer the user's policy refuses is declined at once on their
// behalf: the devices get the invitation followed by a FileProgress FAILED
// that names the rule, and the sender learns that it was declined.
func (m *Manager) Offered(ctx context.Context, b Backend, s *session.Session, e sdk.FileOfferEvent) {
	name, err := cleanName(e.Name)
	if err != nil {
		name = "file"
	}
	o := &offer{id: e.TransferID, from: e.From, name: name, conv: e.ConversationID, size: e.Size, sess: s, backend: b,
		start: m.o.Now()}
	o.sender = m.matchUpload(s, o)
	invitation := &devicev1.Event{TimeUnixMs: m.o.Now().UnixMilli(), Kind: &devicev1.Event_FileInvitation{FileInvitation: &devicev1.FileInvitation{
		TransferId: o.id, From: o.from, Name: o.name, Size: o.size, ConversationId: o.conv}}}
	if _, err := m.check(ctx, s, name, e.Size); err != nil {
		m.log.Info("file refused", "user", s.User, "direction", receiving, "name", name, "size", e.Size, "error", err)
		s.Deliver(invitation)
		go m.declineFor(o)
		m.endOffer(o, refusal(err))
		return
	}
	// Registered before the devices hear of it: an AcceptFile may follow
	// the invitation at once.
	old := m.addPending(o)
	s.Deliver(invitation)
	if old != nil {
		m.log.Warn("too many unanswered file offers; declining the oldest", "user", s.User, "transfer", old.id)
		go m.declineFor(old)
		m.endOffer(old, cancelled("too many unanswered file offers"))
	}
}

// declineFor declines an offer at the plugin without a device asking.
func (m *Manager) declineFor(o *offer) {
	ctx, cancel := context.WithTimeout(context.Background(), declineTimeout)
	defer cancel()
	if err := o.backend.DeclineFile(ctx, o.sess.ID, o.id); err != nil {
		m.log.Debug("declining a file offer", "transfer", o.id, "error", err)
	}
}

// endOffer records an offer that ended unanswered and tells the session.
func (m *Manager) endOffer(o *offer, e ending) {
	m.markEnded(o.sess, o.id)
	m.record(receiving, o.sess, o.id, o.from, o.name, o.size, 0, e, "")
	m.metrics.ended(receiving, e.outcome)
	p := &devicev1.FileProgress{TransferId: o.id, State: e.state, Note: e.note}
	if e.err != nil {
		p.Error = m.o.DeviceError(e.err)
	}
	o.sess.Deliver(&devicev1.Event{TimeUnixMs: m.o.Now().UnixMilli(), Kind: &devicev1.Event_FileProgress{FileProgress: p}})
}

// matchUpload finds the upload an offer comes from when its sender is a
// user of this gateway on the same backend: the offer then carries that
// upload's sha256, checked when the data has arrived.
func (m *Manager) matchUpload(s *session.Session, o *offer) *transfer {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best *transfer
	for _, t := range m.transfers {
		if t.dir != sending || t.matched || t.sess.Backend != s.Backend || t.size != o.size || t.name != o.name ||
			!strings.EqualFold(t.sess.Login, o.from) || (t.conv == "" && !strings.EqualFold(t.peer, s.Login)) {
			continue
		}
		if best == nil || t.start.Before(best.start) {
			best = t
		}
	}
	if best != nil {
		best.matched = true
	}
	return best
}

// takeOffer removes and returns a session's unanswered offer.
func (m *Manager) takeOffer(s *session.Session, id string) *offer {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := transferKey{s.ID, id}
	o := m.offers[k]
	delete(m.offers, k)
	return o
}

// Accept starts receiving an offered file on device d, or resumes a
// download the device started on an earlier link from req.Offset (the
// bytes it has stored). With req.Optimize, a JPEG, PNG or GIF is
// downscaled to the device's screen (when the policy allows); other files
// are delivered unchanged, and the ACCEPTED event's note says so.
func (m *Manager) Accept(ctx context.Context, b Backend, d *session.Device, req *devicev1.AcceptFile) error {
	s := d.Session()
	gen, _ := d.Attachment()
	if t, err := m.lookup(s, req.TransferId); err == nil {
		switch {
		case t.dir != receiving:
			return fmt.Errorf("%w: %s is a file this session sends", ErrInvalidRequest, t.id)
		case t.dev != d:
			return ErrOtherDevice
		}
		return t.resume(gen, req.Offset)
	}
	o := m.takeOffer(s, req.TransferId)
	if o == nil {
		return fmt.Errorf("%w: %q", ErrUnknownTransfer, req.TransferId)
	}
	if req.Offset > o.size {
		m.putBack(o)
		return fmt.Errorf("%w: offset %d beyond the file's %d bytes", ErrInvalidRequest, req.Offset, o.size)
	}
	pol, err := m.check(ctx, s, o.name, o.size)
	if err != nil {
		go m.declineFor(o)
		m.endOffer(o, refusal(err))
		return err
	}
	t := newTransfer(m, receiving, d, b, o.id)
	t.peer, t.conv, t.name, t.size, t.sender = o.from, o.conv, o.name, o.size, o.sender
	t.gen, t.cursor, t.acked = gen, req.Offset, req.Offset
	var screen *devicev1.Screen
	if req.Optimize {
		screen = d.Screen
	}
	t.optimize, t.note = optimizePlan(req.Optimize, pol.OptimizeAllowed, o.name, screen)
	if t.optimize {
		t.screen = [2]int{int(screen.Width), int(screen.Height)}
	}
	if t.spool, err = newSpool(m.o.SpoolDir); err != nil {
		m.putBack(o)
		return err
	}
	if err := m.admit(t); err != nil {
		t.spool.remove()
		m.putBack(o)
		return err
	}
	m.progress(t, devicev1.FileProgress_ACCEPTED, 0, nil, t.note)
	if o.sender != nil {
		m.progress(o.sender, devicev1.FileProgress_ACCEPTED, 0, nil, "")
	}
	go t.runDownload()
	return nil
}

// putBack returns an offer taken by an Accept that could not start.
func (m *Manager) putBack(o *offer) {
	m.mu.Lock()
	m.offers[transferKey{o.sess.ID, o.id}] = o
	m.mu.Unlock()
}

// optimizePlan says whether a file will be optimised and, if not although
// it was asked, why.
func optimizePlan(asked, allowed bool, name string, screen *devicev1.Screen) (bool, string) {
	switch {
	case !asked:
		return false, ""
	case !allowed:
		return false, "optimisation is not allowed by your policy: delivered unchanged"
	case !isImageName(name):
		return false, "not a JPEG, PNG or GIF image: delivered unchanged, no optimisation applied"
	case screen.GetWidth() == 0 || screen.GetHeight() == 0:
		return false, "the device did not give its screen size: delivered unchanged"
	}
	return true, fmt.Sprintf("optimising for a %dx%d screen", screen.GetWidth(), screen.GetHeight())
}

// Decline declines an offered file; the sender learns it through the IM
// server.
func (m *Manager) Decline(ctx context.Context, b Backend, d *session.Device, id string) error {
	s := d.Session()
	o := m.takeOffer(s, id)
	if o == nil {
		if t, err := m.lookup(s, id); err == nil && t.dir == receiving {
			return fmt.Errorf("%w: %s is accepted already: cancel it instead", ErrInvalidRequest, id)
		}
		return fmt.Errorf("%w: %q", ErrUnknownTransfer, id)
	}
	if err := b.DeclineFile(ctx, s.ID, id); err != nil {
		m.endOffer(o, fromBackend(err))
		return err
	}
	m.endOffer(o, declined(nil))
	return nil
}

// Cancel ends a transfer of the session, in either direction, or declines
// an offer not yet answered.
func (m *Manager) Cancel(ctx context.Context, b Backend, d *session.Device, id string) error {
	s := d.Session()
	if t, err := m.lookup(s, id); err == nil {
		m.finish(t, cancelled("cancelled by "+s.User))
		return nil
	}
	if m.offerExists(s, id) {
		return m.Decline(ctx, b, d, id)
	}
	return fmt.Errorf("%w: %q", ErrUnknownTransfer, id)
}

func (m *Manager) endedRecently(s *session.Session, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ended[transferKey{s.ID, id}]
}

func (m *Manager) offerExists(s *session.Session, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.offers[transferKey{s.ID, id}]
	return ok
}

// Progress takes a plugin's FileProgress event and reports whether the
// manager handled it: the manager reports the progress of the transfers
// it runs (or ran) itself, and an offer the sender withdrew ends here.
func (m *Manager) Progress(s *session.Session, e sdk.FileProgressEvent) bool {
	if _, err := m.lookup(s, e.TransferID); err == nil || m.endedRecently(s, e.TransferID) {
		return true
	}
	switch e.State {
	case sdk.FileCancelled, sdk.FileFailed, sdk.FileDeclined:
	default:
		return m.offerExists(s, e.TransferID)
	}
	o := m.takeOffer(s, e.TransferID)
	if o == nil {
		return false
	}
	m.endOffer(o, cancelled("the sender withdrew the offer"))
	return true
}

// runDownload is the plugin's side of a download: it fills the spool from
// the IM server; the device reads it at its own pace.
func (t *transfer) runDownload() {
	if err := t.backend.ReceiveFile(t.ctx, t.sess.ID, t.id, downloadWriter{t}); err != nil {
		t.m.finish(t, fromBackend(err))
		return
	}
	sumNote, err := t.verify()
	if err != nil {
		t.m.finish(t, failed(err))
		return
	}
	note := t.note
	out, total := (*spool)(nil), t.size
	if t.optimize {
		out, total, note = t.runOptimize()
	}
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		if out != nil {
			out.remove()
		}
		return
	}
	t.out, t.total, t.complete = out, total, true
	t.note = joinNotes(note, sumNote)
	t.lastActive = t.m.o.Now() // the wait for the device starts now
	finished := t.acked == t.total && t.lastSent
	t.mu.Unlock()
	if finished {
		t.m.finish(t, completed(""))
		return
	}
	t.m.signal(t.dev)
}

func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

// verify checks the received data: its size against the offer, and its
// sha256 against the sender's when the sender is a user of this gateway.
func (t *transfer) verify() (note string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.spool.size != t.size {
		return "", fmt.Errorf("%w: %d of %d bytes arrived", ErrCorrupted, t.spool.size, t.size)
	}
	sum := t.spool.digest()
	want := t.senderSum()
	if want == nil {
		return "sha256 " + hex.EncodeToString(sum), nil
	}
	if !bytes.Equal(sum, want) {
		return "", fmt.Errorf("%w: sha256 %x, the sender's is %x", ErrCorrupted, sum, want)
	}
	return "sha256 " + hex.EncodeToString(sum) + " matches the sender's", nil
}

// senderSum is the sender's sha256, when the sender is on this gateway.
func (t *transfer) senderSum() []byte {
	up := t.sender
	if up == nil {
		return nil
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.fullSum != nil {
		return up.fullSum
	}
	return up.wantSum
}

// downloadWriter appends what the plugin receives to the spool.
type downloadWriter struct{ t *transfer }

func (w downloadWriter) Write(p []byte) (int, error) {
	t := w.t
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return 0, context.Cause(t.ctx)
	}
	if t.spool.size+uint64(len(p)) > t.size {
		t.mu.Unlock()
		return 0, fmt.Errorf("%w: more than the %d bytes offered", ErrCorrupted, t.size)
	}
	err := t.spool.write(p)
	t.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if !t.optimize {
		t.m.signal(t.dev)
	}
	return len(p), nil
}

// source is the file a download delivers and how much of it is ready.
func (t *transfer) source() (*spool, uint64) {
	switch {
	case t.out != nil:
		return t.out, t.total
	case t.optimize && !t.complete:
		return nil, 0
	}
	return t.spool, t.spool.size
}

// nextChunks returns the chunks the link of generation gen may send now:
// what is ready, up to a window past the device's acknowledgement.
func (t *transfer) nextChunks(gen uint64, budget int) (msgs []*devicev1.Message, used int, pending bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || t.gen != gen {
		return nil, 0, false
	}
	src, ready := t.source()
	if src == nil {
		return nil, 0, false
	}
	limit := min(ready, t.acked+Window)
	for t.cursor < limit {
		n := min(uint64(t.m.o.ChunkSize), limit-t.cursor)
		if used+int(n) > budget {
			break // whole chunks only: the rest goes in the next round
		}
		data := t.m.bufs.get(int(n))
		if err := src.readAt(data, t.cursor); err != nil {
			t.m.bufs.put(data)
			t.m.log.Warn("reading a spool file", "transfer", t.id, "error", err)
			return msgs, used, false
		}
		last := t.complete && t.cursor+n == t.total
		msgs = append(msgs, chunkMessage(t.id, t.cursor, data, last))
		t.cursor += n
		used += int(n)
		t.lastSent = t.lastSent || last
	}
	if t.complete && t.cursor == t.total && !t.lastSent {
		msgs = append(msgs, chunkMessage(t.id, t.cursor, nil, true))
		t.lastSent = true
	}
	return msgs, used, t.cursor < limit
}

func chunkMessage(id string, off uint64, data []byte, last bool) *devicev1.Message {
	return &devicev1.Message{Body: &devicev1.Message_FileChunk{FileChunk: &devicev1.FileChunk{TransferId: id, Offset: off, Data: data, Last: last}}}
}

// ack records the device's cumulative acknowledgement of a download; the
// acknowledgement of the last byte completes it.
func (t *transfer) ack(off uint64) error {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return nil
	}
	if t.dir != receiving {
		t.mu.Unlock()
		return fmt.Errorf("%w: acknowledgement of a file the device sends", ErrBadChunk)
	}
	if off > t.cursor {
		t.mu.Unlock()
		return fmt.Errorf("%w: acknowledges %d bytes of %d sent", ErrBadChunk, off, t.cursor)
	}
	if off > t.acked {
		t.acked = off
	}
	t.lastActive = t.m.o.Now()
	finished := t.complete && t.lastSent && t.acked == t.total
	t.mu.Unlock()
	if finished {
		t.m.finish(t, completed(""))
		return nil
	}
	t.m.signal(t.dev)
	return nil
}

// resume carries a download on on the device's new link (generation gen)
// from offset, the bytes the device has stored.
func (t *transfer) resume(gen, offset uint64) error {
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return fmt.Errorf("%w: %q has ended", ErrUnknownTransfer, t.id)
	}
	if offset > t.cursor {
		t.mu.Unlock()
		return fmt.Errorf("%w: offset %d beyond the %d bytes sent", ErrInvalidRequest, offset, t.cursor)
	}
	t.gen, t.cursor, t.acked, t.lastSent = gen, offset, offset, false
	t.lastActive = t.m.o.Now()
	t.mu.Unlock()
	t.m.log.Debug("file transfer resumed", "transfer", t.id, "user", t.sess.User, "offset", offset)
	t.m.signal(t.dev)
	return nil
}

// runOptimize makes the optimised copy of a complete image download, or
// explains why the original is delivered.
func (t *transfer) runOptimize() (*spool, uint64, string) {
	m := t.m
	select {
	case m.optimize <- struct{}{}:
		defer func() { <-m.optimize }()
	case <-t.ctx.Done():
		return nil, t.size, ""
	}
	out, err := newSpool(m.o.SpoolDir)
	if err != nil {
		m.log.Warn("optimising an image", "transfer", t.id, "error", err)
		return nil, t.size, "the gateway could not optimise it: delivered unchanged"
	}
	res := optimizeImage(spoolReaderAt{t}, int64(t.size), t.screen, m.o.MaxImagePixels, spoolWriter{out}, int64(t.size))
	if !res.changed {
		out.remove()
		return nil, t.size, res.note
	}
	m.metrics.optimized.Inc()
	return out, out.size, res.note
}

// spoolReaderAt reads a complete download's spool.
type spoolReaderAt struct{ t *transfer }

func (r spoolReaderAt) ReadAt(p []byte, off int64) (int, error) {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	if r.t.done {
		return 0, context.Cause(r.t.ctx)
	}
	if off >= int64(r.t.spool.size) {
		return 0, io.EOF
	}
	n := min(int64(len(p)), int64(r.t.spool.size)-off)
	if err := r.t.spool.readAt(p[:n], uint64(off)); err != nil {
		return 0, err
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}
