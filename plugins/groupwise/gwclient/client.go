package gwclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// Client is one TLS connection to a GroupWise Messenger server carrying one
// user session. Its methods are safe for concurrent use.
type Client struct {
	cfg  Config
	log  hclog.Logger
	conn net.Conn

	// writeMu guards transaction id assignment and the queue of encoded
	// requests, so that requests go out in the order of their ids. The
	// first request queued while no write runs writes the queue; requests
	// queued meanwhile go out together in its next write (see enqueue).
	writeMu sync.Mutex
	lastTID int
	wqueue  *[]byte // encoded requests waiting to be written; nil if none
	writing bool    // a goroutine is writing the queue

	mu       sync.Mutex
	pending  map[string]*request
	login    loginState
	self     User
	users    map[string]User // by dnKey
	confs    map[string]*conference
	contacts contactState

	// Event delivery (delivery.go), guarded by evMu. Events wait in
	// queue[head:] until the consumer takes them.
	evMu       sync.Mutex
	queue      []Event
	head       int
	mode       deliveryMode
	handler    Handler
	delivering bool // a deliver goroutine is running
	readerDone bool // the reader has returned: no more events
	closing    bool // Close was called: no more goroutines
	finished   bool // events is closed
	events     chan Event

	done     chan struct{} // closed when the connection is over
	failOnce sync.Once
	err      error // why; set before done is closed

	keepalive *time.Timer   // from login; see keepalive.go
	quit      chan struct{} // closed by Close: stop delivering events
	closeOnce sync.Once
	wg        sync.WaitGroup // the reader, a deliverer, a keepalive ping, a writer
}

type loginState uint8

const (
	loginNone loginState = iota
	loginRunning
	loginDone
)

// Dial connects to the server described by cfg and completes the TLS
// handshake, verifying the server certificate against cfg.RootCAs and
// cfg.ServerName. The returned client is not logged in yet; call Login.
// DialTimeout bounds connect plus handshake (and ctx, if it ends sooner).
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(cfg.Server, strconv.Itoa(cfg.Port))
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	d := tls.Dialer{
		NetDialer: &net.Dialer{},
		Config: &tls.Config{
			RootCAs:            cfg.RootCAs,
			ServerName:         cfg.ServerName,
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // explicit test-only switch
			MinVersion:         tls.VersionTLS12,
		},
	}
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gwclient: dialing %s: %w", addr, err)
	}
	c := newClient(conn, cfg)
	c.log.Debug("connected", "tls_version", tls.VersionName(conn.(*tls.Conn).ConnectionState().Version))
	return c, nil
}

// newClient starts a client on an established connection; cfg must have
// its defaults applied.
func newClient(conn net.Conn, cfg Config) *Client {
	c := &Client{
		cfg:     cfg,
		log:     cfg.Logger.Named("gwclient").With("server", net.JoinHostPort(cfg.Server, strconv.Itoa(cfg.Port))),
		conn:    conn,
		pending: make(map[string]*request),
		users:   make(map[string]User),
		confs:   make(map[string]*conference),
		events:  make(chan Event),
		done:    make(chan struct{}),
		quit:    make(chan struct{}),
	}
	c.wg.Add(1)
	go c.readLoop()
	return c
}

// Done is closed when the connection has ended, for whatever reason.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is up, then the reason it ended:
// ErrClosed after Close, ErrConnectionLost (wrapping the network error)
// when the server closed the connection, ErrTimeout, ErrProtocol,
// ErrEventOverflow, ErrConnectedElsewhere, ErrServerDisconnect, or the
// login error after a failed Login.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the session. As libpurple does, it sends no logout request: it
// closes the TLS connection, which the server treats as a sign-off (spec
// §1.9). Outstanding requests fail with ErrClosed; undelivered events are
// discarded, Events is closed and a Handler's End is called (unless a
// handler call is still running: then End follows it). Close waits for the
// client's goroutines and is safe to call more than once. With Events, call
// it also after the server ended the connection: until then the goroutine
// that delivers events waits for the remaining buffered events to be
// received.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	c.closeOnce.Do(func() { close(c.quit) })
	if end := c.stopDelivery(); end != nil {
		end()
	}
	c.wg.Wait()
	return nil
}

// fail ends the connection with err, once, and then fails the requests
// waiting with a callback (those waiting in roundTrip see done).
func (c *Client) fail(err error) {
	first := false
	c.failOnce.Do(func() {
		first = true
		c.err = err
		close(c.done)
		c.stopKeepalive()
		if !errors.Is(err, ErrClosed) {
			c.log.Info("connection ended", "error", err)
		}
		_ = c.conn.Close()
	})
	if first {
		c.failCallbacks()
	}
}

