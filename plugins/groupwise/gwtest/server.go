package gwtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// maxConns bounds the connections served at once.
const maxConns = 1024

// Server is a running fake GroupWise Messenger server.
type Server struct {
	log     hclog.Logger
	ln      net.Listener
	tlsConf *tls.Config
	anchor  *x509.Certificate
	limits  gwproto.Limits
	idle    time.Duration
	hook    func(RequestInfo)

	mu       sync.Mutex
	dir      *directory
	sessions map[*session]struct{}
	confs    map[string]*conference
	requests map[string]int
	stalled  chan struct{} // non-nil while stalled; closed to release
	closed   bool

	wg sync.WaitGroup
}

// RequestInfo describes a request the server has answered; see
// WithRequestHook.
type RequestInfo struct {
	User    string // login id of the session, "" before login
	Command string
	TID     string
	Code    uint32 // result code sent back
}

type config struct {
	users    []User
	ln       net.Listener
	addr     string
	cert     *tls.Certificate
	log      hclog.Logger
	limits   gwproto.Limits
	idle     time.Duration
	hook     func(RequestInfo)
	usersSet bool
}

// Option configures a Server.
type Option func(*config)

// WithUsers sets the accounts (default DemoUsers).
func WithUsers(users []User) Option {
	return func(c *config) { c.users, c.usersSet = users, true }
}

// WithListener serves on ln (plain TCP; the server adds TLS) instead of a
// new listener on 127.0.0.1:0.
func WithListener(ln net.Listener) Option { return func(c *config) { c.ln = ln } }

// WithAddr listens on addr instead of 127.0.0.1:0.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithCertificate serves cert (its chain may end with the CA) instead of a
// generated self-signed certificate.
func WithCertificate(cert tls.Certificate) Option { return func(c *config) { c.cert = &cert } }

// WithLogger sets the logger (default: the test log for NewServer, no
// logging for Start).
func WithLogger(l hclog.Logger) Option { return func(c *config) { c.log = l } }

// WithLimits bounds what the server accepts from clients (zero members:
// gwproto.DefaultLimits, except MaxMessageBytes which defaults to 1 MiB).
func WithLimits(l gwproto.Limits) Option { return func(c *config) { c.limits = l } }

// WithIdleTimeout closes connections that send nothing for d (default 5
// minutes; libpurple pings every 30 s).
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// WithRequestHook calls fn after each request has been answered (from the
// connection's goroutine; fn must not block for long).
func WithRequestHook(fn func(RequestInfo)) Option { return func(c *config) { c.hook = fn } }

// NewServer starts a server on 127.0.0.1:0 (unless WithListener/WithAddr),
// fails the test if it cannot, and closes it when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	opts = append([]Option{WithLogger(hclog.New(&hclog.LoggerOptions{
		Name:   "gwtest",
		Output: testWriter{t},
		Level:  hclog.Info,
	}))}, opts...)
	srv, err := Start(opts...)
	if err != nil {
		t.Fatalf("gwtest: %v", err)
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
	c := config{users: DemoUsers(), log: hclog.NewNullLogger(), idle: 5 * time.Minute}
	for _, o := range opts {
		o(&c)
	}
	if err := validateUsers(c.users); err != nil {
		return nil, err
	}
	if c.limits.MaxMessageBytes == 0 {
		c.limits.MaxMessageBytes = 1 << 20
	}
	cert := c.cert
	if cert == nil {
		generated, err := selfSigned()
		if err != nil {
			return nil, err
		}
		cert = &generated
	}
	anchor, err := trustAnchor(*cert)
	if err != nil {
		return nil, err
	}
	ln := c.ln
	if ln == nil {
		addr := c.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("gwtest: listen: %w", err)
		}
	}
	srv := &Server{
		log: c.log,
		ln:  ln,
		// Full-size records from the start, so that every message up to 16 KiB
		// reaches libpurple in a single record.
		tlsConf: &tls.Config{
			Certificates:                []tls.Certificate{*cert},
			MinVersion:                  tls.VersionTLS12,
			DynamicRecordSizingDisabled: true,
		},
		anchor:   anchor,
		limits:   c.limits,
		idle:     c.idle,
		hook:     c.hook,
		dir:      newDirectory(c.users),
		sessions: map[*session]struct{}{},
		confs:    map[string]*conference{},
		requests: map[string]int{},
	}
	srv.wg.Add(1)
	go srv.acceptLoop()
	srv.log.Info("listening", "addr", ln.Addr().String(), "users", len(c.users))
	return srv, nil
}

