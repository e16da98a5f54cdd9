package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/core/frame"
	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// ProtocolVersion is the device protocol version this gateway speaks.
const ProtocolVersion = 1

// Config tunes links.
type Config struct {
	Limits           frame.Limits
	Heartbeat        time.Duration // devices ping at least this often
	IdleTimeout      time.Duration // a silent link is closed after this (default 2.5 heartbeats)
	HandshakeTimeout time.Duration // Hello and Login must arrive within it
	MaxBatch         int           // messages per outgoing frame
	MaxInFlight      int           // requests started and answers not yet written, per link
	QuietPeriod      time.Duration // a link with nothing to send for this long gives up its writer goroutine
	MaxLoginAttempts int
	ServerVersion    string
	Backends         []string
	MaxFileBytes     uint64
}

func (c Config) withDefaults() Config {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 30 * time.Second
	}
	if c.IdleTimeout <= c.Heartbeat {
		c.IdleTimeout = c.Heartbeat*2 + c.Heartbeat/2
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 15 * time.Second
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 64
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 32
	}
	if c.QuietPeriod <= 0 {
		c.QuietPeriod = max(min(time.Second, c.Heartbeat/4), time.Millisecond)
	}
	if c.MaxLoginAttempts <= 0 {
		c.MaxLoginAttempts = 3
	}
	return c
}

// Server serves device links.
type Server struct {
	cfg      Config
	router   *router.Router
	handler  requestHandler
	sessions *session.Manager
	logger   hclog.Logger
	metrics  *metrics
	quiet    ticks    // the writers' clock: heartbeats and giving up when quiet
	parking  *parking // watches the links that have no writer
}

// NewServer returns a Server. reg may be nil.
func NewServer(cfg Config, r *router.Router, sessions *session.Manager, logger hclog.Logger, reg prometheus.Registerer) *Server {
	cfg = cfg.withDefaults()
	return &Server{cfg: cfg, router: r, handler: r, sessions: sessions, logger: logger, metrics: newMetrics(reg),
		quiet: ticks{period: cfg.QuietPeriod}, parking: newParking(max(cfg.Heartbeat/4, time.Millisecond))}
}

// Serve runs one link until it ends. It closes conn.
func (s *Server) Serve(ctx context.Context, conn net.Conn) {
	done := make(chan struct{})
	s.Start(ctx, conn, func() { close(done) })
	<-done
}

// Start runs the link's TLS handshake, Hello and login on the calling
// goroutine, then serves the session on a goroutine of its own and
// returns. The session's reader, which an idle link keeps for as long as
// it is attached, thus starts with a small stack instead of the one the
// handshake and the login grew. done runs when the link has ended; conn
// is closed by then.
func (s *Server) Start(ctx context.Context, conn net.Conn, done func()) {
	s.metrics.links.Inc()
	l := &link{srv: s, conn: conn, in: frame.NewReader(conn, s.cfg.Limits), out: frame.NewWriter(conn, s.cfg.Limits)}
	pending, err := l.open(ctx)
	if err != nil {
		l.close(err)
		done()
		return
	}
	go func() {
		l.close(l.serveSession(ctx, pending))
		done()
	}()
}

// close closes the link's connection and logs why it ended, if that is
// worth a line.
func (l *link) close(err error) {
	l.conn.Close()
	l.srv.metrics.links.Dec()
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, frame.ErrProtocol), errors.Is(err, errBadMessage):
		l.srv.logger.Info("closing link after a protocol error", "remote", l.conn.RemoteAddr().String(), "error", err)
	default:
		l.srv.logger.Debug("link ended", "remote", l.conn.RemoteAddr().String(), "error", err)
	}
}

var errBadMessage = errors.New("link: malformed message")

// requestHandler runs device requests; the router is the gateway's. See
// router.HandleAsync for the contract: done is called exactly once, maybe
// before HandleAsync returns, maybe later on another goroutine.
type requestHandler interface {
	HandleAsync(ctx context.Context, d *session.Device, m *devicev1.Message, done func(*devicev1.Message))
}

type link struct {
	srv    *Server
	conn   net.Conn
	in     *frame.Reader
	out    *frame.Writer
	hello  *devicev1.Hello
	device *session.Device
	gen    uint64          // the device's attachment this link holds
	stale  <-chan struct{} // closed when the device attached on another link

	// Requests are pipelined: the reader starts them in order without
	// waiting for their answers, which the writer sends as they come.
	// slots holds one token per request started (or answer queued by the
	// reader) whose answer the writer has not taken yet, so a device
	// cannot queue more than MaxInFlight of them.
	slots    chan struct{}
	answered sync.WaitGroup // requests started and not yet answered
	mu       sync.Mutex
	replies  []*devicev1.Message // answers waiting for the writer

	writerState
}