// failCallbacks completes the callback requests still waiting with the
// connection's error. It holds writeMu while it collects them, so that no
// request is queued after done was closed and missed here.
func (c *Client) failCallbacks() {
	var waiting []*request
	c.writeMu.Lock()
	c.mu.Lock()
	for tid, r := range c.pending {
		if r.done != nil {
			waiting = append(waiting, r)
			delete(c.pending, tid)
		}
	}
	c.mu.Unlock()
	c.writeMu.Unlock()
	for _, r := range waiting {
		r.stop()
		r.done(nil, fmt.Errorf("gwclient: %s: %w", r.cmd, c.err))
	}
}

// call sends one request of a logged-in session and waits for its response.
// A non-zero result code is returned as a *ServerError. Errors carry the
// command as context.
func (c *Client) call(ctx context.Context, cmd string, fields gwproto.Fields) (*gwproto.Response, error) {
	if err := c.loggedIn(cmd); err != nil {
		return nil, err
	}
	return c.roundTrip(ctx, &gwproto.Request{Command: cmd, Fields: fields})
}

func (c *Client) loggedIn(cmd string) error {
	c.mu.Lock()
	state := c.login
	c.mu.Unlock()
	if state != loginDone {
		return fmt.Errorf("gwclient: %s: %w", cmd, ErrNotLoggedIn)
	}
	return nil
}

// request is a request waiting for its response: a caller of roundTrip
// waiting on ch, or a callback (start).
type request struct {
	cmd  string
	tid  string
	ch   chan *gwproto.Response // roundTrip's; nil for a callback
	done func(*gwproto.Response, error)
	// A callback request's bounds, armed when it is queued.
	timer   *time.Timer // RequestTimeout; nil if the context ends sooner
	stopCtx func() bool // stops the context's AfterFunc; nil if it never ends
}

// stop disarms a callback request's timer and context watch.
func (r *request) stop() {
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.stopCtx != nil {
		r.stopCtx()
	}
}

func (c *Client) roundTrip(ctx context.Context, req *gwproto.Request) (*gwproto.Response, error) {
	cmd := req.Command
	select {
	case <-c.done:
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, c.err)
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, err)
	}
	timer := getTimer(c.cfg.RequestTimeout)
	defer putTimer(timer)
	r := &request{cmd: cmd, ch: make(chan *gwproto.Response, 1)}
	if err := c.enqueue(ctx, req, r); err != nil {
		return nil, err
	}
	defer c.forget(r.tid)

	select {
	case resp := <-r.ch:
		return resp, checkResult(cmd, resp)
	case <-ctx.Done():
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, ctx.Err())
	case <-timer.C:
		c.fail(fmt.Errorf("%w: no answer to %s (tid %s) after %v", ErrTimeout, cmd, r.tid, c.cfg.RequestTimeout))
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, c.err)
	case <-c.done:
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, c.err)
	}
}

// start sends one request of a logged-in session without waiting: done
// is called exactly once, with the response (and, as from call, a
// *ServerError for a non-zero result code) or the error that ended the
// request: ctx ending, RequestTimeout (which also ends the connection, as
// for call) or the connection failing. done runs on the reader goroutine,
// a timer's goroutine, or before start returns; it must not block.
// Requests started one after the other go out in that order.
func (c *Client) start(ctx context.Context, cmd string, fields gwproto.Fields, done func(*gwproto.Response, error)) {
	if err := c.loggedIn(cmd); err != nil {
		done(nil, err)
		return
	}
	if err := ctx.Err(); err != nil {
		done(nil, fmt.Errorf("gwclient: %s: %w", cmd, err))
		return
	}
	r := &request{cmd: cmd, done: done}
	if err := c.enqueue(ctx, &gwproto.Request{Command: cmd, Fields: fields}, r); err != nil {
		done(nil, err)
	}
}

