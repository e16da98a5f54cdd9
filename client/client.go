// Package client is the device side of the Parley link: Dial the gateway,
// Login or Resume, send requests, and receive session events. The parley
// CLI is built on it; docs/device-protocol.md describes the wire protocol
// it speaks for implementers in other languages.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/core/frame"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// ALPN is the TLS application protocol of the device link.
const ALPN = "parley/1"

// Config describes how to reach the gateway.
type Config struct {
	Addr       string      // host:port, default port 4101
	TLS        *tls.Config // required; ALPN is added
	ClientName string
	DeviceID   string // stable per installation; binds resume tokens
	Screen     *devicev1.Screen
	Limits     frame.Limits
	// EventBuffer is how many events may wait for the application before
	// the client stops reading from the gateway (default 1024).
	EventBuffer int
	// ManualAck stops the client from acknowledging events as it hands
	// them over; the application calls Ack once it has processed them.
	ManualAck bool
}

// Error is a typed error from the gateway.
type Error struct {
	Code        devicev1.ErrorCode
	Message     string
	LimitSource devicev1.LimitSource
	Limit       uint64
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is matches errors with the same code: errors.Is(err, &client.Error{Code: c}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Code returns the gateway's error code in err, or ERROR_CODE_UNSPECIFIED.
func Code(err error) devicev1.ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return devicev1.ErrorCode_ERROR_CODE_UNSPECIFIED
}

func fromProto(e *devicev1.Error) *Error {
	return &Error{Code: e.Code, Message: e.Message, LimitSource: e.LimitSource, Limit: e.Limit}
}

// ErrClosed is returned by calls on a closed link.
var ErrClosed = errors.New("client: link closed")

// Conn is one link to the gateway.
type Conn struct {
	conn    net.Conn
	in      *frame.Reader
	wmu     sync.Mutex
	senders atomic.Int32 // goroutines in send, for sharing writes
	out     *frame.Writer
	Welcome *devicev1.Welcome

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *devicev1.Message
	lastSeq uint64
	err     error

	events    chan *devicev1.Event
	done      chan struct{}
	manualAck bool
	files     fileRouter        // file transfers running on this link
	opening   *devicev1.Message // a SessionOpened waiting for its snapshot (read loop only)

	// guarded by mu: the newest seq to acknowledge, the newest already
	// sent, and the timer that sends a waiting acknowledgement.
	ackSeq, ackedSeq uint64
	ackTimer         *time.Timer
}

// AckDelay is the longest an acknowledgement waits before it is sent on
// its own. Acknowledgements of events that arrive meanwhile replace it,
// and a request sent meanwhile carries it in its frame, so a busy link
// sends one Ack per AckDelay instead of one per event frame.
const AckDelay = 100 * time.Millisecond

// Dial connects, sends Hello and waits for Welcome.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.TLS == nil {
		return nil, errors.New("client: a TLS config is required")
	}
	tlsCfg := cfg.TLS.Clone()
	tlsCfg.NextProtos = []string{ALPN}
	d := tls.Dialer{Config: tlsCfg}
	raw, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", cfg.Addr, err)
	}
	if n := cfg.EventBuffer; n <= 0 {
		cfg.EventBuffer = 1024
	}
	c := &Conn{conn: raw, in: frame.NewReader(raw, cfg.Limits), out: frame.NewWriter(raw, cfg.Limits),
		pending: map[uint64]chan *devicev1.Message{}, events: make(chan *devicev1.Event, cfg.EventBuffer), done: make(chan struct{}),
		manualAck: cfg.ManualAck}
	go c.readLoop()
	resp, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_Hello{Hello: &devicev1.Hello{
		ProtocolVersion: 1, ClientName: cfg.ClientName, DeviceId: cfg.DeviceID, Screen: cfg.Screen,
		Capabilities: []string{devicev1.CapabilityLoginSnapshotFrame}}}})
	if err != nil {
		c.Close()
		return nil, err
	}
	c.Welcome = resp.GetWelcome()
	if c.Welcome == nil {
		c.Close()
		return nil, fmt.Errorf("client: expected Welcome, got %T", resp.Body)
	}
	return c, nil
}

