package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/conf"
	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/frame"
	"github.com/parleygw/parley/core/link"
	"github.com/parleygw/parley/core/pluginhost"
	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/core/tlsterm"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options are what the daemon's main adds to the configuration.
type Options struct {
	Version string
	Logger  hclog.Logger
}

// Gateway is a running parleyd.
type Gateway struct {
	cfg      *conf.Config
	logger   hclog.Logger
	registry *prometheus.Registry

	db       *configdb.DB
	tls      *tlsterm.Terminator
	plugins  *pluginhost.Host
	sessions *session.Manager
	files    *filexfer.Manager
	router   *router.Router
	links    *link.Server

	deviceLn  net.Listener
	metricsLn net.Listener
	metricsHS *http.Server
	adminLn   net.Listener
	adminHS   *http.Server
	names     []string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// New builds a gateway from a validated configuration. Nothing listens
// until Start.
func New(ctx context.Context, cfg *conf.Config, o Options) (*Gateway, error) {
	logger := o.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("core: data dir: %w", err)
	}
	g := &Gateway{cfg: cfg, logger: logger, registry: prometheus.NewRegistry(), conns: map[net.Conn]struct{}{}}
	g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	dsn := cfg.Database.DSN
	var err error
	if g.db, err = configdb.Open(ctx, cfg.Database.Driver, dsn, configdb.WithLogger(logger.Named("configdb"))); err != nil {
		return nil, fmt.Errorf("core: configuration database: %w", err)
	}
	tcfg := tlsterm.Config{DataDir: cfg.DataDir, MinVersion: tlsVersionName(cfg.TLS.MinVersion), Logger: logger.Named("tls")}
	if !cfg.TLS.SelfSigned {
		tcfg.CertFile, tcfg.KeyFile = cfg.TLS.CertFile, cfg.TLS.KeyFile
	}
	if g.tls, err = tlsterm.New(tcfg); err != nil {
		g.db.Close()
		return nil, fmt.Errorf("core: tls: %w", err)
	}

	var sealer *session.Sealer
	if cfg.Sessions.CacheCredentials {
		if sealer, err = session.LoadSealer(cfg.Sessions.CredentialKeyFile); err != nil {
			g.db.Close()
			return nil, fmt.Errorf("core: %w", err)
		}
	}
	g.sessions = session.NewManager(session.Config{
		MaxSessions: cfg.Sessions.MaxSessions, DetachTTL: cfg.Sessions.DetachTTL,
		MaxEvents: cfg.Sessions.EventLogMaxEvents, MaxBytes: int(cfg.Sessions.EventLogMaxBytes),
		Store: g.db, Sealer: sealer, Logger: logger.Named("sessions"),
	}, func(s *session.Session, reason string) { g.router.CloseBackendSession(s, reason) }, g.registry)

	servers := map[string]sdk.ServerAddress{}
	specs := map[string]pluginhost.BackendSpec{}
	names := make([]string, 0, len(cfg.Backends))
	for _, b := range cfg.Backends {
		addr, err := serverAddress(b.Server)
		if err != nil {
			g.db.Close()
			return nil, fmt.Errorf("core: backend %s: %w", b.Name, err)
		}
		servers[b.Name] = addr
		specs[b.Name] = pluginhost.BackendSpec{Plugin: b.Plugin, Settings: b.Settings, Server: addr}
		names = append(names, b.Name)
	}
	if g.files, err = newFiles(cfg, g.db, logger.Named("files"), g.registry); err != nil {
		g.db.Close()
		return nil, err
	}
	g.router = router.New(router.Options{Directory: directory{db: g.db, cfg: cfg}, Backends: backends{g}, Sessions: g.sessions,
		Servers: servers, Files: g.files, Logger: logger.Named("router")})
	g.plugins, err = pluginhost.New(pluginhost.Options{
		Dir: cfg.Plugins.Dir, DataDir: cfg.DataDir, Backends: specs, Pins: cfg.Plugins.Pins,
		StartTimeout: cfg.Plugins.StartTimeout, CallTimeout: cfg.Plugins.CallTimeout,
		Logger: logger, LogLevel: cfg.LogLevel, Registerer: g.registry,
		OnEvents: g.router.Deliver,
		OnState:  g.pluginState,
	})
	if err != nil {
		g.db.Close()
		return nil, fmt.Errorf("core: plugins: %w", err)
	}
	g.names = names
	g.links = link.NewServer(link.Config{
		Limits:    frame.Limits{MaxFrame: cfg.Frame.MaxFrame, CompressThreshold: cfg.Frame.CompressThreshold},
		Heartbeat: cfg.Sessions.Heartbeat, IdleTimeout: cfg.Sessions.IdleTimeout,
		ServerVersion: o.Version, Backends: names, MaxFileBytes: uint64(cfg.FilePolicy.MaxFileBytes),
	}, g.router, g.sessions, logger.Named("link"), g.registry)
	return g, nil
}

