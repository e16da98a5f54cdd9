package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors the manager returns; the router maps them to device error codes.
var (
	ErrServerBusy      = errors.New("session: session table is full")
	ErrUnauthenticated = errors.New("session: credentials do not match")
	ErrResumeExpired   = errors.New("session: session expired or unknown")
)

// Config bounds the cache.
type Config struct {
	MaxSessions  int
	DetachTTL    time.Duration // how long a session waits for a detached device
	MaxEvents    int           // per-session event log bound (count)
	MaxBytes     int           // per-session event log bound (bytes)
	DedupeWindow int           // client message ids remembered per session
	Now          func() time.Time
	// Store persists sessions so devices can resume after a restart; nil
	// keeps them in memory only. Changes are written behind the requests
	// that make them (see SaveDelay).
	Store Store
	// SaveDelay is how long a changed session waits before it is written,
	// so that changes close together go in one transaction (default 50
	// ms); a full batch is written at once. It bounds, with the time of
	// the write, what a crash can lose.
	SaveDelay time.Duration
	// SaveBatch bounds the sessions written per transaction (default 256).
	SaveBatch int
	// Sealer, when set, caches each session's IM password sealed, so its
	// backend session can be re-opened silently after a plugin crash or a
	// gateway restart (the admin's cache_credentials).
	Sealer *Sealer
	Logger hclog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10000
	}
	if c.DetachTTL <= 0 {
		c.DetachTTL = 30 * time.Minute
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 1000
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = 256
	}
	if c.SaveDelay <= 0 {
		c.SaveDelay = defaultSaveDelay
	}
	if c.SaveBatch <= 0 {
		c.SaveBatch = defaultSaveBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// OpenFunc logs the user in to the backend for a new session.
type OpenFunc func(ctx context.Context, s *Session) (sdk.Capabilities, error)

// CloseFunc logs a session out of its backend; the manager calls it when a
// session ends (last device logged out, detached too long, reclaimed).
type CloseFunc func(s *Session, reason string)

// Manager is the session cache.
type Manager struct {
	cfg       Config
	onClose   CloseFunc
	metrics   metrics
	persist   *persister // nil without a Store
	verifiers deriver

	mu      sync.Mutex
	byID    map[string]*Session
	byUser  map[string]*Session
	relogin map[string]time.Time // restored sessions without credentials → until
}

type metrics struct {
	sessions  prometheus.GaugeFunc
	overflows prometheus.Counter
	reclaimed prometheus.Counter
	refused   prometheus.Counter
}

// NewManager returns an empty cache. reg may be nil.
func NewManager(cfg Config, onClose CloseFunc, reg prometheus.Registerer) *Manager {
	m := &Manager{cfg: cfg.withDefaults(), onClose: onClose, byID: map[string]*Session{}, byUser: map[string]*Session{},
		relogin: map[string]time.Time{}}
	m.metrics = metrics{
		sessions: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_sessions", Help: "Backend sessions in the cache."},
			func() float64 { return float64(m.Len()) }),
		overflows: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_session_log_overflow_events_total",
			Help: "Events dropped from full session logs (devices get a gap marker)."}),
		reclaimed: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_sessions_reclaimed_total",
			Help: "Detached sessions ended to admit new logins."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_sessions_refused_total",
			Help: "Logins refused with server_busy."}),
	}
	if reg != nil {
		reg.MustRegister(m.metrics.sessions, m.metrics.overflows, m.metrics.reclaimed, m.metrics.refused)
	}
	if m.cfg.Store != nil {
		m.persist = newPersister(m.cfg.Store, m.cfg.Logger.Named("persist"), m.cfg.SaveDelay, m.cfg.SaveBatch)
	}
	return m
}

// Len is the number of sessions.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Login returns the user's session, opening the backend session with open
// if the user has none (one IM login per user). A user who already has a
// session joins it when the password matches the one that opened it. The
// returned device carries a fresh resume token.
//
// The verifier a join is checked against (a PBKDF2 hash, about half a
// millisecond of CPU) is derived after the first login is answered; a join
// that arrives before it is ready waits for it.
func (m *Manager) Login(ctx context.Context, user, backend, login, password, deviceID string, open OpenFunc) (*Device, []byte, bool, error) {
	for {
		m.mu.Lock()
		s, exists := m.byUser[user]
		if !exists {
			break
		}
		m.mu.Unlock()
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		}
		if s.openErr != nil || s.Ended() {
			continue // the other login failed or ended; try again ourselves
		}
		select {
		case <-s.verifierReady:
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		}
		if s.Backend != backend || !s.verifier.matches(password) {
			return nil, nil, false, ErrUnauthenticated
		}
		d, token := m.attach(s, deviceID)
		m.save(s)
		return d, token, false, nil
	}
	if len(m.byID) >= m.cfg.MaxSessions && !m.reclaimLocked() {
		m.mu.Unlock()
		m.metrics.refused.Inc()
		return nil, nil, false, ErrServerBusy
	}
	s := m.newSession(newID(), user, backend, login)
	m.byID[s.ID] = s
	m.byUser[user] = s
	m.mu.Unlock()

	caps, err := open(ctx, s)
	if err != nil {
		m.mu.Lock()
		delete(m.byID, s.ID)
		delete(m.byUser, user)
		m.mu.Unlock()
		s.openErr = err
		close(s.ready)
		return nil, nil, false, err
	}
	s.Caps = caps
	if m.cfg.Sealer != nil {
		s.sealed = m.cfg.Sealer.Seal(s.ID, password)
	}
	close(s.ready)
	d, token := m.attach(s, deviceID)
	m.verifiers.derive(s, password)
	m.save(s) // written once the verifier is there (see record)
	return d, token, true, nil
}

