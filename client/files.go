package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// File transfer constants of the device protocol
// (docs/device-protocol.md, "File transfer").
const (
	// FileWindow is how many bytes of a transfer may be unacknowledged.
	FileWindow = 512 << 10
	// FileChunkSize is the most data one FileChunk carries.
	FileChunkSize = 64 << 10
)

// cancelTimeout bounds the CancelFile sent when a transfer's context ends.
const cancelTimeout = 5 * time.Second

// FileProgress is a transfer's progress, as given to WithProgress.
type FileProgress struct {
	TransferID string
	// State is TRANSFERRING while data moves, or the state of the
	// gateway's last FileProgress event (ACCEPTED, ...).
	State devicev1.FileProgress_State
	// Bytes is what the gateway acknowledged (sending) or what was
	// written (receiving); Size the total, 0 if unknown.
	Bytes, Size uint64
	Note        string
}

// FileResult describes a completed transfer.
type FileResult struct {
	TransferID string
	// Bytes is the file's size as delivered (an optimised image's size
	// for an optimised download).
	Bytes uint64
	// SHA256 is the digest of the data this call sent or wrote; nil for a
	// download that started at an offset.
	SHA256 []byte
	// Note is the gateway's note: what optimisation did, the checksum.
	Note string
	// Resumed counts the times the transfer carried on over a new link.
	Resumed int
}

// FileOption changes how a transfer runs.
type FileOption func(*fileOptions)

type fileOptions struct {
	progress func(FileProgress)
	sha256   []byte
	started  func(transferID string)
	size     uint64
}

// WithProgress calls f as the transfer moves on (from the goroutine
// running the transfer; f must not block for long).
func WithProgress(f func(FileProgress)) FileOption { return func(o *fileOptions) { o.progress = f } }

// WithSHA256 gives SendFile the file's sha256, so that it need not read
// the file twice to compute it.
func WithSHA256(sum []byte) FileOption { return func(o *fileOptions) { o.sha256 = sum } }

// WithTransferID calls f with the transfer id as soon as the gateway has
// given it (to cancel the transfer from elsewhere).
func WithTransferID(f func(string)) FileOption { return func(o *fileOptions) { o.started = f } }

// WithExpectedSize tells Accept the file's size (from the invitation) for
// the progress it reports.
func WithExpectedSize(n uint64) FileOption { return func(o *fileOptions) { o.size = n } }

func (o *fileOptions) report(p FileProgress) {
	if o.progress != nil {
		o.progress(p)
	}
}

// errTransferLink marks a transfer interrupted by the loss of its link;
// a Session carries it on over the next one.
var errTransferLink = errors.New("client: link lost during a file transfer")

// fileHandler receives a transfer's messages from the read loop; it must
// not block.
type fileHandler interface {
	message(*devicev1.Message)
	progress(*devicev1.FileProgress)
}

// recentProgress bounds the progress events kept for transfers nobody
// has registered yet (an event may overtake the answer that names the
// transfer).
const recentProgress = 64

// fileRouter dispatches file messages and progress events of a link to
// the transfers running on it.
type fileRouter struct {
	mu       sync.Mutex
	handlers map[string]fileHandler
	recent   map[string]*devicev1.FileProgress
	order    []string
}

func (r *fileRouter) register(id string, h fileHandler) {
	r.mu.Lock()
	if r.handlers == nil {
		r.handlers = map[string]fileHandler{}
	}
	r.handlers[id] = h
	early := r.recent[id]
	delete(r.recent, id)
	r.mu.Unlock()
	if early != nil {
		h.progress(early)
	}
}

func (r *fileRouter) unregister(id string, h fileHandler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handlers[id] == h {
		delete(r.handlers, id)
	}
}

