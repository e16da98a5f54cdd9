package filexfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Offer starts sending a file for device d: it checks the offer against
// the backend's capabilities and the user's policy (a refusal is returned
// and recorded), then hands the file to the plugin, which offers it to the
// recipient through the IM server. The device sends the data as FileChunk
// messages; how the transfer ends comes as a FileProgress event.
func (m *Manager) Offer(ctx context.Context, b Backend, d *session.Device, req *devicev1.OfferFile) (*devicev1.FileOffered, error) {
	name, err := cleanName(req.GetName())
	if err != nil {
		return nil, err
	}
	switch {
	case req.To == "" && req.ConversationId == "":
		return nil, fmt.Errorf("%w: a file needs a recipient or a conversation", ErrInvalidRequest)
	case len(req.Sha256) != 0 && len(req.Sha256) != sha256.Size:
		return nil, fmt.Errorf("%w: sha256 has %d bytes, not %d", ErrInvalidRequest, len(req.Sha256), sha256.Size)
	case req.Size > math.MaxInt64:
		return nil, fmt.Errorf("%w: size %d", ErrInvalidRequest, req.Size)
	}
	t := newTransfer(m, sending, d, b, newTransferID())
	t.peer, t.conv, t.name, t.size, t.wantSum = req.To, req.ConversationId, name, req.Size, slices.Clone(req.Sha256)
	if t.peer == "" {
		t.peer = req.ConversationId
	}
	if _, err := m.check(ctx, t.sess, name, req.Size); err != nil {
		m.refuse(t, err)
		return nil, err
	}
	if t.size == 0 {
		empty := sha256.Sum256(nil)
		if len(t.wantSum) > 0 && !bytes.Equal(t.wantSum, empty[:]) {
			return nil, fmt.Errorf("%w: an empty file", ErrChecksum)
		}
		t.fullSum = empty[:]
	}
	if t.spool, err = newRingSpool(m.o.SpoolDir, uploadRing); err != nil {
		return nil, err
	}
	if err := m.admit(t); err != nil {
		t.spool.remove()
		m.refuse(t, err)
		return nil, err
	}
	m.log.Debug("file offered", "transfer", t.id, "user", t.sess.User, "to", t.peer, "size", t.size)
	go t.runUpload()
	return &devicev1.FileOffered{TransferId: t.id}, nil
}

// check applies the backend's capability and the user's policy to a file
// and returns the policy.
func (m *Manager) check(ctx context.Context, s *session.Session, name string, size uint64) (configdb.Policy, error) {
	if !s.Caps.FileTransfer {
		return configdb.Policy{}, sdk.Errorf(sdk.ReasonUnsupported, "backend %s has no file transfer", s.Backend)
	}
	pol, err := m.o.Policies.Policy(ctx, s.User)
	if err != nil {
		return configdb.Policy{}, fmt.Errorf("filexfer: file policy of %s: %w", s.User, err)
	}
	return pol, pol.Check(name, int64(min(size, math.MaxInt64)))
}

// refuse records a transfer refused before it started.
func (m *Manager) refuse(t *transfer, err error) {
	t.cancel(err)
	e := refusal(err)
	m.record(t.dir, t.sess, t.id, t.peer, t.name, t.size, 0, e, "")
	m.metrics.ended(t.dir, e.outcome)
	m.log.Info("file refused", "user", t.sess.User, "direction", t.dir, "name", t.name, "size", t.size, "rule", e.rule, "error", err)
}

// runUpload is the plugin's side of an upload: it reads the spool as the
// device fills it.
func (t *transfer) runUpload() {
	h := sdk.FileHeader{SessionID: t.sess.ID, TransferID: t.id, ConversationID: t.conv, Name: t.name,
		Extension: extension(t.name), Size: t.size, SHA256: t.wantSum}
	if t.peer != t.conv {
		h.To = t.peer
	}
	if _, err := t.backend.SendFile(t.ctx, h, uploadReader{t}); err != nil {
		t.m.finish(t, fromBackend(err))
		return
	}
	t.m.finish(t, completed(""))
}

// uploadRing is what an upload's spool keeps: the data the plugin has not
// read yet is never more than that. The device sends at most a window past
// the acknowledgement, which is at most a window past what the plugin has
// read (ackValue), and chunk refuses anything beyond.
const uploadRing = 2 * Window

// ackStep is how far an upload's acknowledgement moves before the link is
// woken to send it: an acknowledgement per chunk would cost a frame each
// way, for both the gateway and the device, and a window of four steps
// keeps the device sending.
const ackStep = Window / 4