// read returns the messages of the next frame. A frame error or an
// unparseable body is answered with protocol_error before the caller
// closes the link.
//
// The data of the FileChunks returned is the frame reader's buffer (see
// decodeFrame): the caller is done with them before it reads again.
func (l *link) read(deadline time.Duration) ([]*devicev1.Message, error) {
	l.conn.SetReadDeadline(time.Now().Add(deadline))
	body, err := l.in.ReadFrame()
	if err != nil {
		if reason := frame.Reason(err); reason != "" && reason != "truncated" {
			l.srv.metrics.protocolErrors.WithLabelValues(reason).Inc()
			l.sendError(&devicev1.Error{Code: devicev1.ErrorCode_PROTOCOL_ERROR, Message: err.Error()})
		}
		return nil, err
	}
	msgs, err := decodeFrame(body)
	if err != nil {
		l.srv.metrics.protocolErrors.WithLabelValues("bad_protobuf").Inc()
		l.sendError(&devicev1.Error{Code: devicev1.ErrorCode_PROTOCOL_ERROR, Message: "frame body is not a parley.device.v1.Frame"})
		return nil, fmt.Errorf("%w: %v", errBadMessage, err)
	}
	l.srv.metrics.framesIn.Inc()
	return msgs, nil
}

// sendError writes an unsolicited error before the link closes.
func (l *link) sendError(e *devicev1.Error) {
	l.write(false, &devicev1.Message{Body: &devicev1.Message_Error{Error: e}})
	l.out.Flush()
}

// write frames messages as one frame (unflushed).
func (l *link) write(sensitive bool, msgs ...*devicev1.Message) error {
	sc := scratchPool.Get().(*frameScratch)
	defer scratchPool.Put(sc)
	sc.frame.Messages = msgs
	body, err := proto.MarshalOptions{}.MarshalAppend(sc.body[:0], &sc.frame)
	sc.frame.Messages = nil
	if err != nil {
		return fmt.Errorf("link: marshal: %w", err)
	}
	if cap(body) <= maxScratch {
		sc.body = body
	}
	l.conn.SetWriteDeadline(time.Now().Add(l.srv.cfg.Heartbeat))
	l.srv.metrics.framesOut.Inc()
	return l.out.WriteFrame(body, sensitive) // copies body into its buffer
}

// frameScratch is what write marshals a frame with, reused through
// scratchPool so that a frame costs no allocation of its own.
type frameScratch struct {
	frame devicev1.Frame
	body  []byte
}

// maxScratch bounds the body buffer a frameScratch keeps: a rare large
// frame (a snapshot) is not held on to.
const maxScratch = 16 << 10

var scratchPool = sync.Pool{New: func() any { return new(frameScratch) }}

func (l *link) reply(sensitive bool, m *devicev1.Message) error {
	if err := l.write(sensitive, m); err != nil {
		return err
	}
	return l.out.Flush()
}

func errorReply(id uint64, e *devicev1.Error) *devicev1.Message {
	return &devicev1.Message{Id: id, Body: &devicev1.Message_Error{Error: e}}
}

// open runs the TLS handshake, Hello/Welcome and the login. It returns the
// messages that followed a successful Login or Resume in its frame.
func (l *link) open(ctx context.Context) ([]*devicev1.Message, error) {
	if tc, ok := l.conn.(*tls.Conn); ok {
		hctx, cancel := context.WithTimeout(ctx, l.srv.cfg.HandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("link: tls handshake: %w", err)
		}
	}
	if err := l.handshake(); err != nil {
		return nil, err
	}
	return l.authenticate(ctx)
}

