package stclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// Client is a logged-in Sametime session. Its methods are safe for
// concurrent use.
type Client struct {
	cfg  Config
	log  hclog.Logger
	conn net.Conn
	fr   *stproto.FrameReader
	dh   *stproto.DHKey // one key pair per session, as meanwhile does
	self stproto.LoginInfo

	wmu      sync.Mutex // serialises writes and the outgoing CBC chains
	writeErr atomic.Pointer[error]

	mu       sync.Mutex // guards everything below
	channels map[uint32]*channel
	nextID   uint32
	services map[stproto.ServiceID]*channel
	convs    map[string]*channel // IM channel used to send to a user
	plainIM  map[string]bool     // users whose client refused NotesBuddy IM
	status   stproto.UserStatus
	aware    awareState
	storage  requests[stproto.StorageLoaded]
	saves    requests[stproto.StorageSaved]
	resolves requests[stproto.ResolveResponse]

	events     chan Event
	done       chan struct{}
	readerDone chan struct{}
	keepDone   chan struct{}
	errOnce    sync.Once
	err        error
	closeOnce  sync.Once
}

// Dial connects to the server named by cfg and logs in. It returns once
// the server acknowledged the login; the awareness, resolve and storage
// channels are opened in the background. ctx bounds the connect and
// login only.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dh, err := stproto.GenerateDHKey(cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("stclient: dial: %w", err)
	}
	c := newClient(cfg, dh)
	lc, ack, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	c.conn, c.fr, c.self = lc.conn, lc.fr, ack.Login
	c.log.Info("logged in", "server", lc.addr, "login_id", ack.Login.LoginID)
	go c.readLoop()
	go c.keepalive()
	c.startServices()
	return c, nil
}

// newClient returns a client in its pre-login state; cfg has its defaults.
func newClient(cfg Config, dh *stproto.DHKey) *Client {
	return &Client{
		cfg:        cfg,
		log:        cfg.Logger.Named("stclient").With("user", cfg.User),
		dh:         dh,
		channels:   make(map[uint32]*channel),
		nextID:     1,
		services:   make(map[stproto.ServiceID]*channel),
		convs:      make(map[string]*channel),
		plainIM:    make(map[string]bool),
		status:     stproto.UserStatus{Status: stproto.StatusActive},
		aware:      newAwareState(),
		storage:    newRequests[stproto.StorageLoaded](),
		saves:      newRequests[stproto.StorageSaved](),
		resolves:   newRequests[stproto.ResolveResponse](),
		events:     make(chan Event, cfg.EventBuffer),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		keepDone:   make(chan struct{}),
	}
}

// startServices opens the login-time service channels and announces the
// own status, as meanwhile does right after LOGIN_ACK.
func (c *Client) startServices() {
	for _, s := range []stproto.ServiceID{stproto.ServiceResolve, stproto.ServiceAware, stproto.ServiceStorage} {
		if _, err := c.serviceChannel(s); err != nil {
			return // the session has failed; Err reports why
		}
	}
	c.mu.Lock()
	st := c.status
	c.mu.Unlock()
	_ = c.writeMessage(&stproto.Message{Body: &stproto.SetUserStatus{Status: st}})
}

// Self returns the login record the server assigned to this session.
func (c *Client) Self() stproto.LoginInfo { return c.self }

// Events returns the channel on which server events arrive. It is closed
// after the session ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the session ended (ErrClosed after Close, a
// *ServerError if the server ended it, ErrConnectionLost, ErrTimeout or
// ErrSlowConsumer otherwise), or nil while it is running.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close logs off: it closes every open channel and the master channel
// (CHANNEL_DESTROY on channel 0), then the connection. It waits for the
// client's goroutines to finish. Closing an ended session returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		var logoff []byte
		for id, ch := range c.channels {
			if ch.state != chanClosed {
				logoff = appendDestroy(logoff, id, stproto.ReasonSuccess)
			}
		}
		c.mu.Unlock()
		logoff = appendDestroy(logoff, stproto.MasterChannel, stproto.ReasonSuccess)
		c.log.Info("logging off")
		c.shutdown(ErrClosed, logoff)
	})
	<-c.readerDone
	<-c.keepDone
	return nil
}

func appendDestroy(dst []byte, id uint32, reason stproto.ReasonError) []byte {
	b, _ := (&stproto.Message{Channel: id, Body: &stproto.ChannelDestroy{Reason: reason}}).MarshalFrame()
	return append(dst, b...)
}

// fail ends the session with err (the first error wins) and closes the
// connection, which stops the reader.
func (c *Client) fail(err error) {
	c.errOnce.Do(func() {
		c.err = err
		close(c.done)
		_ = c.conn.Close()
	})
}