// ackDue reports whether the acknowledgement has moved far enough since
// the last one sent to be worth a frame, or has reached the end of the
// file. A device waiting on its window is never left waiting: it has sent
// a window past the last acknowledgement, so the next one moves a step as
// soon as the plugin has read a step.
func (t *transfer) ackDue() bool {
	ack := t.ackValue()
	return ack >= t.ackSent+ackStep || (ack == t.size && ack != t.ackSent)
}

// ackValue is what the gateway acknowledges of an upload: what is in the
// spool, but at most a window ahead of what the plugin has taken, so that
// the device does not send far more than the IM side carries (nor a whole
// file before the recipient has accepted it).
func (t *transfer) ackValue() uint64 {
	return min(t.received, t.consumed+Window)
}

// chunk stores upload data from the device. A chunk that repeats data
// already stored (a resend after a dropped link) is trimmed; one that
// leaves a gap, exceeds the window or the size, or ends early is an error.
// The chunk that completes the file is checked against the announced
// sha256 before the plugin may read it.
func (t *transfer) chunk(c *devicev1.FileChunk) error {
	if t.dir != sending {
		return fmt.Errorf("%w: data for a file the device receives", ErrBadChunk)
	}
	if len(c.Data) > MaxChunk {
		return fmt.Errorf("%w: %d bytes in one chunk, the limit is %d", ErrBadChunk, len(c.Data), MaxChunk)
	}
	t.mu.Lock()
	if t.done {
		t.mu.Unlock()
		return nil
	}
	t.lastActive = t.m.o.Now()
	off, end := c.Offset, c.Offset+uint64(len(c.Data))
	switch {
	case end < off || end > t.size:
		t.mu.Unlock()
		return fmt.Errorf("%w: data up to byte %d of a %d-byte file", ErrBadChunk, end, t.size)
	case off > t.received:
		t.mu.Unlock()
		return fmt.Errorf("%w: chunk at %d leaves a gap after %d", ErrBadChunk, off, t.received)
	case c.Last && end != t.size:
		t.mu.Unlock()
		return fmt.Errorf("%w: last chunk ends at %d of %d bytes", ErrBadChunk, end, t.size)
	case end <= t.received:
		// A resend of stored data: acknowledge again what we have.
		t.ackGen = 0
		t.mu.Unlock()
		t.m.signal(t.dev)
		return nil
	case end > t.ackValue()+Window:
		t.mu.Unlock()
		return fmt.Errorf("%w: more than %d bytes unacknowledged", ErrBadChunk, Window)
	}
	data := c.Data[t.received-off:]
	if err := t.spool.write(data); err != nil {
		t.mu.Unlock()
		return err
	}
	if end == t.size {
		sum := t.spool.digest()
		if len(t.wantSum) > 0 && !bytes.Equal(sum, t.wantSum) {
			t.mu.Unlock()
			return ErrChecksum // the last bytes never become readable
		}
		t.fullSum = sum
	}
	t.received = end
	due := t.ackDue()
	t.mu.Unlock()
	t.poke()
	if due {
		t.m.signal(t.dev)
	}
	return nil
}

// nextAck returns the acknowledgement the link of generation gen should
// send, if it has changed or not gone out on that link yet.
func (t *transfer) nextAck(gen uint64) []*devicev1.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	ack := t.ackValue()
	if t.done || ack == 0 || (t.ackGen == gen && t.ackSent == ack) {
		return nil
	}
	t.ackGen, t.ackSent = gen, ack
	return []*devicev1.Message{{Body: &devicev1.Message_FileChunkAck{FileChunkAck: &devicev1.FileChunkAck{TransferId: t.id, Offset: ack}}}}
}

// uploadReader gives the plugin the upload's data as the device sends it,
// waiting when it has caught up with the device.
type uploadReader struct{ t *transfer }

func (r uploadReader) Read(p []byte) (int, error) {
	t := r.t
	for {
		t.mu.Lock()
		if t.done {
			t.mu.Unlock()
			return 0, context.Cause(t.ctx)
		}
		if t.consumed < t.received {
			n := min(uint64(len(p)), t.received-t.consumed)
			if err := t.spool.readAt(p[:n], t.consumed); err != nil {
				t.mu.Unlock()
				return 0, err
			}
			t.consumed += n
			step := max(t.size/10, 256<<10)
			report := t.consumed-t.reported >= step && t.consumed < t.size
			if report {
				t.reported = t.consumed
			}
			consumed, due := t.consumed, t.ackDue()
			t.mu.Unlock()
			if due {
				t.m.signal(t.dev)
			}
			if report {
				t.m.progress(t, devicev1.FileProgress_TRANSFERRING, consumed, nil, "")
			}
			return int(n), nil
		}
		if t.consumed == t.size {
			t.mu.Unlock()
			return 0, io.EOF
		}
		t.mu.Unlock()
		select {
		case <-t.changed:
		case <-t.ctx.Done():
			return 0, context.Cause(t.ctx)
		}
	}
}
