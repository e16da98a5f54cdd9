package sttest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// Server is a running fake Sametime server.
type Server struct {
	log hclog.Logger
	ln  net.Listener
	cfg config

	mu       sync.Mutex
	users    map[string]*account // by lower-case id
	sessions map[*session]struct{}
	confs    map[string]*conference
	stalled  chan struct{} // non-nil while stalled; closed to release
	closed   bool
	loginSeq int
	confSeq  int

	stats counters
	wg    sync.WaitGroup
}

// account is a user with the state the server keeps across logins.
type account struct {
	User
	storage map[uint32][]byte // saved storage units
}

type config struct {
	users         []User
	addr          string
	ln            net.Listener
	log           hclog.Logger
	maxFileBytes  int64
	refusalReason stproto.ReasonError
	rc2_40Login   bool
	redirectHost  string
	redirectID    string
	serverID      string
	maxFrame      int
	idle          time.Duration
}

// Option configures a Server.
type Option func(*config)

// WithUsers sets the accounts (default DemoUsers).
func WithUsers(users []User) Option { return func(c *config) { c.users = users } }

// WithMaxFileBytes sets the largest declared file size the server relays
// (default DefaultMaxFileBytes). A larger offer is refused.
func WithMaxFileBytes(n int64) Option { return func(c *config) { c.maxFileBytes = n } }

// WithFileRefusalReason sets the CHANNEL_DESTROY reason for file offers
// above the limit (default stproto.ReasonNotAuthorized, 0x80000003; the
// code a real server uses is unknown).
func WithFileRefusalReason(r stproto.ReasonError) Option {
	return func(c *config) { c.refusalReason = r }
}

// WithRC2_40Login makes HANDSHAKE_ACK carry no key, so that clients log in
// with the RC2/40 scheme instead of RC2/128.
func WithRC2_40Login() Option { return func(c *config) { c.rc2_40Login = true } }

// WithRedirect answers every successful LOGIN with LOGIN_REDIRECT(host,
// serverID) instead of LOGIN_ACK. A client that then sends LOGIN_CONTINUE
// gets HANDSHAKE_ACK followed by LOGIN_ACK on the same connection.
func WithRedirect(host, serverID string) Option {
	return func(c *config) { c.redirectHost, c.redirectID = host, serverID }
}

// WithAddr listens on addr instead of 127.0.0.1:0.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithListener serves on ln instead of a new listener.
func WithListener(ln net.Listener) Option { return func(c *config) { c.ln = ln } }

// WithLogger sets the logger (default: the test log for NewServer, no
// logging for Start).
func WithLogger(l hclog.Logger) Option { return func(c *config) { c.log = l } }

// WithMaxFrameBytes bounds incoming frames (default
// stproto.DefaultMaxFrameSize); a larger frame ends the connection.
func WithMaxFrameBytes(n int) Option { return func(c *config) { c.maxFrame = n } }

// WithIdleTimeout closes connections that send nothing, not even a
// keepalive, for d (default 5 minutes; libpurple sends a keepalive every
// 30 s).
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// NewServer starts a server on 127.0.0.1:0 (unless WithAddr/WithListener),
// fails the test if it cannot, and closes it when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	opts = append([]Option{WithLogger(hclog.New(&hclog.LoggerOptions{
		Name:   "sttest",
		Output: testWriter{t},
		Level:  hclog.Info,
	}))}, opts...)
	srv, err := Start(opts...)
	if err != nil {
		t.Fatalf("sttest: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Start starts a server; Close stops it.
func Start(opts ...Option) (*Server, error) {
	c := config{
		users:         DemoUsers(),
		log:           hclog.NewNullLogger(),
		maxFileBytes:  DefaultMaxFileBytes,
		refusalReason: stproto.ReasonNotAuthorized,
		serverID:      "parley-fake-sametime",
		idle:          5 * time.Minute,
	}
	for _, o := range opts {
		o(&c)
	}
	if err := validateUsers(c.users); err != nil {
		return nil, err
	}
	if c.maxFileBytes < 0 {
		return nil, fmt.Errorf("sttest: negative file limit %d", c.maxFileBytes)
	}
	if c.refusalReason == stproto.ReasonSuccess {
		return nil, errors.New("sttest: the file refusal reason must be non-zero")
	}
	ln := c.ln
	if ln == nil {
		addr := c.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("sttest: listen: %w", err)
		}
	}
	srv := &Server{
		log:      c.log,
		ln:       ln,
		cfg:      c,
		users:    map[string]*account{},
		sessions: map[*session]struct{}{},
		confs:    map[string]*conference{},
	}
	for _, u := range c.users {
		srv.users[strings.ToLower(u.ID)] = &account{User: u, storage: map[uint32][]byte{}}
	}
	srv.wg.Add(1)
	go srv.acceptLoop()
	srv.log.Info("listening", "addr", ln.Addr().String(), "users", len(c.users), "max_file_bytes", c.maxFileBytes)
	return srv, nil
}

// Addr returns the listening address as host:port.
func (srv *Server) Addr() string { return srv.ln.Addr().String() }

// Close stops the server: it closes the listener and every connection and
// waits for all of its goroutines. It may be called more than once.
func (srv *Server) Close() {
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		return
	}
	srv.closed = true
	if srv.stalled != nil {
		close(srv.stalled)
		srv.stalled = nil
	}
	srv.ln.Close()
	for s := range srv.sessions {
		s.conn.Close()
	}
	srv.mu.Unlock()
	srv.wg.Wait()
	srv.log.Info("closed")
}