func tlsVersionName(v uint16) string {
	if v == tls.VersionTLS12 {
		return "1.2"
	}
	return "1.3"
}

func serverAddress(s conf.Server) (sdk.ServerAddress, error) {
	addr := sdk.ServerAddress{Host: s.Host, Port: uint16(s.Port), TLS: s.TLS.Enabled,
		ServerName: s.TLS.ServerName, InsecureSkipVerify: s.TLS.InsecureSkipVerify}
	if s.TLS.CAFile != "" {
		pem, err := os.ReadFile(s.TLS.CAFile)
		if err != nil {
			return addr, fmt.Errorf("server CA: %w", err)
		}
		addr.CAPEM = pem
	}
	return addr, nil
}

// pluginState reacts to a backend plugin starting, crashing or failing. A
// plugin that goes away takes its backend sessions along: sessions with a
// cached password are re-opened once it is up again, the others end with
// relogin_required.
func (g *Gateway) pluginState(c pluginhost.StateChange) {
	switch c.State {
	case pluginhost.StateUp:
		if c.Restarted {
			g.router.BackendDown(c.Backend, errors.New("plugin restarted"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		g.router.ReopenSessions(ctx, c.Backend)
	case pluginhost.StateDown, pluginhost.StateFailed:
		g.router.BackendDown(c.Backend, c.Err)
	}
}

// Start restores the sessions of the previous run, starts the backend
// plugins (which re-open the restored sessions) and opens the listeners.
func (g *Gateway) Start(ctx context.Context) error {
	restored, relogin, err := g.sessions.Restore(ctx)
	if err != nil {
		return fmt.Errorf("core: %w", err)
	}
	if restored+relogin > 0 {
		g.logger.Info("sessions restored", "resumable", restored, "relogin_required", relogin)
	}
	if err := g.plugins.Start(ctx); err != nil {
		return fmt.Errorf("core: starting plugins: %w", err)
	}
	ln, err := g.tls.Listen("tcp", g.cfg.Device.Address)
	if err != nil {
		return fmt.Errorf("core: device listener: %w", err)
	}
	g.deviceLn = ln
	if addr := g.cfg.Metrics.Address; addr != "" {
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("core: metrics listener: %w", err)
		}
		g.metricsLn = mln
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
		g.metricsHS = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go g.metricsHS.Serve(mln)
	}
	if err := g.startAdmin(); err != nil {
		ln.Close()
		return err
	}
	g.logger.Info("listening", "devices", ln.Addr().String(), "admin", g.adminLn.Addr().String(), "metrics", g.cfg.Metrics.Address)
	return nil
}

// startAdmin serves the admin API (parleyctl) on loopback or a unix socket.
func (g *Gateway) startAdmin() error {
	token, err := admin.EnsureToken(g.cfg.Admin.TokenFile)
	if err != nil {
		return fmt.Errorf("core: admin token: %w", err)
	}
	fp := g.cfg.FilePolicy
	handler, err := admin.New(admin.Options{
		Store: g.db, Sessions: admin.SessionManager(g.sessions), Plugins: pluginStatus{g.plugins}, Token: token,
		DefaultPolicy: configdb.Policy{FileTransfer: fp.Enabled, MaxFileBytes: fp.MaxFileBytes,
			BlockedExtensions: fp.BlockedExtensions, OptimizeAllowed: fp.OptimizeAllowed},
		Backends: g.names, Logger: g.logger.Named("admin"),
	})
	if err != nil {
		return fmt.Errorf("core: admin API: %w", err)
	}
	ln, err := admin.Listen(g.cfg.Admin.Network, g.cfg.Admin.Address)
	if err != nil {
		return fmt.Errorf("core: admin listener: %w", err)
	}
	g.adminLn = ln
	g.adminHS = admin.NewHTTPServer(handler, g.logger.Named("admin"))
	go g.adminHS.Serve(ln)
	return nil
}

// pluginStatus adapts the plugin host to the admin API.
type pluginStatus struct{ h *pluginhost.Host }

func (p pluginStatus) Status() []admin.PluginStatus {
	var out []admin.PluginStatus
	for _, s := range p.h.Status() {
		out = append(out, admin.PluginStatus{Backend: s.Backend, Name: s.Plugin, Version: s.Version, State: s.State.String(),
			Since: s.Since, PID: s.PID, Restarts: s.Restarts, LastError: s.LastError})
	}
	return out
}

func (p pluginStatus) Reload(ctx context.Context) error { return p.h.Reload(ctx) }

// DeviceAddr is the device listener's address (after Start).
func (g *Gateway) DeviceAddr() net.Addr { return g.deviceLn.Addr() }

// CertificatePEM is the device listener's certificate.
func (g *Gateway) CertificatePEM() []byte { return g.tls.CertificatePEM() }

// Serve accepts device links until ctx ends or the listener closes.
func (g *Gateway) Serve(ctx context.Context) error {
	sweep := time.NewTicker(sweepInterval(g.cfg.Sessions.DetachTTL))
	defer sweep.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sweep.C:
				g.sessions.Sweep(g.cfg.Sessions.InactivityTimeout)
			}
		}
	}()
	for {
		conn, err := g.deviceLn.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			g.logger.Warn("accept", "error", err)
			continue
		}
		g.track(conn, true)
		g.wg.Add(1)
		// This goroutine ends after the login; the link's session gets
		// one of its own, with a fresh small stack (see link.Server.Start).
		go g.links.Start(ctx, conn, func() {
			g.track(conn, false)
			g.wg.Done()
		})
	}
}

func sweepInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/10, time.Second), 30*time.Second)
}

func (g *Gateway) track(c net.Conn, add bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if add {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// Reload re-reads the TLS certificate and rescans the plugin directory
// (SIGHUP).
func (g *Gateway) Reload(ctx context.Context) error {
	terr := g.tls.Reload()
	perr := g.plugins.Reload(ctx)
	return errors.Join(terr, perr)
}

// Shutdown stops accepting links, closes the open ones, saves every
// session (so devices can resume after a restart), logs every session out
// of its backend and stops the plugins, all within ctx's deadline.
func (g *Gateway) Shutdown(ctx context.Context) error {
	if g.deviceLn != nil {
		g.deviceLn.Close()
	}
	if g.metricsHS != nil {
		g.metricsHS.Shutdown(ctx)
	}
	if g.adminHS != nil {
		g.adminHS.Shutdown(ctx)
	}
	g.mu.Lock()
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()

	g.wg.Wait() // links detach their sessions before the sessions are saved
	// Transfers do not survive a restart: they end first, so that the
	// events telling devices so are saved with the sessions.
	g.files.Close()
	g.sessions.SaveAll()
	var wg sync.WaitGroup
	for _, s := range g.sessions.Sessions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.router.CloseBackendSession(s, "gateway shutdown")
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		g.logger.Warn("shutdown deadline reached before every session was logged out")
	}
	err := g.plugins.Shutdown(ctx)
	return errors.Join(err, g.db.Close())
}

// directory adapts the configuration database to the router.
type directory struct {
	db  *configdb.DB
	cfg *conf.Config
}

func (d directory) Authorize(ctx context.Context, user string) (router.Account, error) {
	u, err := d.db.Authorize(ctx, user)
	if errors.Is(err, configdb.ErrPermissionDenied) {
		return router.Account{}, fmt.Errorf("%w: %v", router.ErrPermissionDenied, err)
	}
	if err != nil {
		return router.Account{}, fmt.Errorf("core: authorize: %w", err)
	}
	if _, ok := d.cfg.Backend(u.Backend); !ok {
		return router.Account{}, fmt.Errorf("%w: user %s is assigned to backend %q, which this gateway does not serve",
			router.ErrPermissionDenied, u.Login, u.Backend)
	}
	return router.Account{User: u.Login, Backend: u.Backend, BackendLogin: u.BackendLogin}, nil
}

// backends adapts the plugin host to the router.
type backends struct{ g *Gateway }

func (b backends) Backend(name string) (*sdk.Client, sdk.Info, error) {
	return b.g.plugins.Backend(name)
}