// deliver routes a FileChunk or FileChunkAck from the gateway.
func (r *fileRouter) deliver(m *devicev1.Message) {
	id := m.GetFileChunk().GetTransferId()
	if id == "" {
		id = m.GetFileChunkAck().GetTransferId()
	}
	r.mu.Lock()
	h := r.handlers[id]
	r.mu.Unlock()
	if h != nil {
		h.message(m)
	}
}

// observe shows a session event to the transfer it concerns.
func (r *fileRouter) observe(e *devicev1.Event) {
	p := e.GetFileProgress()
	if p == nil {
		return
	}
	r.mu.Lock()
	h := r.handlers[p.TransferId]
	if h == nil {
		if r.recent == nil {
			r.recent = map[string]*devicev1.FileProgress{}
		}
		if _, seen := r.recent[p.TransferId]; !seen {
			r.order = append(r.order, p.TransferId)
			if len(r.order) > recentProgress {
				delete(r.recent, r.order[0])
				r.order = r.order[1:]
			}
		}
		r.recent[p.TransferId] = p
	}
	r.mu.Unlock()
	if h != nil {
		h.progress(p)
	}
}

// signal is the wake-up channel of a transfer's goroutine.
type signal chan struct{}

func (s signal) poke() {
	select {
	case s <- struct{}{}:
	default:
	}
}

// ended turns the gateway's final FileProgress into the transfer's error
// (nil for COMPLETED).
func ended(p *devicev1.FileProgress) error {
	if p.State == devicev1.FileProgress_COMPLETED {
		return nil
	}
	if p.Error != nil {
		return fromProto(p.Error)
	}
	code := devicev1.ErrorCode_INTERNAL
	switch p.State {
	case devicev1.FileProgress_DECLINED:
		code = devicev1.ErrorCode_DECLINED
	case devicev1.FileProgress_CANCELLED:
		code = devicev1.ErrorCode_CANCELLED
	}
	return &Error{Code: code, Message: fmt.Sprintf("transfer %s %s", p.TransferId, p.State)}
}

func final(p *devicev1.FileProgress) bool {
	switch p.State {
	case devicev1.FileProgress_COMPLETED, devicev1.FileProgress_DECLINED, devicev1.FileProgress_CANCELLED,
		devicev1.FileProgress_FAILED:
		return true
	}
	return false
}

// cancelAfter tells the gateway that a transfer whose context ended is
// over; it is best effort on a link that may be gone.
func (c *Conn) cancelAfter(ctx context.Context, id string) error {
	cctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	c.Cancel(cctx, id)
	return ctx.Err()
}

// Decline declines a file offered in a FileInvitation event.
func (c *Conn) Decline(ctx context.Context, transferID string) error {
	_, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_DeclineFile{DeclineFile: &devicev1.DeclineFile{TransferId: transferID}}})
	return err
}

// Cancel ends a transfer this session sends or receives (both sides learn
// it), or declines an offer not answered yet.
func (c *Conn) Cancel(ctx context.Context, transferID string) error {
	_, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_CancelFile{CancelFile: &devicev1.CancelFile{TransferId: transferID}}})
	return err
}

// ---- sending ----

// upload is a file being sent; it outlives a link when a Session carries
// it on.
type upload struct {
	id       string
	size     uint64
	r        io.Reader
	sum      hash.Hash
	read     uint64   // bytes taken from r
	retained []chunk  // taken but not acknowledged, oldest first
	free     [][]byte // buffers of acknowledged chunks, for the next ones
	acked    uint64
	resumed  int
	opts     fileOptions

	mu    sync.Mutex
	ackIn uint64
	state *devicev1.FileProgress // the last event
	wake  signal
}

type chunk struct {
	off  uint64
	data []byte
}

func (u *upload) message(m *devicev1.Message) {
	if a := m.GetFileChunkAck(); a != nil {
		u.mu.Lock()
		u.ackIn = max(u.ackIn, a.Offset)
		u.mu.Unlock()
		u.wake.poke()
	}
}