// Addr returns the listening address as host:port.
func (srv *Server) Addr() string { return srv.ln.Addr().String() }

// CertPool returns a pool that trusts the server's certificate.
func (srv *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.anchor)
	return p
}

// CACertPEM returns the certificate clients should trust, PEM-encoded.
func (srv *Server) CACertPEM() []byte { return pemOf(srv.anchor) }

// Close stops the server: it closes the listener and every connection and
// waits for all of its goroutines.
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
	for s := range srv.sessions {
		s.abort()
	}
	srv.mu.Unlock()
	srv.ln.Close()
	srv.wg.Wait()
	srv.log.Info("closed")
}

func (srv *Server) acceptLoop() {
	defer srv.wg.Done()
	for {
		conn, err := srv.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				srv.log.Error("accept", "error", err)
			}
			return
		}
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			conn.Close()
			return
		}
		if len(srv.sessions) >= maxConns {
			srv.mu.Unlock()
			srv.log.Warn("too many connections, refusing one", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		s := newSession(srv, conn, srv.tlsConf)
		srv.sessions[s] = struct{}{}
		srv.wg.Add(1)
		srv.mu.Unlock()
		go s.serve()
	}
}

// Stall makes the server stop (true) or resume (false) answering: while
// stalled, requests are read but neither answered nor acted on, and no
// event is sent. Held work continues after resuming.
func (srv *Server) Stall(stall bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	switch {
	case stall && srv.stalled == nil && !srv.closed:
		srv.stalled = make(chan struct{})
	case !stall && srv.stalled != nil:
		close(srv.stalled)
		srv.stalled = nil
	}
}

// waitRunning blocks while the server is stalled; it reports false if done
// closes first.
func (srv *Server) waitRunning(done <-chan struct{}) bool {
	srv.mu.Lock()
	ch := srv.stalled
	srv.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
}

// Online reports whether the user with this login id is logged in.
func (srv *Server) Online(id string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	a := srv.dir.byID(id)
	return a != nil && a.session != nil
}

// DN returns the DN of the user with this login id ("" if there is none).
func (srv *Server) DN(id string) string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if a := srv.dir.byID(id); a != nil {
		return a.dn
	}
	return ""
}

// KickUser closes the connection of the user with this login id, as a
// server-side disconnect; it reports whether the user was online.
func (srv *Server) KickUser(id string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	a := srv.dir.byID(id)
	if a == nil || a.session == nil {
		return false
	}
	a.session.abort()
	return true
}

// ErrOffline is returned by Push for a user who is not logged in.
var ErrOffline = errors.New("gwtest: user is not logged in")

// Push sends ev to the user with this login id, as the server would push
// it. Tests use it for events the relay does not produce by itself.
func (srv *Server) Push(id string, ev gwproto.Event) error {
	b, err := ev.AppendTo(nil)
	if err != nil {
		return fmt.Errorf("gwtest: push: %w", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	a := srv.dir.byID(id)
	if a == nil || a.session == nil {
		return fmt.Errorf("gwtest: push to %q: %w", id, ErrOffline)
	}
	a.session.enqueue(b)
	return nil
}

// Requests returns how many requests of each command the server has
// answered.
func (srv *Server) Requests() map[string]int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make(map[string]int, len(srv.requests))
	for k, v := range srv.requests {
		out[k] = v
	}
	return out
}

// RequestCount returns how many cmd requests the server has answered.
func (srv *Server) RequestCount(cmd string) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.requests[cmd]
}
