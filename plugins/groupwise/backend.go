package groupwise

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// Version is the backend's version.
const Version = "1.0.0"

// Backend is the GroupWise Messenger backend. Create it with New; the
// gateway configures it before any session call.
type Backend struct {
	mu       sync.Mutex
	settings Settings
	server   sdk.ServerAddress // the gateway's default server
	events   sdk.EventSink
	logger   hclog.Logger
	sessions map[string]*session // by the gateway's session id
	pools    certPools           // the servers' CA bundles, parsed
}

// The capabilities the backend implements. There is deliberately no
// sdk.FileTransfer: the protocol has none.
var (
	_ sdk.Backend          = (*Backend)(nil)
	_ sdk.PresenceSetter   = (*Backend)(nil)
	_ sdk.TypingSender     = (*Backend)(nil)
	_ sdk.ContactManager   = (*Backend)(nil)
	_ sdk.Conversations    = (*Backend)(nil)
	_ sdk.SnapshotProvider = (*Backend)(nil)
	_ sdk.MessagePipeliner = (*Backend)(nil)
)

// New returns an unconfigured backend.
func New() *Backend { return &Backend{} }

// Info implements sdk.Backend.
func (b *Backend) Info() sdk.Info {
	return sdk.Info{Name: "groupwise", Version: Version, APIVersions: []uint32{sdk.APIVersion},
		Capabilities: sdk.Capabilities{Typing: true, GroupChat: true, Presence: true, ContactManagement: true}}
}

// Configure implements sdk.Backend: it checks the settings and the
// gateway's server address (TLS on, a usable CA bundle).
func (b *Backend) Configure(_ context.Context, cfg sdk.Config) error {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	if cfg.DefaultServer.Host != "" {
		if _, err := s.clientConfig(cfg.DefaultServer, &b.pools); err != nil {
			return err
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settings, b.server, b.events, b.logger = s, cfg.DefaultServer, cfg.Events, logger
	if b.sessions == nil {
		b.sessions = map[string]*session{}
	}
	return nil
}

// session returns the open session with this id.
func (b *Backend) session(id string) (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions == nil {
		return nil, sdk.Errorf(sdk.ReasonBackendUnavailable, "groupwise: backend not configured")
	}
	s, ok := b.sessions[id]
	if !ok {
		return nil, sdk.Errorf(sdk.ReasonSessionNotFound, "groupwise: no session %q", id)
	}
	return s, nil
}

// OpenSession implements sdk.Backend: it dials the server (the session's
// own TLS connection), logs the user in and returns the contact list.
func (b *Backend) OpenSession(ctx context.Context, cred sdk.Credentials) (sdk.Snapshot, error) {
	b.mu.Lock()
	configured := b.sessions != nil
	settings, server, events := b.settings, b.server, b.events
	logger := b.logger
	b.mu.Unlock()
	if !configured {
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonBackendUnavailable, "groupwise: backend not configured")
	}
	if cred.SessionID == "" || cred.Login == "" {
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "groupwise: a session needs an id and a login")
	}
	if cred.Server.Host != "" {
		server = cred.Server
	}
	cfg, err := settings.clientConfig(server, &b.pools)
	if err != nil {
		return sdk.Snapshot{}, err
	}
	log := logger.Named("session").With("session", cred.SessionID)
	cfg.Logger = log
	cfg.DialTimeout = dialBudget(ctx, cfg.DialTimeout)

	client, err := gwclient.Dial(ctx, cfg)
	if err != nil {
		log.Info("cannot reach the server", "server", server.Host, "port", cfg.Port, "error", err)
		return sdk.Snapshot{}, dialError(ctx, err)
	}
	info, err := client.Login(ctx, cred.Login, cred.Password)
	if err != nil {
		client.Close()
		log.Info("login failed", "login", cred.Login, "error", err)
		return sdk.Snapshot{}, loginError(err)
	}
	s := newSession(cred.SessionID, client, info.Self, settings.RootFolderName, events, log)
	s.learnContacts(ctx)
	snap := s.snapshot(ctx)

	b.mu.Lock()
	old := b.sessions[s.id]
	b.sessions[s.id] = s
	b.mu.Unlock()
	if old != nil {
		// The gateway reuses a session id only after it lost the old
		// session; do not keep two connections for one id.
		old.close(ctx)
	}
	if err := s.start(b.forget); err != nil {
		b.forget(s)
		client.Close()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInternal, "groupwise: %v", err)
	}
	log.Info("session opened", "login", cred.Login, "contacts", len(snap.Contacts))
	return snap, nil
}

// dialBudget shortens the dial timeout so that a server that cannot be
// reached is reported as unavailable before the gateway's own deadline
// passes, instead of as the gateway's timeout.
func dialBudget(ctx context.Context, dial time.Duration) time.Duration {
	if dial <= 0 {
		dial = gwclient.DefaultDialTimeout
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return dial
	}
	left := time.Until(deadline)
	left -= min(left/10, 500*time.Millisecond) // time to carry the answer back
	return max(min(dial, left), minDuration)
}

// forget removes s from the open sessions and reports whether it was
// still there, i.e. whether it ended without CloseSession.
func (b *Backend) forget(s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions[s.id] != s {
		return false
	}
	delete(b.sessions, s.id)
	return true
}

// CloseSession implements sdk.Backend. It closes the session's connection,
// which the server takes as a sign-off, and waits until no more events of
// the session can be emitted.
func (b *Backend) CloseSession(ctx context.Context, sessionID string) error {
	b.mu.Lock()
	s := b.sessions[sessionID]
	delete(b.sessions, sessionID)
	b.mu.Unlock()
	if s != nil {
		s.close(ctx)
		s.log.Info("session closed")
	}
	return nil
}

// Snapshot implements sdk.SnapshotProvider.
func (b *Backend) Snapshot(ctx context.Context, sessionID string) (sdk.Snapshot, error) {
	s, err := b.session(sessionID)
	if err != nil {
		return sdk.Snapshot{}, err
	}
	return s.snapshot(ctx), nil
}