// Call sends a request and waits for the answer. A typed gateway error is
// returned as *Error.
func (c *Conn) Call(ctx context.Context, m *devicev1.Message) (*devicev1.Message, error) {
	sensitive := m.GetLogin() != nil || m.GetResume() != nil
	ch := answerChans.Get().(chan *devicev1.Message)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	m.Id = c.nextID
	c.pending[m.Id] = ch
	c.mu.Unlock()
	if err := c.send(sensitive, m); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		// The read loop took ch out of pending before sending: nothing
		// else will use it.
		answerChans.Put(ch)
		return answer(resp)
	case <-c.done:
		// The answer may have come just before the link closed (a
		// Logout's Ok): prefer it to the close.
		select {
		case resp := <-ch:
			return answer(resp)
		default:
		}
		return nil, c.Err()
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, m.Id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// answerChans holds idle channels for Call to receive an answer on. A
// channel goes back only once its answer was taken; one left behind by a
// closed link or a cancelled Call is dropped, since an answer may still
// arrive on it.
var answerChans = sync.Pool{New: func() any { return make(chan *devicev1.Message, 1) }}

// answer returns a request's answer, or its typed error as *Error.
func answer(resp *devicev1.Message) (*devicev1.Message, error) {
	if e := resp.GetError(); e != nil {
		return nil, fromProto(e)
	}
	return resp, nil
}

// send writes messages in one frame, after a waiting acknowledgement
// (never in a sensitive frame: those carry credentials only).
func (c *Conn) send(sensitive bool, msgs ...*devicev1.Message) error {
	if !sensitive {
		if ack := c.takeAck(); ack != nil {
			msgs = append([]*devicev1.Message{ack}, msgs...)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	sc := scratchPool.Get().(*frameScratch)
	defer scratchPool.Put(sc)
	sc.frame.Messages = msgs
	body, err := proto.MarshalOptions{}.MarshalAppend(sc.body[:0], &sc.frame)
	sc.frame.Messages = nil
	if err != nil {
		return fmt.Errorf("client: marshal: %w", err)
	}
	if cap(body) <= maxScratch {
		sc.body = body // WriteFrame copies it: the buffer is free again on return
	}
	// Senders that meet here share one write: each buffers its frame, and
	// the last of those waiting for wmu flushes them all together. A
	// failed write ends the link, so the requests whose frames another
	// sender flushed learn of it too.
	c.senders.Add(1)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	err = c.out.WriteFrame(body, sensitive)
	var tooLarge *frame.LimitError
	if err != nil && !errors.As(err, &tooLarge) {
		c.senders.Add(-1)
		err = fmt.Errorf("client: write: %w", err)
		c.fail(err)
		return err
	}
	if c.senders.Add(-1) == 0 {
		if ferr := c.out.Flush(); ferr != nil {
			ferr = fmt.Errorf("client: write: %w", ferr)
			c.fail(ferr)
			return ferr
		}
	}
	if err != nil {
		return fmt.Errorf("client: write: %w", err) // this frame only: too large
	}
	return nil
}

// frameScratch is what send marshals a frame with, reused through
// scratchPool so that a request costs no allocation for its frame.
type frameScratch struct {
	frame devicev1.Frame
	body  []byte
}

// maxScratch bounds the body buffer a frameScratch keeps, so that a rare
// large request is not held on to.
const maxScratch = 16 << 10

var scratchPool = sync.Pool{New: func() any { return new(frameScratch) }}

func (c *Conn) readLoop() {
	defer close(c.events)
	// One Frame and its slice of messages serve every frame read: the
	// messages are handed on, the slice holding them is not.
	var f devicev1.Frame
	for {
		body, err := c.in.ReadFrame()
		if err != nil {
			c.fail(err)
			return
		}
		clear(f.Messages)
		f.Messages = f.Messages[:0]
		f.ProtoReflect().SetUnknown(nil)
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(body, &f); err != nil {
			c.fail(fmt.Errorf("client: bad frame from gateway: %w", err))
			return
		}
		var newest uint64
		for _, m := range f.Messages {
			switch {
			case m.GetEvent() != nil:
				c.files.observe(m.GetEvent())
				select {
				case c.events <- m.GetEvent():
				case <-c.done:
					return
				}
				newest = max(newest, m.GetEvent().Seq)
			case m.GetFileChunk() != nil || m.GetFileChunkAck() != nil:
				c.files.deliver(m)
			case m.GetPing() != nil:
				c.send(false, &devicev1.Message{Body: &devicev1.Message_Pong{Pong: &devicev1.Pong{Nonce: m.GetPing().Nonce}}})
			case m.Id != 0:
				if m = c.assembleOpened(m); m == nil {
					continue // the snapshot of a Login follows
				}
				c.mu.Lock()
				ch := c.pending[m.Id]
				delete(c.pending, m.Id)
				c.mu.Unlock()
				if ch != nil {
					ch <- m
				}
			case m.GetError() != nil: // unsolicited: the gateway is closing the link
				c.fail(fromProto(m.GetError()))
				return
			}
		}
		if newest > 0 {
			c.mu.Lock()
			c.lastSeq = max(c.lastSeq, newest)
			c.mu.Unlock()
			if !c.manualAck {
				c.Ack(newest)
			}
		}
	}
}

// assembleOpened puts a Login's answer back together: a SessionOpened
// whose snapshot follows is held (nil is returned) until the message with
// the snapshot arrives, which then returns the whole SessionOpened. Other
// messages are returned as they are. It runs on the read loop only.
func (c *Conn) assembleOpened(m *devicev1.Message) *devicev1.Message {
	if o := m.GetSessionOpened(); o != nil && o.SnapshotFollows {
		c.opening = m
		return nil
	}
	if held := c.opening; held != nil && held.Id == m.Id && m.GetSnapshot() != nil {
		c.opening = nil
		o := held.GetSessionOpened()
		o.Snapshot, o.SnapshotFollows = m.GetSnapshot(), false
		return held
	}
	return m
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("%w: %v", ErrClosed, err)
	}
	c.err = err
	close(c.done)
	c.conn.Close()
}

// Err is why the link ended (nil while it is up).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the link ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Events delivers session events in seq order. The client acknowledges
// them to the gateway as they are handed over. The channel is closed when
// the link ends.
func (c *Conn) Events() <-chan *devicev1.Event { return c.events }

// Ack acknowledges every event up to seq; the gateway may then forget
// them. The acknowledgement goes out within AckDelay, or sooner with the
// next request. One still waiting when the link drops is not needed:
// Resume tells the gateway the last seq the device has.
func (c *Conn) Ack(seq uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if seq <= c.ackSeq {
		return nil
	}
	c.ackSeq = seq
	if c.ackTimer == nil {
		c.ackTimer = time.AfterFunc(AckDelay, c.flushAck)
	}
	return nil
}

// flushAck sends a waiting acknowledgement in a frame of its own.
func (c *Conn) flushAck() {
	if err := c.send(false); err != nil {
		c.fail(err)
	}
}

// takeAck returns the waiting acknowledgement, if any, and marks it sent.
func (c *Conn) takeAck() *devicev1.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ackTimer != nil {
		c.ackTimer.Stop()
		c.ackTimer = nil
	}
	if c.ackSeq <= c.ackedSeq || c.err != nil {
		return nil
	}
	c.ackedSeq = c.ackSeq
	return &devicev1.Message{Body: &devicev1.Message_Ack{Ack: &devicev1.Ack{Seq: c.ackSeq}}}
}

// LastSeq is the newest event seq handed to the application (for Resume).
func (c *Conn) LastSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeq
}

