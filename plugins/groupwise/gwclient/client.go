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

	// writeMu serialises transaction id assignment and writes, so that ids
	// go out in order and every request is one Write call.
	writeMu sync.Mutex
	lastTID int

	mu       sync.Mutex
	pending  map[string]chan *gwproto.Response
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
	wg        sync.WaitGroup // the reader, a deliverer, a keepalive ping
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
		pending: make(map[string]chan *gwproto.Response),
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

// fail ends the connection with err, once.
func (c *Client) fail(err error) {
	c.failOnce.Do(func() {
		c.err = err
		close(c.done)
		c.stopKeepalive()
		if !errors.Is(err, ErrClosed) {
			c.log.Info("connection ended", "error", err)
		}
		_ = c.conn.Close()
	})
}

// call sends one request of a logged-in session and waits for its response.
// A non-zero result code is returned as a *ServerError. Errors carry the
// command as context.
func (c *Client) call(ctx context.Context, cmd string, fields gwproto.Fields) (*gwproto.Response, error) {
	c.mu.Lock()
	state := c.login
	c.mu.Unlock()
	if state != loginDone {
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, ErrNotLoggedIn)
	}
	return c.roundTrip(ctx, &gwproto.Request{Command: cmd, Fields: fields})
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
	ch := make(chan *gwproto.Response, 1)

	buf := encodeBuffers.Get().(*[]byte)
	defer putEncodeBuffer(buf)
	c.writeMu.Lock()
	c.lastTID++
	req.TID = strconv.Itoa(c.lastTID)
	var err error
	*buf, err = req.AppendTo((*buf)[:0])
	if err != nil {
		c.lastTID--
		c.writeMu.Unlock()
		return nil, fmt.Errorf("gwclient: %s: encoding request: %w", cmd, err)
	}
	tid := req.TID
	c.mu.Lock()
	c.pending[tid] = ch
	c.mu.Unlock()
	defer c.forget(tid)
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	_, err = c.conn.Write(*buf)
	c.writeMu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("%w: writing %s: %w", ErrConnectionLost, cmd, err))
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, c.err)
	}
	c.log.Trace("request sent", "command", cmd, "tid", tid)

	select {
	case resp := <-ch:
		return resp, checkResult(cmd, resp)
	case <-ctx.Done():
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, ctx.Err())
	case <-timer.C:
		c.fail(fmt.Errorf("%w: no answer to %s (tid %s) after %v", ErrTimeout, cmd, tid, c.cfg.RequestTimeout))
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, c.err)
	case <-c.done:
		return nil, fmt.Errorf("gwclient: %s: %w", cmd, c.err)
	}
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
	ch, ok := c.pending[tid]
	delete(c.pending, tid)
	c.mu.Unlock()
	if !ok {
		c.log.Debug("dropping response for no outstanding request", "tid", tid)
		return
	}
	ch <- resp // buffered, and each tid is answered at most once
}