// handshake reads Hello and answers Welcome.
func (l *link) handshake() error {
	msgs, err := l.read(l.srv.cfg.HandshakeTimeout)
	if err != nil {
		return err
	}
	if len(msgs) != 1 || msgs[0].GetHello() == nil {
		l.srv.metrics.protocolErrors.WithLabelValues("no_hello").Inc()
		l.sendError(&devicev1.Error{Code: devicev1.ErrorCode_PROTOCOL_ERROR, Message: "the first message must be Hello"})
		return fmt.Errorf("%w: first message is not Hello", errBadMessage)
	}
	l.hello = msgs[0].GetHello()
	if v := l.hello.ProtocolVersion; v != ProtocolVersion {
		l.srv.metrics.protocolErrors.WithLabelValues("version").Inc()
		l.sendError(&devicev1.Error{Code: devicev1.ErrorCode_PROTOCOL_ERROR,
			Message: fmt.Sprintf("protocol version %d is not supported; this gateway speaks %d", v, ProtocolVersion)})
		return fmt.Errorf("%w: protocol version %d", errBadMessage, v)
	}
	cfg := l.srv.cfg
	return l.reply(false, &devicev1.Message{Id: msgs[0].Id, Body: &devicev1.Message_Welcome{Welcome: &devicev1.Welcome{
		ServerVersion: cfg.ServerVersion, ProtocolVersion: ProtocolVersion, HeartbeatSeconds: uint32(cfg.Heartbeat / time.Second),
		Backends: cfg.Backends,
		Limits: &devicev1.Limits{MaxFrame: uint32(cfg.Limits.MaxFrame), CompressThreshold: uint32(cfg.Limits.CompressThreshold),
			MaxBatch: uint32(cfg.MaxBatch), MaxFileBytes: cfg.MaxFileBytes},
	}}})
}

// authenticate waits for Login or Resume; a failed attempt is answered
// with a typed error and the device may try again a few times. Messages
// that followed a successful Login in the same frame are returned, to be
// handled as the session's first requests.
func (l *link) authenticate(ctx context.Context) ([]*devicev1.Message, error) {
	attempts := 0
	for {
		msgs, err := l.read(l.srv.cfg.HandshakeTimeout)
		if err != nil {
			return nil, err
		}
		for i, m := range msgs {
			var opened *devicev1.SessionOpened
			switch b := m.Body.(type) {
			case *devicev1.Message_Login:
				attempts++
				l.device, opened, err = l.srv.router.Login(ctx, l.hello, b.Login)
			case *devicev1.Message_Resume:
				attempts++
				l.device, opened, err = l.srv.router.Resume(ctx, l.hello, b.Resume)
			case *devicev1.Message_Ping:
				if err := l.reply(false, &devicev1.Message{Id: m.Id, Body: &devicev1.Message_Pong{Pong: &devicev1.Pong{Nonce: b.Ping.Nonce}}}); err != nil {
					return nil, err
				}
				continue
			case *devicev1.Message_Ack, *devicev1.Message_Pong:
				continue // nothing to acknowledge or answer before a session exists
			default:
				err = router.ErrNotLoggedIn
			}
			if err != nil {
				l.srv.metrics.loginFailures.WithLabelValues(router.DeviceError(err).Code.String()).Inc()
				if werr := l.reply(false, errorReply(m.Id, router.DeviceError(err))); werr != nil {
					return nil, werr
				}
				if attempts >= l.srv.cfg.MaxLoginAttempts {
					return nil, fmt.Errorf("link: no successful login after %d attempts", attempts)
				}
				continue
			}
			l.gen, l.stale = l.device.Attachment()
			return msgs[i+1:], l.sendOpened(m.Id, opened)
		}
	}
}

// sendOpened answers a successful Login or Resume. The frame with the
// resume token is never compressed, so that its length cannot reveal the
// token; a device that announced CapabilityLoginSnapshotFrame gets the
// contact snapshot in a compressible frame of its own right after it,
// written with it.
func (l *link) sendOpened(id uint64, opened *devicev1.SessionOpened) error {
	snap := opened.Snapshot
	if snap == nil || !slices.Contains(l.hello.GetCapabilities(), devicev1.CapabilityLoginSnapshotFrame) {
		return l.reply(true, &devicev1.Message{Id: id, Body: &devicev1.Message_SessionOpened{SessionOpened: opened}})
	}
	opened.Snapshot, opened.SnapshotFollows = nil, true
	if err := l.write(true, &devicev1.Message{Id: id, Body: &devicev1.Message_SessionOpened{SessionOpened: opened}}); err != nil {
		return err
	}
	return l.reply(false, &devicev1.Message{Id: id, Body: &devicev1.Message_Snapshot{Snapshot: snap}})
}