func (srv *Server) acceptLoop() {
	defer srv.wg.Done()
	for {
		conn, err := srv.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			conn.Close()
			return
		}
		s := newSession(srv, conn)
		srv.sessions[s] = struct{}{}
		srv.stats.connections.Add(1)
		srv.wg.Add(2)
		srv.mu.Unlock()
		go s.writeLoop()
		go s.readLoop()
	}
}

// Stall makes the server stop processing incoming messages, as if it hung:
// connections stay open and are still accepted, but nothing is answered
// until Resume.
func (srv *Server) Stall() {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.stalled == nil && !srv.closed {
		srv.stalled = make(chan struct{})
	}
}

// Resume undoes Stall; held-back messages are then processed in order.
func (srv *Server) Resume() {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.stalled != nil {
		close(srv.stalled)
		srv.stalled = nil
	}
}

// waitStall blocks while the server is stalled.
func (srv *Server) waitStall() {
	srv.mu.Lock()
	ch := srv.stalled
	srv.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// KickUser ends every session of the user (id matched case-insensitively)
// with CHANNEL_DESTROY on channel 0, reason stproto.ReasonUserRemoved, and
// closes the connections. It returns the number of sessions ended.
func (srv *Server) KickUser(id string) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	n := 0
	for s := range srv.sessions {
		if s.acct != nil && s.online && strings.EqualFold(s.acct.ID, id) {
			s.send(&stproto.Message{Body: &stproto.ChannelDestroy{Reason: stproto.ReasonUserRemoved}})
			srv.endSession(s)
			n++
		}
	}
	return n
}

// Online reports whether the user has a logged-in session.
func (srv *Server) Online(id string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessionOf(id) != nil
}

// Stored returns the value the user saved under a storage key, if any.
func (srv *Server) Stored(id string, key uint32) ([]byte, bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	a := srv.users[strings.ToLower(id)]
	if a == nil {
		return nil, false
	}
	v, ok := a.storage[key]
	return append([]byte(nil), v...), ok
}

// Stats are counters of what the server has done, for tests.
type Stats struct {
	Connections       int64 // TCP connections accepted
	Logins            int64 // successful logins (LOGIN_ACK sent)
	LoginFailures     int64 // logins refused with 0x80000211
	Redirects         int64 // LOGIN_REDIRECTs sent
	Keepalives        int64 // keepalive bytes received
	ChannelsRelayed   int64 // IM and file channels forwarded to a recipient
	MessagesRelayed   int64 // CHANNEL_SENDs forwarded between users
	FileOffersRefused int64 // file offers refused for their size
	FileBytesRelayed  int64 // file data bytes forwarded
	ConferenceTexts   int64 // conference messages delivered
}

type counters struct {
	connections, logins, loginFailures, redirects, keepalives  atomic.Int64
	channelsRelayed, messagesRelayed, fileOffersRefused, bytes atomic.Int64
	confTexts                                                  atomic.Int64
}

// Stats returns a snapshot of the counters.
func (srv *Server) Stats() Stats {
	c := &srv.stats
	return Stats{
		Connections:       c.connections.Load(),
		Logins:            c.logins.Load(),
		LoginFailures:     c.loginFailures.Load(),
		Redirects:         c.redirects.Load(),
		Keepalives:        c.keepalives.Load(),
		ChannelsRelayed:   c.channelsRelayed.Load(),
		MessagesRelayed:   c.messagesRelayed.Load(),
		FileOffersRefused: c.fileOffersRefused.Load(),
		FileBytesRelayed:  c.bytes.Load(),
		ConferenceTexts:   c.confTexts.Load(),
	}
}

// account returns the account for a user id (case-insensitive), or nil.
func (srv *Server) account(id string) *account { return srv.users[strings.ToLower(id)] }

// sessionOf returns the newest logged-in session of the user, or nil.
// Callers hold srv.mu.
func (srv *Server) sessionOf(id string) *session {
	var best *session
	for s := range srv.sessions {
		if s.online && strings.EqualFold(s.acct.ID, id) && (best == nil || s.seq > best.seq) {
			best = s
		}
	}
	return best
}