// Close ends the link without logging out: the session stays on the
// gateway for its detach TTL, ready for Resume.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	return nil
}

// Login logs in with a password.
func (c *Conn) Login(ctx context.Context, user, password string) (*devicev1.SessionOpened, error) {
	resp, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_Login{Login: &devicev1.Login{User: user, Password: password}}})
	if err != nil {
		return nil, err
	}
	return c.opened(resp)
}

// Resume re-attaches to a session with the token from the last
// SessionOpened; events after lastSeq are replayed.
func (c *Conn) Resume(ctx context.Context, sessionID string, token []byte, lastSeq uint64) (*devicev1.SessionOpened, error) {
	resp, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_Resume{Resume: &devicev1.Resume{
		SessionId: sessionID, ResumeToken: token, LastSeq: lastSeq}}})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lastSeq = lastSeq
	c.mu.Unlock()
	return c.opened(resp)
}

func (c *Conn) opened(resp *devicev1.Message) (*devicev1.SessionOpened, error) {
	o := resp.GetSessionOpened()
	if o == nil {
		return nil, fmt.Errorf("client: expected SessionOpened, got %T", resp.Body)
	}
	return o, nil
}

// Logout ends the device's part of the session.
func (c *Conn) Logout(ctx context.Context) error {
	_, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_Logout{Logout: &devicev1.Logout{}}})
	c.Close()
	return err
}

// SendMessage sends text to a user (to) or a conversation. clientMsgID
// makes retries safe; pass a fresh unique id per message.
func (c *Conn) SendMessage(ctx context.Context, to, conversationID, text, clientMsgID string) (*devicev1.MessageSent, error) {
	req := new(sendRequest)
	req.send.To, req.send.ConversationId, req.send.Text, req.send.ClientMsgId = to, conversationID, text, clientMsgID
	req.body.SendMessage = &req.send
	req.msg.Body = &req.body
	resp, err := c.Call(ctx, &req.msg)
	if err != nil {
		return nil, err
	}
	return resp.GetMessageSent(), nil
}

// sendRequest is a SendMessage request in one allocation rather than three.
type sendRequest struct {
	msg  devicev1.Message
	body devicev1.Message_SendMessage
	send devicev1.SendMessage
}

// Contacts fetches the contact list with presence.
func (c *Conn) Contacts(ctx context.Context) (*devicev1.Snapshot, error) {
	resp, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_GetContacts{GetContacts: &devicev1.GetContacts{}}})
	if err != nil {
		return nil, err
	}
	return resp.GetSnapshot(), nil
}

// Ping measures a round trip to the gateway.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.Call(ctx, &devicev1.Message{Body: &devicev1.Message_Ping{Ping: &devicev1.Ping{Nonce: uint64(start.UnixNano())}}})
	return time.Since(start), err
}
