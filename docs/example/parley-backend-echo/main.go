// Command parley-backend-echo is the example backend plugin of
// docs/writing-a-plugin.md. Its "IM server" lives inside the plugin: the
// users listed in the backend's settings chat with each other, see each
// other's presence, and can talk to a bot called "echo" that answers every
// message with the same text.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"maps"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/plugins/sdk"
)

const (
	pluginName = "echo"  // the binary is parley-backend-echo
	version    = "1.0.0" // semver
	botID      = "echo"  // the user who answers
	keyWindow  = 256     // idempotency keys remembered per session
)

func main() {
	sdk.Serve(newBackend())
}

// The optional interfaces this backend implements; the compiler checks them.
var (
	_ sdk.SnapshotProvider = (*backend)(nil)
	_ sdk.PresenceSetter   = (*backend)(nil)
)

// backend is the whole plugin: one value serves every session of the
// plugin process.
type backend struct {
	mu       sync.Mutex
	users    map[string]string   // login → password, from the settings
	events   sdk.EventSink       // set by Configure
	logger   hclog.Logger        // set by Configure
	sessions map[string]*session // by the gateway's session id
	online   map[string]*session // by login
	convs    map[string][]string // conversation id → its two members
}

// session is one logged-in user.
type session struct {
	id, user string
	status   sdk.PresenceStatus
	note     string
	sent     map[string]string // idempotency key → conversation id
	sentKeys []string          // the same keys, oldest first
}

func newBackend() *backend { return &backend{} }

// Info describes the plugin. The gateway calls it before Configure, so it
// must not depend on the settings.
func (b *backend) Info() sdk.Info {
	return sdk.Info{
		Name:         pluginName,
		Version:      version,
		APIVersions:  []uint32{sdk.APIVersion},
		Capabilities: sdk.Capabilities{Presence: true},
	}
}

// settings is the backend block's settings { } as JSON.
type settings struct {
	Users map[string]string `json:"users"` // login → password
}

// Configure reads the settings. The gateway calls it once, before any
// session call.
func (b *backend) Configure(_ context.Context, cfg sdk.Config) error {
	var s settings
	if len(cfg.Settings) > 0 {
		if err := json.Unmarshal(cfg.Settings, &s); err != nil {
			return sdk.Errorf(sdk.ReasonInvalidArgument, "echo: settings: %v", err)
		}
	}
	if len(s.Users) == 0 {
		return sdk.Errorf(sdk.ReasonInvalidArgument, `echo: settings: no users; add users = { alice = "password" }`)
	}
	if _, taken := s.Users[botID]; taken {
		return sdk.Errorf(sdk.ReasonInvalidArgument, "echo: settings: %q is the bot's name", botID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users, b.events, b.logger = s.Users, cfg.Events, cfg.Logger
	b.sessions, b.online, b.convs = map[string]*session{}, map[string]*session{}, map[string][]string{}
	b.logger.Info("configured", "users", len(s.Users))
	return nil
}

// OpenSession logs a user in. A second login of the same user ends the
// first session, as many IM servers do.
func (b *backend) OpenSession(_ context.Context, cred sdk.Credentials) (sdk.Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users == nil {
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonBackendUnavailable, "echo: not configured")
	}
	password, known := b.users[cred.Login]
	if !known || subtle.ConstantTimeCompare([]byte(password), []byte(cred.Password)) != 1 {
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonUnauthenticated, "wrong user name or password")
	}
	if _, taken := b.sessions[cred.SessionID]; taken {
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "session id %q is in use", cred.SessionID)
	}
	if old, ok := b.online[cred.Login]; ok {
		b.endLocked(old)
		b.emit(old.id, sdk.SessionEndedEvent{Reason: sdk.ReasonKicked, Message: "logged in from another session"})
	}
	s := &session{id: cred.SessionID, user: cred.Login, status: sdk.StatusAvailable, sent: map[string]string{}}
	b.sessions[s.id] = s
	b.online[s.user] = s
	b.announceLocked(s)
	b.logger.Debug("login", "user", s.user, "session", s.id)
	return b.snapshotLocked(s), nil
}

// CloseSession logs a user out. Closing an unknown session is not an error.
func (b *backend) CloseSession(_ context.Context, sessionID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.sessions[sessionID]; ok {
		b.endLocked(s)
	}
	return nil
}

func (b *backend) endLocked(s *session) {
	delete(b.sessions, s.id)
	delete(b.online, s.user)
	s.status, s.note = sdk.StatusOffline, ""
	b.announceLocked(s)
}

