package session

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// Record is a session as the Store keeps it: enough to let devices resume
// after a gateway restart. The password is only ever present sealed.
type Record struct {
	ID        string
	User      string
	Backend   string
	Login     string
	CreatedAt time.Time
	LastSeq   uint64
	// SealedPassword is set when the admin enabled credential caching.
	SealedPassword []byte
	VerifierSalt   []byte
	VerifierHash   []byte
	Devices        []DeviceRecord
	// Events are the logged events not yet acknowledged by every device
	// (marshalled parley.device.v1.Event), written at shutdown.
	Events [][]byte
	// Dedupe maps recent client message ids to their conversation.
	Dedupe map[string]string
}

// DeviceRecord is one device of a stored session.
type DeviceRecord struct {
	ID         string
	TokenHash  []byte
	Acked      uint64
	DetachedAt time.Time
}

// Store persists session records, encoded by this package (JSON of
// Record) and opaque to the store. The configuration database implements
// it: a PostgreSQL deployment then keeps sessions where every node sees
// them, and an embedded one needs no second file.
type Store interface {
	SaveSession(ctx context.Context, id, user, backend string, data []byte) error
	DeleteSession(ctx context.Context, id string) error
	LoadSessions(ctx context.Context) ([][]byte, error)
}

// ErrReloginRequired: the session survived a restart but its backend
// session could not be re-opened (credential caching is off).
var ErrReloginRequired = errors.New("session: log in again")

// Sealer protects cached IM passwords: AES-256-GCM with a key from the
// gateway's key file, bound to the session id.
type Sealer struct{ aead cipher.AEAD }