func (m *Manager) newSession(id, user, backend, login string) *Session {
	now := m.cfg.Now()
	return &Session{ID: id, User: user, Backend: backend, Login: login, mgr: m, ready: make(chan struct{}),
		log: newEventLog(m.cfg.MaxEvents, m.cfg.MaxBytes), devices: map[string]*Device{}, dedupe: map[string]string{},
		inflight: map[string]chan struct{}{}, verifierReady: make(chan struct{}),
		lastUsed: now, createdAt: now}
}

// reclaimLocked ends the session whose devices have all been detached the
// longest. It reports whether one was found.
func (m *Manager) reclaimLocked() bool {
	var victim *Session
	var since time.Time
	for _, s := range m.byID {
		if t, ok := s.detachedSince(); ok && (victim == nil || t.Before(since)) {
			victim, since = s, t
		}
	}
	if victim == nil {
		return false
	}
	m.removeLocked(victim)
	m.metrics.reclaimed.Inc()
	go func() {
		m.forget(victim)
		m.onClose(victim, "reclaimed")
	}()
	return true
}

// detachedSince reports when the last device detached, if none is attached.
func (s *Session) detachedSince() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.ready:
	default:
		return time.Time{}, false // still opening
	}
	var latest time.Time
	for _, d := range s.devices {
		if d.attached {
			return time.Time{}, false
		}
		if d.detachedAt.After(latest) {
			latest = d.detachedAt
		}
	}
	return latest, true
}

func (m *Manager) removeLocked(s *Session) {
	delete(m.byID, s.ID)
	if m.byUser[s.User] == s {
		delete(m.byUser, s.User)
	}
	s.mu.Lock()
	s.ended = true
	for _, d := range s.devices {
		d.signal()
	}
	s.mu.Unlock()
}