func (u *upload) progress(p *devicev1.FileProgress) {
	u.mu.Lock()
	if u.state == nil || !final(u.state) {
		u.state = p
	}
	u.mu.Unlock()
	u.wake.poke()
}

// SendFile offers a file of size bytes read from r to a user (to) or a
// conversation, and sends it once the gateway takes it: in chunks, with
// at most FileWindow bytes unacknowledged, so only that much of the file
// is held in memory. It returns when the transfer completed, or with the
// gateway's typed error: FILE_TOO_LARGE (Error.LimitSource says whose
// limit), FILE_TYPE_BLOCKED, FILE_TRANSFER_DISABLED, UNSUPPORTED,
// DECLINED, CANCELLED, ... If ctx ends first, the transfer is cancelled.
//
// Without WithSHA256, an r that is an io.Seeker is read once to compute
// the file's sha256 and rewound; the gateway checks the data against it.
func (c *Conn) SendFile(ctx context.Context, to, conversationID, name string, r io.Reader, size int64, opts ...FileOption) (*FileResult, error) {
	u, err := c.offer(ctx, to, conversationID, name, r, size, opts)
	if err != nil {
		return nil, err
	}
	return c.runUpload(ctx, u)
}

// offer sends OfferFile and returns the upload to run.
func (c *Conn) offer(ctx context.Context, to, conversationID, name string, r io.Reader, size int64, opts []FileOption) (*upload, error) {
	if size < 0 {
		return nil, fmt.Errorf("client: send file: negative size %d", size)
	}
	u := &upload{size: uint64(size), r: r, sum: sha256.New(), wake: make(signal, 1)}
	for _, o := range opts {
		o(&u.opts)
	}
	sum := u.opts.sha256
	if seeker, ok := r.(io.Seeker); ok && sum == nil {
		var err error
		if sum, err = hashAndRewind(r, seeker); err != nil {
			return nil, err
		}
	}
	resp, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_OfferFile{OfferFile: &devicev1.OfferFile{
		To: to, ConversationId: conversationID, Name: name, Size: u.size, Sha256: sum}}})
	if err != nil {
		return nil, err
	}
	if u.id = resp.GetFileOffered().GetTransferId(); u.id == "" {
		return nil, fmt.Errorf("client: expected FileOffered, got %T", resp.Body)
	}
	if u.opts.started != nil {
		u.opts.started(u.id)
	}
	return u, nil
}

func hashAndRewind(r io.Reader, s io.Seeker) ([]byte, error) {
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("client: send file: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("client: send file: reading: %w", err)
	}
	if _, err := s.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("client: send file: %w", err)
	}
	return h.Sum(nil), nil
}