// LoadSealer reads a 32-byte key from path, creating the file (0600) with
// a random key if it does not exist.
func LoadSealer(path string) (*Sealer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("session: writing credential key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("session: reading credential key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("session: credential key %s must be 32 bytes, not %d", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session: credential key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("session: credential key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts a password for the session.
func (s *Sealer) Seal(sessionID, password string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(password)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(password), []byte(sessionID))
}

// Open decrypts a sealed password of the session.
func (s *Sealer) Open(sessionID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("session: sealed credential too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(sessionID))
	if err != nil {
		return "", fmt.Errorf("session: sealed credential: %w", err)
	}
	return string(plain), nil
}

// record captures the session for the store. withEvents adds the log.
func (s *Session) record(withEvents bool) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Record{ID: s.ID, User: s.User, Backend: s.Backend, Login: s.Login, CreatedAt: s.createdAt,
		LastSeq: s.log.lastSeq, SealedPassword: s.sealed, VerifierSalt: s.verifier.salt[:], VerifierHash: s.verifier.hash}
	for _, d := range s.devices {
		r.Devices = append(r.Devices, DeviceRecord{ID: d.ID, TokenHash: d.tokenHash[:], Acked: d.acked, DetachedAt: d.detachedAt})
	}
	if withEvents {
		for _, e := range s.log.entries {
			if b, err := proto.Marshal(e.event); err == nil {
				r.Events = append(r.Events, b)
			}
		}
		r.Dedupe = make(map[string]string, len(s.dedupe))
		for k, v := range s.dedupe {
			r.Dedupe[k] = v
		}
	}
	return r
}

// persist writes the session's current state; a failure is logged, not
// fatal: the session works, it just may not survive a restart.
func (m *Manager) persist(s *Session, withEvents bool) {
	if m.cfg.Store == nil {
		return
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	if s.Ended() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data, err := json.Marshal(s.record(withEvents))
	if err == nil {
		err = m.cfg.Store.SaveSession(ctx, s.ID, s.User, s.Backend, data)
	}
	if err != nil {
		m.cfg.Logger.Warn("saving session", "session", s.ID, "error", err)
	}
}

func (m *Manager) forget(s *Session) {
	if m.cfg.Store == nil {
		return
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.cfg.Store.DeleteSession(ctx, s.ID); err != nil {
		m.cfg.Logger.Warn("deleting session", "session", s.ID, "error", err)
	}
}

// SaveAll writes every session with its event log (at shutdown).
func (m *Manager) SaveAll() {
	for _, s := range m.Sessions() {
		m.persist(s, true)
	}
}

// Restore loads the stored sessions after a restart. Sessions with a
// sealed password come back detached and marked for re-opening (see
// Reopen); their devices can resume at once. Sessions without one cannot
// reach their backend again: their devices get ErrReloginRequired.
func (m *Manager) Restore(ctx context.Context) (restored, relogin int, err error) {
	if m.cfg.Store == nil {
		return 0, 0, nil
	}
	blobs, err := m.cfg.Store.LoadSessions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("session: restoring: %w", err)
	}
	now := m.cfg.Now()
	for _, blob := range blobs {
		var r Record
		if err := json.Unmarshal(blob, &r); err != nil || r.ID == "" {
			m.cfg.Logger.Warn("skipping an unreadable stored session", "error", err)
			continue
		}
		if r.SealedPassword == nil || m.cfg.Sealer == nil {
			m.mu.Lock()
			m.relogin[r.ID] = now.Add(m.cfg.DetachTTL)
			m.mu.Unlock()
			m.cfg.Store.DeleteSession(ctx, r.ID)
			relogin++
			continue
		}
		s := m.newSession(r.ID, r.User, r.Backend, r.Login)
		close(s.ready)
		s.createdAt, s.sealed, s.needsReopen, s.restored = r.CreatedAt, r.SealedPassword, true, true
		copy(s.verifier.salt[:], r.VerifierSalt)
		s.verifier.hash = r.VerifierHash
		s.log.lastSeq = r.LastSeq
		for _, b := range r.Events {
			var e devicev1.Event
			if proto.Unmarshal(b, &e) == nil {
				s.log.restore(&e)
			}
		}
		for k, v := range r.Dedupe {
			s.dedupe[k] = v
			s.dedupeQ = append(s.dedupeQ, k)
		}
		for _, dr := range r.Devices {
			d := &Device{ID: dr.ID, sess: s, wake: make(chan struct{}, 1), acked: dr.Acked, cursor: dr.Acked, detachedAt: now}
			copy(d.tokenHash[:], dr.TokenHash)
			s.devices[d.ID] = d
		}
		m.mu.Lock()
		m.byID[s.ID] = s
		m.byUser[s.User] = s
		m.mu.Unlock()
		restored++
	}
	return restored, relogin, nil
}

// NeedsReopen lists the sessions of a backend whose backend session must
// be opened again (after a gateway restart or a plugin crash), with their
// cached passwords. A session without a cached password is not listed.
func (m *Manager) NeedsReopen(backend string) []*Session {
	var out []*Session
	for _, s := range m.Sessions() {
		s.mu.Lock()
		if s.Backend == backend && s.needsReopen && s.sealed != nil {
			out = append(out, s)
		}
		s.mu.Unlock()
	}
	return out
}

// MarkReopen flags every session of a backend for re-opening (its plugin
// restarted). It returns the sessions that have no cached password and so
// cannot be re-opened.
func (m *Manager) MarkReopen(backend string) (lost []*Session) {
	for _, s := range m.Sessions() {
		s.mu.Lock()
		if s.Backend == backend {
			if s.sealed != nil && m.cfg.Sealer != nil {
				s.needsReopen = true
			} else {
				lost = append(lost, s)
			}
		}
		s.mu.Unlock()
	}
	return lost
}

// Password unseals the session's cached password.
func (m *Manager) Password(s *Session) (string, error) {
	if m.cfg.Sealer == nil || s.sealed == nil {
		return "", ErrReloginRequired
	}
	return m.cfg.Sealer.Open(s.ID, s.sealed)
}

// Reopened records that the session's backend session is open again.
func (s *Session) Reopened() {
	s.mu.Lock()
	s.needsReopen = false
	s.mu.Unlock()
}

// Reopening reports whether the session waits for its backend session.
func (s *Session) Reopening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.needsReopen
}
