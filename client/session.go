package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// State is where a Session's link is.
type State int

// Session states.
const (
	StateConnecting State = iota + 1
	StateConnected
	StateReconnecting
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// SessionConfig configures a Session.
type SessionConfig struct {
	Config
	// User and Password log in when there is no session to resume. The
	// password is kept in memory to log in again only if Relogin is set.
	User, Password string
	// Relogin logs in again with the password when the gateway no longer
	// has the session (resume_expired, relogin_required).
	Relogin bool
	// SessionID, ResumeToken and LastSeq resume a session from an earlier
	// run instead of logging in.
	SessionID   string
	ResumeToken []byte
	LastSeq     uint64
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (defaults 250ms and 30s); each attempt doubles it, jittered.
	MinBackoff, MaxBackoff time.Duration
	// OnState is told about every state change.
	OnState func(State, error)
	// OnToken receives each new resume token (it is single use: persist
	// it to resume after the app restarts).
	OnToken func(sessionID string, token []byte, lastSeq uint64)
}

// Session is a device's session that survives dropped links: after a link
// drops it resumes with backoff, replaying the events it missed, and a
// Send interrupted by the drop is retried with the same client message id,
// so it is delivered once.
type Session struct {
	cfg    SessionConfig
	events chan *devicev1.Event

	mu        sync.Mutex
	conn      *Conn
	pumped    chan struct{} // closed when the current link's events are all handed over
	state     State
	err       error
	sessionID string
	token     []byte
	lastSeq   uint64
	up        chan struct{} // closed while connected; replaced on each drop
	closed    chan struct{}
	closeOnce sync.Once
}

// ErrSessionClosed is returned after Close, Logout or a final failure.
var ErrSessionClosed = errors.New("client: session closed")

// OpenSession connects and logs in (or resumes cfg.SessionID), then keeps
// the session connected until Close.
func OpenSession(ctx context.Context, cfg SessionConfig) (*Session, error) {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	cfg.ManualAck = true
	s := &Session{cfg: cfg, events: make(chan *devicev1.Event), state: StateConnecting, sessionID: cfg.SessionID,
		token: cfg.ResumeToken, lastSeq: cfg.LastSeq, up: make(chan struct{}), closed: make(chan struct{})}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.attach(conn)
	go s.supervise()
	return s, nil
}

// connect dials and resumes the session, or logs in when there is none.
func (s *Session) connect(ctx context.Context) (*Conn, error) {
	conn, err := Dial(ctx, s.cfg.Config)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	id, token, last := s.sessionID, s.token, s.lastSeq
	s.mu.Unlock()
	var opened *devicev1.SessionOpened
	if id != "" {
		opened, err = conn.Resume(ctx, id, token, last)
		switch Code(err) {
		case devicev1.ErrorCode_RESUME_EXPIRED, devicev1.ErrorCode_RELOGIN_REQUIRED:
			if !s.cfg.Relogin || s.cfg.Password == "" {
				break
			}
			opened, err = conn.Login(ctx, s.cfg.User, s.cfg.Password)
			last = 0
		}
	} else {
		opened, err = conn.Login(ctx, s.cfg.User, s.cfg.Password)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	if !opened.Resumed {
		last = opened.LastSeq // a new login starts after what the gateway already has
	}
	s.mu.Lock()
	s.sessionID, s.token, s.lastSeq = opened.SessionId, opened.ResumeToken, last
	s.mu.Unlock()
	if s.cfg.OnToken != nil {
		s.cfg.OnToken(opened.SessionId, opened.ResumeToken, last)
	}
	return conn, nil
}

func (s *Session) attach(conn *Conn) {
	pumped := make(chan struct{})
	s.mu.Lock()
	s.conn, s.pumped = conn, pumped
	s.state, s.err = StateConnected, nil
	close(s.up)
	s.mu.Unlock()
	s.notify(StateConnected, nil)
	go func() {
		defer close(pumped)
		s.pump(conn)
	}()
}

func (s *Session) notify(st State, err error) {
	if s.cfg.OnState != nil {
		s.cfg.OnState(st, err)
	}
}

// pump hands the link's events to the application and acknowledges each
// once it has been taken.
func (s *Session) pump(conn *Conn) {
	for e := range conn.Events() {
		select {
		case s.events <- e:
		case <-s.closed:
			return
		}
		if e.Seq == 0 {
			continue // gap markers and snapshots after a gap are not in the log
		}
		s.mu.Lock()
		if e.Seq > s.lastSeq {
			s.lastSeq = e.Seq
		}
		s.mu.Unlock()
		conn.Ack(e.Seq)
	}
}

// supervise reconnects whenever the link drops, until Close.
func (s *Session) supervise() {
	for {
		s.mu.Lock()
		conn, pumped := s.conn, s.pumped
		s.mu.Unlock()
		select {
		case <-conn.Done():
		case <-s.closed:
			return
		}
		s.mu.Lock()
		s.state, s.err, s.up = StateReconnecting, conn.Err(), make(chan struct{})
		s.mu.Unlock()
		s.notify(StateReconnecting, conn.Err())
		// Resume only once every event the old link brought has been
		// handed over, so the resume point counts them and none repeats.
		select {
		case <-pumped:
		case <-s.closed:
			return
		}
		next, err := s.reconnect()
		if err != nil {
			s.finish(err)
			return
		}
		s.attach(next)
	}
}

// reconnect retries with exponential, jittered backoff. A typed refusal
// that retrying cannot fix ends the session.
func (s *Session) reconnect() (*Conn, error) {
	wait := s.cfg.MinBackoff
	for {
		if s.isClosed() { // Close raced with the drop: do not come back
			return nil, ErrSessionClosed
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(10*time.Second, s.cfg.MaxBackoff))
		conn, err := s.connect(ctx)
		cancel()
		if err == nil {
			if s.isClosed() {
				conn.Close()
				return nil, ErrSessionClosed
			}
			return conn, nil
		}
		switch Code(err) {
		case devicev1.ErrorCode_UNAUTHENTICATED, devicev1.ErrorCode_PERMISSION_DENIED,
			devicev1.ErrorCode_RESUME_EXPIRED, devicev1.ErrorCode_RELOGIN_REQUIRED:
			return nil, err
		}
		jittered := wait/2 + time.Duration(mrand.Int64N(int64(wait/2)+1))
		select {
		case <-time.After(jittered):
		case <-s.closed:
			return nil, ErrSessionClosed
		}
		wait = min(wait*2, s.cfg.MaxBackoff)
	}
}

func (s *Session) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func (s *Session) finish(err error) {
	s.mu.Lock()
	s.state, s.err = StateClosed, err
	s.mu.Unlock()
	s.closeOnce.Do(func() { close(s.closed) })
	s.notify(StateClosed, err)
}

// State reports the link's state and, when not connected, why.
func (s *Session) State() (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.err
}

// Events delivers the session's events across reconnections, in order,
// without duplicates. An event is acknowledged to the gateway when it is
// received from this channel.
func (s *Session) Events() <-chan *devicev1.Event { return s.events }

// Done is closed when the session has ended for good.
func (s *Session) Done() <-chan struct{} { return s.closed }

// current waits until the session is connected and returns the link.
func (s *Session) current(ctx context.Context) (*Conn, error) {
	for {
		s.mu.Lock()
		conn, up, state, err := s.conn, s.up, s.state, s.err
		s.mu.Unlock()
		if state == StateClosed {
			return nil, errors.Join(ErrSessionClosed, err)
		}
		select {
		case <-up:
			return conn, nil
		case <-s.closed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// linkLost reports errors that a reconnection may cure (as opposed to a
// typed answer from the gateway).
func linkLost(err error) bool {
	var typed *Error
	return err != nil && !errors.As(err, &typed) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// Send sends a message, retrying across reconnections with the same
// client message id until ctx ends: the gateway delivers it once.
func (s *Session) Send(ctx context.Context, to, conversationID, text string) (*devicev1.MessageSent, error) {
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	for {
		conn, err := s.current(ctx)
		if err != nil {
			return nil, err
		}
		sent, err := conn.SendMessage(ctx, to, conversationID, text, id)
		if !linkLost(err) {
			return sent, err
		}
	}
}

// Call sends one request on the current link (no retry: not every request
// is safe to repeat).
func (s *Session) Call(ctx context.Context, m *devicev1.Message) (*devicev1.Message, error) {
	conn, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return conn.Call(ctx, m)
}

// Reconnect drops the current link (say, the device changed networks); the
// session resumes on a new one.
func (s *Session) Reconnect() {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	conn.Close()
}

// Resumption returns what resumes this session later: its id, the current
// single-use token and the last event seq taken.
func (s *Session) Resumption() (sessionID string, token []byte, lastSeq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionID, s.token, s.lastSeq
}

// Close ends the link without logging out; the session stays on the
// gateway for its detach TTL.
func (s *Session) Close() error {
	s.finish(ErrSessionClosed)
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	return conn.Close()
}

// Logout ends the session on the gateway.
func (s *Session) Logout(ctx context.Context) error {
	conn, err := s.current(ctx)
	if err != nil {
		return err
	}
	s.finish(ErrSessionClosed)
	if err := conn.Logout(ctx); err != nil {
		return fmt.Errorf("client: logout: %w", err)
	}
	return nil
}