// runUpload sends the upload's data on this link until the gateway says
// how it ended. After a resume it first sends again what the gateway had
// not acknowledged; the gateway skips what it already has.
func (c *Conn) runUpload(ctx context.Context, u *upload) (*FileResult, error) {
	c.files.register(u.id, u)
	defer c.files.unregister(u.id, u)
	for _, ch := range u.retained {
		if err := c.sendChunk(u, ch); err != nil {
			return nil, err
		}
	}
	for {
		u.mu.Lock()
		ack, state := u.ackIn, u.state
		u.mu.Unlock()
		if ack > u.acked {
			u.acked = min(ack, u.read)
			for len(u.retained) > 0 && u.retained[0].off+uint64(len(u.retained[0].data)) <= u.acked {
				u.free = append(u.free, u.retained[0].data)
				u.retained[0] = chunk{}
				u.retained = u.retained[1:]
			}
			u.opts.report(FileProgress{TransferID: u.id, State: devicev1.FileProgress_TRANSFERRING, Bytes: u.acked, Size: u.size})
		}
		if state != nil {
			if final(state) {
				if err := ended(state); err != nil {
					return nil, err
				}
				return &FileResult{TransferID: u.id, Bytes: u.size, SHA256: u.sum.Sum(nil), Note: state.Note, Resumed: u.resumed}, nil
			}
			u.opts.report(FileProgress{TransferID: u.id, State: state.State, Bytes: u.acked, Size: u.size, Note: state.Note})
			u.mu.Lock()
			if u.state == state {
				u.state = nil
			}
			u.mu.Unlock()
		}
		// Only whole chunks go out, and the one that ends the file: a chunk
		// that does not fit the window waits for the next acknowledgement,
		// which comes once the gateway has passed on a quarter window,
		// rather than going out cut to the few KiB that do fit.
		for chunkSize := c.fileChunkSize(); u.read < u.size; {
			n := min(chunkSize, u.size-u.read)
			if u.read-u.acked+n > FileWindow {
				break
			}
			data := u.buffer(n, chunkSize)
			if _, err := io.ReadFull(u.r, data); err != nil {
				c.cancelAfter(context.Background(), u.id)
				return nil, fmt.Errorf("client: send file: reading: %w", err)
			}
			u.sum.Write(data)
			ch := chunk{off: u.read, data: data}
			u.retained = append(u.retained, ch)
			u.read += n
			if err := c.sendChunk(u, ch); err != nil {
				return nil, err
			}
		}
		select {
		case <-u.wake:
		case <-c.done:
			return nil, fmt.Errorf("%w: %w", errTransferLink, c.Err())
		case <-ctx.Done():
			return nil, c.cancelAfter(ctx, u.id)
		}
	}
}

// buffer returns n bytes to read the next chunk into: the buffer of an
// acknowledged chunk (the gateway has stored it, so it is never sent
// again), or a new one of chunkSize, so that an upload allocates no more
// than a window's worth whatever the file's size.
func (u *upload) buffer(n, chunkSize uint64) []byte {
	if k := len(u.free); k > 0 {
		b := u.free[k-1]
		u.free = u.free[:k-1]
		if uint64(cap(b)) >= n {
			return b[:n]
		}
	}
	return make([]byte, n, max(n, chunkSize))
}

// chunkFrameOverhead is what a FileChunk's frame needs besides its data.
const chunkFrameOverhead = 1 << 10

// fileChunkSize is the data per FileChunk: FileChunkSize, or less if the
// gateway's frames are smaller.
func (c *Conn) fileChunkSize() uint64 {
	n := uint64(FileChunkSize)
	if f := uint64(c.Welcome.GetLimits().GetMaxFrame()); f > chunkFrameOverhead {
		n = min(n, f-chunkFrameOverhead)
	}
	return n
}

func (c *Conn) sendChunk(u *upload, ch chunk) error {
	end := ch.off + uint64(len(ch.data))
	err := c.send(false, &devicev1.Message{Body: &devicev1.Message_FileChunk{FileChunk: &devicev1.FileChunk{
		TransferId: u.id, Offset: ch.off, Data: ch.data, Last: end == u.size}}})
	if err != nil {
		return fmt.Errorf("%w: %w", errTransferLink, err)
	}
	return nil
}

// ---- receiving ----

// download is a file being received; it outlives a link when a Session
// carries it on.
type download struct {
	id       string
	optimize bool
	w        io.Writer
	written  uint64
	ackSent  uint64    // the offset last acknowledged on this link
	sum      hash.Hash // nil when started at an offset
	gotLast  bool
	resumed  int
	opts     fileOptions

	mu    sync.Mutex
	queue []*devicev1.FileChunk
	state *devicev1.FileProgress
	wake  signal
}

func (d *download) message(m *devicev1.Message) {
	c := m.GetFileChunk()
	if c == nil {
		return
	}
	d.mu.Lock()
	d.queue = append(d.queue, c)
	d.mu.Unlock()
	d.wake.poke()
}

func (d *download) progress(p *devicev1.FileProgress) {
	d.mu.Lock()
	if d.state == nil || !final(d.state) {
		d.state = p
	}
	d.mu.Unlock()
	d.wake.poke()
}