// shutdown ends the session with err like fail, but first writes last
// (best effort): the logoff of Close or the echo of the server's destroy.
// Recording err before writing keeps a failing write from replacing it.
func (c *Client) shutdown(err error, last []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.errOnce.Do(func() {
		c.err = err
		close(c.done)
		_ = c.conn.SetWriteDeadline(time.Now().Add(c.cfg.IOTimeout))
		if _, werr := c.conn.Write(last); werr != nil {
			c.log.Debug("final write failed", "error", werr)
		}
		_ = c.conn.Close()
	})
}

// connLost wraps a transport error.
func connLost(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// writeFrame writes one encoded frame with the IO deadline.
func (c *Client) writeFrame(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b)
}

func (c *Client) writeLocked(b []byte) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	if err := c.writeErr.Load(); err != nil {
		return *err
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.cfg.IOTimeout))
	if _, err := c.conn.Write(b); err != nil {
		// Do not end the session yet: the server may have sent why it
		// closed (a CHANNEL_DESTROY of channel 0) just before. The reader
		// drains what arrived and then ends the session.
		err = connLost(err)
		c.writeErr.Store(&err)
		_ = c.conn.SetReadDeadline(time.Now().Add(writeFailureGrace))
		return err
	}
	return nil
}

// writeMessage encodes and writes m.
func (c *Client) writeMessage(m *stproto.Message) error {
	b, err := m.MarshalFrame()
	if err != nil {
		return fmt.Errorf("stclient: encode %s: %w", m.Type(), err)
	}
	return c.writeFrame(b)
}

// writeDestroy closes channel id (0 = the session) with reason.
func (c *Client) writeDestroy(id uint32, reason stproto.ReasonError) error {
	return c.writeMessage(&stproto.Message{Channel: id, Body: &stproto.ChannelDestroy{Reason: reason}})
}

// keepalive sends a keepalive byte every KeepaliveInterval, as libpurple
// does, until the session ends.
func (c *Client) keepalive() {
	defer close(c.keepDone)
	if c.cfg.KeepaliveInterval < 0 {
		return
	}
	t := time.NewTicker(c.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if c.writeFrame([]byte{stproto.Keepalive}) != nil {
				return
			}
		}
	}
}

// awaitFor waits for ready, bounded by ctx, the session and limit.
func (c *Client) awaitFor(ctx context.Context, op string, ready <-chan struct{}, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stclient: %s: %w", op, ctx.Err())
	case <-c.done:
		return fmt.Errorf("stclient: %s: %w", op, c.err)
	case <-t.C:
		return fmt.Errorf("stclient: %s: no answer within %v: %w", op, limit, ErrTimeout)
	}
}

// requests matches service replies to pending requests by id.
type requests[T any] struct {
	next    uint32
	pending map[uint32]chan T
}

func newRequests[T any]() requests[T] { return requests[T]{pending: make(map[uint32]chan T)} }

// add registers a new request; callers hold Client.mu.
func (r *requests[T]) add() (uint32, chan T) {
	r.next++
	ch := make(chan T, 1)
	r.pending[r.next] = ch
	return r.next, ch
}

// complete delivers v to request id; callers hold Client.mu.
func (r *requests[T]) complete(id uint32, v T) bool {
	ch, ok := r.pending[id]
	if ok {
		delete(r.pending, id)
		ch <- v
	}
	return ok
}

// request sends a service request built by build(id) and waits for its
// reply.
func request[T any](ctx context.Context, c *Client, op string, reqs *requests[T], ch *channel, msgType uint16, build func(id uint32) ([]byte, error)) (T, error) {
	var zero T
	c.mu.Lock()
	id, reply := reqs.add()
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(reqs.pending, id)
		c.mu.Unlock()
	}()
	data, err := build(id)
	if err != nil {
		return zero, fmt.Errorf("stclient: %s: %w", op, err)
	}
	if err := c.sendOn(ch, msgType, data, false); err != nil {
		return zero, fmt.Errorf("stclient: %s: %w", op, err)
	}
	t := time.NewTimer(c.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case v := <-reply:
		return v, nil
	case <-ch.gone:
		return zero, channelError(op, ch.closeReason())
	case <-ctx.Done():
		return zero, fmt.Errorf("stclient: %s: %w", op, ctx.Err())
	case <-c.done:
		return zero, fmt.Errorf("stclient: %s: %w", op, c.err)
	case <-t.C:
		return zero, fmt.Errorf("stclient: %s: no answer within %v: %w", op, c.cfg.RequestTimeout, ErrTimeout)
	}
}