// enqueue assigns req its transaction id, registers r as waiting for the
// response (arming a callback request's bounds) and queues the encoded
// request for writing. If no write is running, one starts: the caller
// writes the queue itself, unless it is a callback request while others
// are outstanding, which leaves it to a new goroutine. Either writes until
// the queue is empty, so
// requests queued while a write runs share the next write (and its TLS
// record). It fails if the connection has ended or the request cannot be
// encoded.
func (c *Client) enqueue(ctx context.Context, req *gwproto.Request, r *request) error {
	c.writeMu.Lock()
	select {
	case <-c.done:
		c.writeMu.Unlock()
		return fmt.Errorf("gwclient: %s: %w", req.Command, c.err)
	default:
	}
	buf := c.wqueue
	if buf == nil {
		buf = encodeBuffers.Get().(*[]byte)
		*buf = (*buf)[:0]
	}
	n := len(*buf)
	c.lastTID++
	req.TID = strconv.Itoa(c.lastTID)
	var err error
	if *buf, err = req.AppendTo(*buf); err != nil {
		c.lastTID--
		*buf = (*buf)[:n]
		if n == 0 {
			putEncodeBuffer(buf)
			buf = nil
		}
		c.wqueue = buf
		c.writeMu.Unlock()
		return fmt.Errorf("gwclient: %s: encoding request: %w", req.Command, err)
	}
	c.wqueue = buf
	r.tid = req.TID
	c.mu.Lock()
	c.pending[r.tid] = r
	if r.done != nil {
		c.arm(ctx, r)
	}
	busy := len(c.pending) > 1
	c.mu.Unlock()
	c.log.Trace("request queued", "command", req.Command, "tid", r.tid)
	switch {
	case c.writing:
		c.writeMu.Unlock()
	case r.done != nil && busy:
		// Other requests are outstanding, so more are likely to follow:
		// the caller goes on (often to queue the next request) while a
		// goroutine of its own writes, and the requests queued meanwhile
		// share that write. A lone request is written at once, without
		// the hand-over.
		c.writing = true
		c.wg.Add(1)
		c.writeMu.Unlock()
		go func() {
			defer c.wg.Done()
			c.writeMu.Lock()
			c.writeQueue()
		}()
	default:
		c.writing = true
		c.writeQueue()
	}
	return nil
}

// arm bounds a callback request by ctx and by RequestTimeout. It runs
// under c.mu before the request is written, so its response cannot
// complete it first.
func (c *Client) arm(ctx context.Context, r *request) {
	if d, ok := ctx.Deadline(); !ok || time.Until(d) >= c.cfg.RequestTimeout {
		r.timer = time.AfterFunc(c.cfg.RequestTimeout, func() {
			if c.take(r) {
				c.fail(fmt.Errorf("%w: no answer to %s (tid %s) after %v", ErrTimeout, r.cmd, r.tid, c.cfg.RequestTimeout))
				r.stop()
				r.done(nil, fmt.Errorf("gwclient: %s: %w", r.cmd, c.err))
			}
		})
	}
	if ctx.Done() != nil {
		r.stopCtx = context.AfterFunc(ctx, func() {
			if c.take(r) {
				r.stop()
				r.done(nil, fmt.Errorf("gwclient: %s: %w", r.cmd, ctx.Err()))
			}
		})
	}
}

// take removes r from the waiting requests; false if it was not waiting
// (answered, or ended another way).
func (c *Client) take(r *request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[r.tid] != r {
		return false
	}
	delete(c.pending, r.tid)
	return true
}

// writeQueue writes queued requests until the queue is empty. It is
// called with writeMu held and c.writing set, and returns with writeMu
// released. A failed write ends the connection.
func (c *Client) writeQueue() {
	for c.wqueue != nil {
		buf := c.wqueue
		c.wqueue = nil
		c.writeMu.Unlock()
		select {
		case <-c.done: // the requests have failed already
		default:
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
			if _, err := c.conn.Write(*buf); err != nil {
				c.fail(fmt.Errorf("%w: writing requests: %w", ErrConnectionLost, err))
			}
		}
		putEncodeBuffer(buf)
		c.writeMu.Lock()
	}
	c.writing = false
	c.writeMu.Unlock()
}

// encodeBuffers hold requests while they are encoded and written; the
// connection copies them into TLS records, so a buffer is free again once
// Write returns.
var encodeBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// maxPooledEncodeBuffer is the largest encoding buffer kept for reuse.
const maxPooledEncodeBuffer = 64 << 10

func putEncodeBuffer(b *[]byte) {
	if cap(*b) <= maxPooledEncodeBuffer {
		encodeBuffers.Put(b)
	}
}

// requestTimers are the timers bounding requests. A stopped timer delivers
// nothing after Reset (Go 1.23 timers), so timers can be reused.
var requestTimers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := requestTimers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	requestTimers.Put(t)
}

func (c *Client) forget(tid string) {
	c.mu.Lock()
	delete(c.pending, tid)
	c.mu.Unlock()
}

func checkResult(cmd string, resp *gwproto.Response) error {
	err := resp.Err()
	var re *gwproto.ResultError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return &ServerError{Command: cmd, Result: re}
	default:
		return fmt.Errorf("gwclient: %s: %w: %w", cmd, ErrBadResponse, err)
	}
}

// deliverResponse hands a response to the request waiting for it.
func (c *Client) deliverResponse(resp *gwproto.Response) {
	tid := resp.TID()
	c.mu.Lock()
	r, ok := c.pending[tid]
	delete(c.pending, tid)
	c.mu.Unlock()
	switch {
	case !ok:
		c.log.Debug("dropping response for no outstanding request", "tid", tid)
	case r.ch != nil:
		r.ch <- resp // buffered, and each tid is answered at most once
	default:
		r.stop()
		r.done(resp, checkResult(r.cmd, resp))
	}
}
