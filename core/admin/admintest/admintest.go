// Package admintest runs the real admin API handler for tests: on
// 127.0.0.1:0, over a SQLite configuration database in the test's temp
// directory, with fake session cache and plugin host whose calls the test
// can inspect.
package admintest

import (
	"cmp"
	"context"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/configdb"
)

// Token is the admin token the server accepts.
const Token = "admintest-token-0123456789abcdef"

// DefaultPolicy is the server's default file policy unless WithDefaultPolicy
// sets another: the one parleyd's built-in configuration has.
var DefaultPolicy = configdb.Policy{FileTransfer: true, MaxFileBytes: 10 << 20,
	BlockedExtensions: []string{"bat", "cmd", "com", "exe", "msi", "pif", "scr", "vbs"}, OptimizeAllowed: true}

// Server is a running admin API.
type Server struct {
	// Store is the configuration database behind the API.
	Store *configdb.DB
	// Sessions and Plugins are the fakes the API talks to.
	Sessions *Sessions
	Plugins  *Plugins

	http *httptest.Server
}

type config struct {
	opts      admin.Options
	noPlugins bool
}

// Option changes the server's admin.Options.
type Option func(*config)

// WithDefaultPolicy sets the configuration's default file policy.
func WithDefaultPolicy(p configdb.Policy) Option {
	return func(c *config) { c.opts.DefaultPolicy = p }
}

// WithBackends sets the configured backend names.
func WithBackends(names ...string) Option {
	return func(c *config) { c.opts.Backends = names }
}

// WithoutPlugins runs the API without a plugin host.
func WithoutPlugins() Option {
	return func(c *config) { c.noPlugins = true }
}

// WithLogger sets the API's logger.
func WithLogger(l hclog.Logger) Option {
	return func(c *config) { c.opts.Logger = l }
}

// NewServer starts the admin API; it is closed when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	db, err := configdb.Open(context.Background(), configdb.DriverSQLite, filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatalf("admintest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s := &Server{Store: db, Sessions: &Sessions{}, Plugins: &Plugins{}}
	c := config{opts: admin.Options{Store: db, Sessions: s.Sessions, Plugins: s.Plugins, Token: Token,
		DefaultPolicy: DefaultPolicy}}
	for _, o := range opts {
		o(&c)
	}
	if c.noPlugins {
		c.opts.Plugins = nil
	}
	h, err := admin.New(c.opts)
	if err != nil {
		t.Fatalf("admintest: %v", err)
	}
	s.http = httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.http.Listener.Addr().String() }

// URL is the server's base URL.
func (s *Server) URL() string { return s.http.URL }

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// Client returns a client for the server.
func (s *Server) Client(t testing.TB) *admin.Client {
	t.Helper()
	c, err := admin.NewClient(s.Addr(), Token)
	if err != nil {
		t.Fatalf("admintest: %v", err)
	}
	return c
}

// Kick is one call of Sessions.Kick.
type Kick struct {
	User   string
	Reason string
	Ended  int
}

// Sessions is a fake session cache.
type Sessions struct {
	mu       sync.Mutex
	sessions []admin.SessionInfo
	kicks    []Kick
}

// Add adds live sessions.
func (f *Sessions) Add(s ...admin.SessionInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = append(f.sessions, s...)
}

// List implements admin.Sessions.
func (f *Sessions) List() []admin.SessionInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sessions)
}

// Kick implements admin.Sessions: it ends the user's sessions and records
// the call.
func (f *Sessions) Kick(user, reason string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	before := len(f.sessions)
	f.sessions = slices.DeleteFunc(f.sessions, func(s admin.SessionInfo) bool { return strings.EqualFold(s.User, user) })
	k := Kick{User: user, Reason: reason, Ended: before - len(f.sessions)}
	f.kicks = append(f.kicks, k)
	return k.Ended
}

// Kicks returns the Kick calls so far.
func (f *Sessions) Kicks() []Kick {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.kicks)
}

// Plugins is a fake plugin host.
type Plugins struct {
	mu        sync.Mutex
	status    []admin.PluginStatus
	reloadErr error
	reloads   int
}

// Set replaces the plugins' status.
func (f *Plugins) Set(s ...admin.PluginStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = s
}

// FailReload makes the following reloads fail with err (nil: succeed).
func (f *Plugins) FailReload(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloadErr = err
}

// Status implements admin.Plugins.
func (f *Plugins) Status() []admin.PluginStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.status)
}

// Reload implements admin.Plugins: it counts the call and restarts every
// plugin that is not up.
func (f *Plugins) Reload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	if f.reloadErr != nil {
		return f.reloadErr
	}
	for i := range f.status {
		if f.status[i].State != admin.PluginStateUp {
			f.status[i].State = admin.PluginStateUp
			f.status[i].LastError = ""
			f.status[i].PID = cmp.Or(f.status[i].PID, 4242+i)
		}
	}
	return nil
}

// Reloads is how many times Reload was called.
func (f *Plugins) Reloads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloads
}