// attach adds (or re-attaches) a device and gives it a new resume token.
func (m *Manager) attach(s *Session, deviceID string) (*Device, []byte) {
	token := make([]byte, 32)
	rand.Read(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if deviceID == "" {
		deviceID = newID()
	}
	d, ok := s.devices[deviceID]
	if !ok {
		d = &Device{ID: deviceID, sess: s, wake: make(chan struct{}, 1), acked: s.log.lastSeq, cursor: s.log.lastSeq}
		s.devices[deviceID] = d
	}
	d.spentHash = d.tokenHash
	d.tokenHash = hashToken(token)
	if d.superseded != nil {
		close(d.superseded) // an older link of this device must stop
	}
	d.gen++
	d.superseded = make(chan struct{})
	d.attached = true
	d.restored = false
	d.cursor = d.acked
	d.gapSent = false
	return d, token
}

// Resume re-attaches a device with its resume token. The token is single
// use: the device gets a new one, and with a Store it is answered only
// once the new token is saved, so a crash cannot revive the spent one (a
// failed save returns ErrNotSaved and the old token stays valid). lastSeq
// is the newest event the device has processed; everything after it is
// replayed.
func (m *Manager) Resume(sessionID string, token []byte, lastSeq uint64, deviceID string) (*Device, []byte, error) {
	m.mu.Lock()
	s, ok := m.byID[sessionID]
	until, relogin := m.relogin[sessionID]
	m.mu.Unlock()
	if !ok {
		if relogin && m.cfg.Now().Before(until) {
			return nil, nil, ErrReloginRequired
		}
		return nil, nil, ErrResumeExpired
	}
	s.mu.Lock()
	var found *Device
	spent := false
	for _, d := range s.devices {
		if tokenMatches(d.tokenHash, token) {
			found = d
		}
		spent = spent || tokenMatches(d.spentHash, token)
	}
	if found == nil && !spent && s.tokenMayBeStaleLocked(deviceID, m.cfg.Now()) {
		// Restored after a crash from a record that may predate the
		// device's login: its token cannot be checked, so the device logs
		// in again (and joins this session) instead of being refused.
		s.mu.Unlock()
		return nil, nil, ErrReloginRequired
	}
	if found == nil || (deviceID != "" && found.ID != deviceID) {
		s.mu.Unlock()
		return nil, nil, ErrUnauthenticated
	}
	if lastSeq > s.log.lastSeq {
		if !found.restored || lastSeq > s.seqLimit {
			s.mu.Unlock()
			return nil, nil, fmt.Errorf("%w: device claims seq %d beyond the session's %d", ErrUnauthenticated, lastSeq, s.log.lastSeq)
		}
		// The gateway stopped without saving its newest seq (a crash):
		// the device saw events the restored log never held.
		s.log.lastSeq = lastSeq
	}
	if lastSeq > found.acked {
		found.acked = lastSeq
	}
	old, oldSpent := found.tokenHash, found.spentHash
	s.mu.Unlock()
	d, newToken := m.attach(s, found.ID)
	if m.persist == nil {
		return d, newToken, nil
	}
	if err := m.persist.saveDurably(s); err != nil {
		m.unresume(d, hashToken(newToken), old, oldSpent)
		return nil, nil, fmt.Errorf("%w: %w", ErrNotSaved, err)
	}
	return d, newToken, nil
}

// tokenMayBeStaleLocked reports whether a token that matches no device
// (nor a token one replaced) may still be one a login issued just before
// a crash, too late for the record the session was restored from. For a
// device the record has, that holds until the device logs in or resumes;
// for another (or an unnamed) device, for the detach TTL after the
// restore: a device gone longer would have expired anyway. The caller
// holds s.mu.
func (s *Session) tokenMayBeStaleLocked(deviceID string, now time.Time) bool {
	if d, ok := s.devices[deviceID]; ok {
		return d.restored && !s.staleUntil.IsZero()
	}
	return now.Before(s.staleUntil)
}

// unresume undoes a resume whose new token could not be saved: the device
// keeps its old token and is detached, unless a newer login or resume of
// the device has replaced the token meanwhile.
func (m *Manager) unresume(d *Device, issued, old, oldSpent [32]byte) {
	s := d.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.tokenHash != issued {
		return
	}
	d.tokenHash, d.spentHash = old, oldSpent
	d.attached = false
	d.detachedAt = m.cfg.Now()
}

// Detach marks the device's link gen as gone; the session stays for
// DetachTTL. A link that was superseded by a newer one detaches nothing.
func (m *Manager) Detach(d *Device, gen uint64) {
	s := d.sess
	s.mu.Lock()
	if d.gen != gen {
		s.mu.Unlock()
		return
	}
	d.attached = false
	d.detachedAt = m.cfg.Now()
	s.mu.Unlock()
	m.save(s)
}

// Logout removes the device. The session ends with its last device.
func (m *Manager) Logout(d *Device) {
	s := d.sess
	s.mu.Lock()
	delete(s.devices, d.ID)
	last := len(s.devices) == 0
	s.mu.Unlock()
	if last {
		m.End(s, "logout")
		return
	}
	m.save(s)
}

// End removes the session and logs it out of its backend.
func (m *Manager) End(s *Session, reason string) {
	m.mu.Lock()
	if m.byID[s.ID] != s {
		m.mu.Unlock()
		return
	}
	m.removeLocked(s)
	m.mu.Unlock()
	m.forget(s)
	m.onClose(s, reason)
}

// Get returns a session by id.
func (m *Manager) Get(id string) (*Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	return s, ok
}

// Sessions returns a snapshot of all sessions.
func (m *Manager) Sessions() []*Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Session, 0, len(m.byID))
	for _, s := range m.byID {
		out = append(out, s)
	}
	return out
}

// Sweep ends devices detached for longer than DetachTTL and sessions left
// without devices, and sessions idle for longer than inactivity (0: never).
func (m *Manager) Sweep(inactivity time.Duration) {
	now := m.cfg.Now()
	m.mu.Lock()
	for id, until := range m.relogin {
		if now.After(until) {
			delete(m.relogin, id)
		}
	}
	m.mu.Unlock()
	for _, s := range m.Sessions() {
		s.mu.Lock()
		for id, d := range s.devices {
			if !d.attached && now.Sub(d.detachedAt) > m.cfg.DetachTTL {
				delete(s.devices, id)
			}
		}
		orphan := len(s.devices) == 0
		idle := inactivity > 0 && now.Sub(s.lastUsed) > inactivity
		opened := isClosed(s.ready)
		s.mu.Unlock()
		switch {
		case opened && orphan:
			m.End(s, "detach_ttl")
		case opened && idle:
			m.End(s, "inactivity_timeout")
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Devices reports how many devices a session has and how many are attached.
func (s *Session) Devices() (total, attached int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		total++
		if d.attached {
			attached++
		}
	}
	return total, attached
}