// fileAckStep is how much a download writes between acknowledgements: a
// frame per chunk would cost the device and the gateway a frame each, and
// the gateway, which keeps sending up to FileWindow past the last one,
// never waits on a device that acknowledges every quarter window.
const fileAckStep = FileWindow / 4

// Accept takes a file offered in a FileInvitation event and writes it to
// w, acknowledging every quarter window written, and the end. offset is the number of bytes
// w already holds from an earlier attempt (0 for a new download): the
// gateway resumes from there. With optimize, an image is downscaled to
// the device's screen (Config.Screen) when the policy allows; the
// result's Note says what was done. If ctx ends first, the transfer is
// cancelled.
func (c *Conn) Accept(ctx context.Context, transferID string, optimize bool, w io.Writer, offset uint64, opts ...FileOption) (*FileResult, error) {
	d := newDownload(transferID, optimize, w, offset, opts)
	return c.runDownload(ctx, d)
}

func newDownload(id string, optimize bool, w io.Writer, offset uint64, opts []FileOption) *download {
	d := &download{id: id, optimize: optimize, w: w, written: offset, wake: make(signal, 1)}
	if offset == 0 {
		d.sum = sha256.New()
	}
	for _, o := range opts {
		o(&d.opts)
	}
	return d
}

// runDownload accepts (or, after a resume, re-accepts from what is
// written) and writes chunks until the gateway says the transfer ended.
func (c *Conn) runDownload(ctx context.Context, d *download) (*FileResult, error) {
	c.files.register(d.id, d)
	defer c.files.unregister(d.id, d)
	if res, done, err := d.finished(); done {
		return res, err // it ended while the link was down
	}
	d.mu.Lock()
	d.queue = nil // chunks of an earlier link: the gateway resends from d.written
	d.mu.Unlock()
	_, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_AcceptFile{AcceptFile: &devicev1.AcceptFile{
		TransferId: d.id, Optimize: d.optimize, Offset: d.written}}})
	if err != nil {
		if res, done, ferr := d.finished(); done && d.resumed > 0 {
			// The gateway replayed the end before it answered: it no
			// longer knows the transfer.
			return res, ferr
		}
		if linkLost(err) {
			return nil, fmt.Errorf("%w: %w", errTransferLink, err)
		}
		return nil, err
	}
	d.ackSent = d.written // the gateway sends from there
	if d.opts.started != nil {
		d.opts.started(d.id)
	}
	for {
		d.mu.Lock()
		queue, state := d.queue, d.state
		d.queue = nil
		d.mu.Unlock()
		wrote := false
		for _, ch := range queue {
			n, err := d.write(ch)
			if err != nil {
				c.cancelAfter(context.Background(), d.id)
				return nil, err
			}
			wrote = wrote || n > 0 || ch.Last
		}
		if wrote && (d.written >= d.ackSent+fileAckStep || d.gotLast) {
			d.ackSent = d.written
			err := c.send(false, &devicev1.Message{Body: &devicev1.Message_FileChunkAck{FileChunkAck: &devicev1.FileChunkAck{
				TransferId: d.id, Offset: d.written}}})
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errTransferLink, err)
			}
			d.opts.report(FileProgress{TransferID: d.id, State: devicev1.FileProgress_TRANSFERRING, Bytes: d.written, Size: d.opts.size})
		}
		if state != nil {
			if final(state) {
				res, _, err := d.finished()
				return res, err
			}
			d.opts.report(FileProgress{TransferID: d.id, State: state.State, Bytes: d.written, Size: d.opts.size, Note: state.Note})
			d.mu.Lock()
			if d.state == state {
				d.state = nil
			}
			d.mu.Unlock()
		}
		select {
		case <-d.wake:
		case <-c.done:
			return nil, fmt.Errorf("%w: %w", errTransferLink, c.Err())
		case <-ctx.Done():
			return nil, c.cancelAfter(ctx, d.id)
		}
	}
}