// serveSession runs the reader here until the link ends; a writer runs
// while there is something to send (see writer.go).
func (l *link) serveSession(ctx context.Context, pending []*devicev1.Message) error {
	l.slots = make(chan struct{}, l.srv.cfg.MaxInFlight)
	l.kick = make(chan struct{}, 1)
	l.stop = make(chan struct{})
	l.broken = make(chan struct{})
	l.fileWake = l.filesWake()
	l.lastPing.Store(time.Now().UnixNano())
	l.wakeWriter() // replay what the device missed at once

	err := l.readLoop(ctx, pending)
	werr := l.finish()
	if errors.Is(err, errLoggedOut) {
		return nil
	}
	l.srv.sessions.Detach(l.device, l.gen)
	if errors.Is(err, errWriterEnded) {
		err = werr
	}
	return err
}

var (
	errLoggedOut   = errors.New("link: logged out")
	errWriterEnded = errors.New("link: writer ended")
)

func (l *link) readLoop(ctx context.Context, msgs []*devicev1.Message) error {
	idle := l.srv.cfg.IdleTimeout
	for ; ; msgs = nil {
		if msgs == nil {
			var err error
			if msgs, err = l.read(idle); err != nil {
				return err
			}
		}
		for _, m := range msgs {
			switch b := m.Body.(type) {
			case *devicev1.Message_Pong:
				continue
			case *devicev1.Message_Ack:
				l.device.Ack(b.Ack.Seq)
				continue
			case *devicev1.Message_FileChunk, *devicev1.Message_FileChunkAck:
				l.fromDevice(m)
				continue
			}
			// Everything else is answered: take a slot first, so that a
			// device that does not read its answers stops being read.
			select {
			case l.slots <- struct{}{}:
			default:
				l.srv.metrics.throttled.Inc()
				select {
				case l.slots <- struct{}{}:
				case <-l.broken:
					return errWriterEnded
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			switch b := m.Body.(type) {
			case *devicev1.Message_Ping:
				l.queueReply(&devicev1.Message{Id: m.Id, Body: &devicev1.Message_Pong{Pong: &devicev1.Pong{Nonce: b.Ping.Nonce}}})
			case *devicev1.Message_Logout:
				// Answer the requests started before it first, then queue
				// the Ok before ending the session: ending it wakes the
				// writer, which closes the link once it has sent what is
				// queued.
				l.answered.Wait()
				l.queueReply(&devicev1.Message{Id: m.Id, Body: &devicev1.Message_Ok{Ok: &devicev1.Ok{}}})
				l.srv.router.Logout(l.device)
				return errLoggedOut
			case *devicev1.Message_Hello, *devicev1.Message_Login, *devicev1.Message_Resume:
				l.queueReply(errorReply(m.Id, &devicev1.Error{Code: devicev1.ErrorCode_PROTOCOL_ERROR, Message: "already logged in"}))
			case *devicev1.Message_OfferFile, *devicev1.Message_AcceptFile, *devicev1.Message_DeclineFile, *devicev1.Message_CancelFile:
				// A file request is answered before the next message is
				// read, as FileChunks that follow it may need the transfer
				// it sets up.
				done := make(chan struct{})
				l.start(ctx, m, func() { close(done) })
				<-done
			default:
				l.start(ctx, m, nil)
			}
		}
	}
}

// start runs a request without waiting for its answer; then, if not nil,
// runs after the answer is queued.
func (l *link) start(ctx context.Context, m *devicev1.Message, then func()) {
	l.answered.Add(1)
	l.srv.handler.HandleAsync(ctx, l.device, m, func(resp *devicev1.Message) {
		l.queueReply(resp)
		l.answered.Done()
		if then != nil {
			then()
		}
	})
}

// queueReply hands an answer to the writer. It never blocks: it may run on
// the goroutine that receives the plugin's results.
func (l *link) queueReply(m *devicev1.Message) {
	l.mu.Lock()
	l.replies = append(l.replies, m)
	l.mu.Unlock()
	l.wakeWriter()
}

// takeReplies moves up to max queued answers into batch and frees their
// slots.
func (l *link) takeReplies(batch []*devicev1.Message, max int) []*devicev1.Message {
	l.mu.Lock()
	n := min(max, len(l.replies))
	batch = append(batch, l.replies[:n]...)
	rest := copy(l.replies, l.replies[n:])
	clear(l.replies[rest:])
	l.replies = l.replies[:rest]
	if rest == 0 && cap(l.replies) > l.srv.cfg.MaxInFlight {
		l.replies = nil // after a burst, an idle link keeps no large queue
	}
	l.mu.Unlock()
	for range n {
		<-l.slots
	}
	return batch
}
