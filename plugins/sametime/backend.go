package sametime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sdk"
)

// Version is the backend's version, reported by Info.
const Version = "1.0.0"

// Name is the backend's name; the plugin binary is parley-backend-sametime.
const Name = "sametime"

// Backend is the Sametime backend. Create it with New; the gateway calls
// Configure before any session call.
type Backend struct {
	mu         sync.Mutex
	configured bool
	settings   Settings
	server     sdk.ServerAddress // the default server from the gateway's config
	events     sdk.EventSink
	log        hclog.Logger
	sessions   map[string]*session
	opening    map[string]bool // session ids whose OpenSession is running
	transfers  atomic.Uint64   // numbers incoming file offers
}

// Interface guards: the backend has every optional capability.
var (
	_ sdk.Backend          = (*Backend)(nil)
	_ sdk.HealthChecker    = (*Backend)(nil)
	_ sdk.SnapshotProvider = (*Backend)(nil)
	_ sdk.PresenceSetter   = (*Backend)(nil)
	_ sdk.TypingSender     = (*Backend)(nil)
	_ sdk.ContactManager   = (*Backend)(nil)
	_ sdk.Conversations    = (*Backend)(nil)
	_ sdk.FileTransfer     = (*Backend)(nil)
)

// New returns an unconfigured backend.
func New() *Backend {
	return &Backend{sessions: map[string]*session{}, opening: map[string]bool{}}
}

// Info implements sdk.Backend. MaxFileBytes is the configured limit (the
// default before Configure).
func (b *Backend) Info() sdk.Info {
	b.mu.Lock()
	limit := b.settings.MaxFileBytes
	b.mu.Unlock()
	if limit == 0 {
		limit = DefaultMaxFileBytes
	}
	return sdk.Info{Name: Name, Version: Version, APIVersions: []uint32{sdk.APIVersion},
		Capabilities: sdk.Capabilities{FileTransfer: true, MaxFileBytes: limit, Typing: true, GroupChat: true,
			Presence: true, ContactManagement: true}}
}

// Configure implements sdk.Backend: it validates the settings (see
// Settings) and the default server address.
func (b *Backend) Configure(_ context.Context, cfg sdk.Config) error {
	s, err := ParseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	if cfg.DefaultServer.TLS {
		return errTLS()
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if cfg.Events == nil {
		return sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: configure: no event sink")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.configured, b.settings, b.server, b.events, b.log = true, s, cfg.DefaultServer, cfg.Events, logger
	return nil
}

func errTLS() error {
	return sdk.Errorf(sdk.ReasonInvalidArgument,
		"sametime: the community protocol runs on plain TCP with its own RC2 encryption; turn server TLS off")
}

// Health implements sdk.HealthChecker. It reports the plugin's own state
// only: an unreachable IM server shows in each session's errors, and
// failing health checks for it would only get the plugin restarted and
// every session ended without making the server come back.
func (b *Backend) Health(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.configured {
		return sdk.Errorf(sdk.ReasonBackendUnavailable, "sametime: not configured")
	}
	return nil
}

// clientConfig is the stclient configuration of one login.
func (b *Backend) clientConfig(cred sdk.Credentials, addr sdk.ServerAddress, logger hclog.Logger) stclient.Config {
	s := b.settings
	return stclient.Config{
		Host:              addr.Host,
		Port:              int(addr.Port), // 0: stproto.DefaultPort
		User:              cred.Login,
		Password:          cred.Password,
		LoginType:         stproto.LoginType(s.LoginType),
		RequestTimeout:    time.Duration(s.RequestTimeout),
		OfferTimeout:      time.Duration(s.OfferTimeout),
		KeepaliveInterval: time.Duration(s.Keepalive),
		ForceLogin:        s.ForceLogin,
		DisableEncryption: s.DisableEncryption,
		MaxFileSize:       int64(s.MaxFileBytes),
		Logger:            logger,
	}
}

// OpenSession implements sdk.Backend: it logs in, loads the buddy list,
// watches every buddy and returns the contact list with the presence known
// once the server answered the watch (or after a short wait).
func (b *Backend) OpenSession(ctx context.Context, cred sdk.Credentials) (sdk.Snapshot, error) {
	b.mu.Lock()
	if !b.configured {
		b.mu.Unlock()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonBackendUnavailable, "sametime: not configured")
	}
	addr := cred.Server
	if addr.Host == "" {
		addr = b.server
	}
	switch {
	case cred.SessionID == "":
		b.mu.Unlock()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: open session: no session id")
	case cred.Login == "":
		b.mu.Unlock()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonUnauthenticated, "sametime: open session: empty login name")
	case addr.Host == "":
		b.mu.Unlock()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: open session: no server address")
	case addr.TLS:
		b.mu.Unlock()
		return sdk.Snapshot{}, errTLS()
	case b.sessions[cred.SessionID] != nil || b.opening[cred.SessionID]:
		b.mu.Unlock()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: session %q is already open", cred.SessionID)
	}
	b.opening[cred.SessionID] = true
	logger := b.log.With("session", cred.SessionID)
	cfg := b.clientConfig(cred, addr, logger)
	events, limit := b.events, b.settings.MaxFileBytes
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.opening, cred.SessionID)
		b.mu.Unlock()
	}()

	client, err := stclient.Dial(ctx, cfg)
	if err != nil {
		logger.Info("login failed", "login", cred.Login, "error", err)
		return sdk.Snapshot{}, loginError(err)
	}
	s := newSession(cred.SessionID, client, events, limit, logger, b.forget, &b.transfers)
	go s.run()
	snap, err := s.start(ctx)
	if err != nil {
		s.close()
		return sdk.Snapshot{}, err
	}
	b.mu.Lock()
	if s.ended {
		b.mu.Unlock()
		s.close()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonBackendUnavailable, "sametime: the server ended the session during login")
	}
	b.sessions[s.id] = s
	b.mu.Unlock()
	logger.Info("session opened", "login", cred.Login, "user", snap.Self.UserID, "contacts", len(snap.Contacts))
	return snap, nil
}

// forget removes a session the server ended. It marks the session ended so
// that an OpenSession still running does not register it.
func (b *Backend) forget(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s.ended = true
	if b.sessions[s.id] == s {
		delete(b.sessions, s.id)
	}
}

// CloseSession implements sdk.Backend: it logs the user off.
func (b *Backend) CloseSession(_ context.Context, sessionID string) error {
	b.mu.Lock()
	s := b.sessions[sessionID]
	if s != nil {
		delete(b.sessions, sessionID)
		s.ended = true
	}
	b.mu.Unlock()
	if s != nil {
		s.close()
		s.log.Info("session closed")
	}
	return nil
}

// session returns the live session with the id.
func (b *Backend) session(id string) (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sessions[id]; s != nil {
		return s, nil
	}
	return nil, sdk.Errorf(sdk.ReasonSessionNotFound, "sametime: no session %q", id)
}

// Snapshot implements sdk.SnapshotProvider.
func (b *Backend) Snapshot(_ context.Context, sessionID string) (sdk.Snapshot, error) {
	s, err := b.session(sessionID)
	if err != nil {
		return sdk.Snapshot{}, err
	}
	return s.snapshot(), nil
}