// finished reports whether the gateway has said how the download ended,
// and with what result.
func (d *download) finished() (res *FileResult, done bool, err error) {
	d.mu.Lock()
	state := d.state
	d.mu.Unlock()
	if state == nil || !final(state) {
		return nil, false, nil
	}
	if err := ended(state); err != nil {
		return nil, true, err
	}
	res = &FileResult{TransferID: d.id, Bytes: d.written, Note: state.Note, Resumed: d.resumed}
	if d.sum != nil {
		res.SHA256 = d.sum.Sum(nil)
	}
	return res, true, nil
}

// write stores a chunk's new bytes: a chunk that repeats data written
// already (resent after a resume) is trimmed, one past the end of what is
// written is dropped (it was sent before the resume point was known).
func (d *download) write(ch *devicev1.FileChunk) (int, error) {
	end := ch.Offset + uint64(len(ch.Data))
	if ch.Offset > d.written || end < d.written {
		return 0, nil
	}
	data := ch.Data[d.written-ch.Offset:]
	if _, err := d.w.Write(data); err != nil {
		return 0, fmt.Errorf("client: receive file: writing: %w", err)
	}
	if d.sum != nil {
		d.sum.Write(data)
	}
	d.written += uint64(len(data))
	d.gotLast = d.gotLast || ch.Last
	return len(data), nil
}

// ---- over a Session ----

// SendFile is Conn.SendFile over the session's links: when a link drops,
// the transfer carries on over the next one from the last byte the
// gateway acknowledged, with r read only once. The offer itself is not
// retried: an OfferFile lost with a link returns the error.
func (s *Session) SendFile(ctx context.Context, to, conversationID, name string, r io.Reader, size int64, opts ...FileOption) (*FileResult, error) {
	conn, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	u, err := conn.offer(ctx, to, conversationID, name, r, size, opts)
	if err != nil {
		return nil, err
	}
	for {
		res, err := conn.runUpload(ctx, u)
		if !errors.Is(err, errTransferLink) {
			return res, err
		}
		if conn, err = s.nextLink(ctx, conn); err != nil {
			return nil, err
		}
		u.resumed++
	}
}

// Accept is Conn.Accept over the session's links: when a link drops, the
// download is accepted again on the next one from the bytes written.
func (s *Session) Accept(ctx context.Context, transferID string, optimize bool, w io.Writer, offset uint64, opts ...FileOption) (*FileResult, error) {
	d := newDownload(transferID, optimize, w, offset, opts)
	conn, err := s.current(ctx)
	for err == nil {
		var res *FileResult
		res, err = conn.runDownload(ctx, d)
		if !errors.Is(err, errTransferLink) {
			return res, err
		}
		if conn, err = s.nextLink(ctx, conn); err == nil {
			d.resumed++
		}
	}
	return nil, err
}

// Decline declines a file offered in a FileInvitation event.
func (s *Session) Decline(ctx context.Context, transferID string) error {
	conn, err := s.current(ctx)
	if err != nil {
		return err
	}
	return conn.Decline(ctx, transferID)
}

// Cancel ends a transfer, or declines an offer not answered yet.
func (s *Session) Cancel(ctx context.Context, transferID string) error {
	conn, err := s.current(ctx)
	if err != nil {
		return err
	}
	return conn.Cancel(ctx, transferID)
}

// relinkPoll is how often nextLink looks for the link that replaces a
// dropped one.
const relinkPoll = 20 * time.Millisecond

// nextLink waits for the link that replaces old, until ctx ends or the
// session closes.
func (s *Session) nextLink(ctx context.Context, old *Conn) (*Conn, error) {
	tick := time.NewTicker(relinkPoll)
	defer tick.Stop()
	for {
		conn, err := s.current(ctx)
		if err != nil || conn != old {
			return conn, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
		}
	}
}