// Snapshot returns the session's contact list: the bot, then every other
// user of the settings with their presence.
func (b *backend) Snapshot(_ context.Context, sessionID string) (sdk.Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.sessionLocked(sessionID)
	if err != nil {
		return sdk.Snapshot{}, err
	}
	return b.snapshotLocked(s), nil
}

func (b *backend) snapshotLocked(s *session) sdk.Snapshot {
	snap := sdk.Snapshot{
		Self:    sdk.Contact{UserID: s.user, DisplayName: s.user, Status: s.status, Note: s.note},
		Folders: []sdk.Folder{{ID: "1", Name: "Contacts"}},
		Contacts: []sdk.Contact{{UserID: botID, DisplayName: "Echo bot", FolderID: "1",
			Status: sdk.StatusAvailable, Note: "answers every message"}},
	}
	for _, login := range slices.Sorted(maps.Keys(b.users)) {
		if login == s.user {
			continue
		}
		c := sdk.Contact{UserID: login, DisplayName: login, FolderID: "1", Status: sdk.StatusOffline}
		if peer, ok := b.online[login]; ok {
			c.Status, c.Note = peer.status, peer.note
		}
		snap.Contacts = append(snap.Contacts, c)
	}
	return snap
}

// SetPresence publishes the user's presence to everyone online.
func (b *backend) SetPresence(_ context.Context, sessionID string, p sdk.Presence) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.sessionLocked(sessionID)
	if err != nil {
		return err
	}
	if p.Status < sdk.StatusOffline || p.Status > sdk.StatusIdle {
		return sdk.Errorf(sdk.ReasonInvalidArgument, "unknown presence status %d", p.Status)
	}
	s.status, s.note = p.Status, p.Note
	b.announceLocked(s)
	return nil
}

// announceLocked tells every other online user about s's presence.
func (b *backend) announceLocked(s *session) {
	for _, peer := range b.online {
		if peer != s {
			b.emit(peer.id, sdk.PresenceEvent{UserID: s.user, Status: s.status, Note: s.note})
		}
	}
}

// SendMessage delivers text to another online user, or has the bot answer
// it. A retry with an idempotency key the session has used is answered
// without sending again.
func (b *backend) SendMessage(_ context.Context, msg sdk.OutgoingMessage) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.sessionLocked(msg.SessionID)
	if err != nil {
		return "", err
	}
	if conv, seen := s.sent[msg.IdempotencyKey]; seen {
		return conv, nil
	}
	if msg.Text == "" {
		return "", sdk.Errorf(sdk.ReasonInvalidArgument, "empty message")
	}
	peer, err := b.peerLocked(s, msg.ConversationID, msg.To)
	if err != nil {
		return "", err
	}
	conv := conversationID(s.user, peer)
	b.convs[conv] = []string{s.user, peer}
	if peer == botID {
		b.emit(s.id, sdk.MessageEvent{ConversationID: conv, From: botID, Text: msg.Text})
	} else if to, online := b.online[peer]; online {
		b.emit(to.id, sdk.MessageEvent{ConversationID: conv, From: s.user, Text: msg.Text})
	} else {
		return "", sdk.Errorf(sdk.ReasonNotFound, "%s is offline", peer)
	}
	if msg.IdempotencyKey != "" {
		s.sent[msg.IdempotencyKey] = conv
		s.sentKeys = append(s.sentKeys, msg.IdempotencyKey)
		if len(s.sentKeys) > keyWindow {
			delete(s.sent, s.sentKeys[0])
			s.sentKeys = s.sentKeys[1:]
		}
	}
	return conv, nil
}

// peerLocked finds who a message goes to: the user named in to, or the
// other member of the conversation.
func (b *backend) peerLocked(s *session, conv, to string) (string, error) {
	if to == "" {
		members, ok := b.convs[conv]
		if !ok || !slices.Contains(members, s.user) {
			return "", sdk.Errorf(sdk.ReasonNotFound, "no conversation %q", conv)
		}
		to = members[0]
		if to == s.user {
			to = members[1]
		}
	}
	if _, known := b.users[to]; !known && to != botID {
		return "", sdk.Errorf(sdk.ReasonNotFound, "no user %q", to)
	}
	return to, nil
}

// conversationID names the one-to-one conversation of two users.
func conversationID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "dm:" + a + ":" + b
}

func (b *backend) sessionLocked(id string) (*session, error) {
	s, ok := b.sessions[id]
	if !ok {
		return nil, sdk.Errorf(sdk.ReasonSessionNotFound, "no session %q", id)
	}
	return s, nil
}

func (b *backend) emit(sessionID string, kind sdk.EventKind) {
	b.events.Emit(sdk.Event{SessionID: sessionID, Kind: kind})
}
