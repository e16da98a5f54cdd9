// Package memory is an IM backend that keeps its whole "IM server" in the
// plugin process: a fixed user directory with contact lists, presence, 1:1
// and group conversations, typing and streamed file transfers between the
// users logged in through it. The gateway's tests and the demo use it where
// a real IM server is not the point; parley-backend-memory serves it.
package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/plugins/sdk"
)

// Version is the backend's version.
const Version = "1.0.0"

// User is one account of the in-memory directory.
type User struct {
	ID       string   `json:"id"`
	Password string   `json:"password"`
	FullName string   `json:"full_name"`
	Contacts []string `json:"contacts"`
}

// Settings is the backend block's settings (the same shape as the interop
// harness's accounts file).
type Settings struct {
	Users        []User `json:"users"`
	MaxFileBytes uint64 `json:"max_file_bytes"`
}

// DefaultUsers are used when the settings name none.
var DefaultUsers = []User{
	{ID: "alice", Password: "secret", FullName: "Alice Example", Contacts: []string{"bob", "carol"}},
	{ID: "bob", Password: "secret", FullName: "Bob Example", Contacts: []string{"alice", "carol"}},
	{ID: "carol", Password: "secret", FullName: "Carol Example", Contacts: []string{"alice", "bob"}},
}

// DefaultMaxFileBytes is the in-memory server's own file size limit.
const DefaultMaxFileBytes = 1 << 20

// dedupeWindow bounds the idempotency keys remembered per session.
const dedupeWindow = 1024

// Backend is the in-memory IM backend.
type Backend struct {
	mu        sync.Mutex
	users     map[string]*User
	maxFile   uint64
	events    sdk.EventSink
	logger    hclog.Logger
	sessions  map[string]*session // by session id
	online    map[string]*session // by user id
	convs     map[string]*conversation
	transfers map[string]*transfer
	nextID    int
}

type session struct {
	id       string
	user     *User
	status   sdk.PresenceStatus
	note     string
	contacts map[string]string // user id → folder id
	seenKeys map[string]string // idempotency key → conversation id
	keyOrder []string
}

type conversation struct {
	id      string
	members []string // user ids
}

type transfer struct {
	id, from, to string
	size         uint64
	accept       chan io.Writer // the recipient's writer, or nil when declined
	done         chan error
}

// New returns an unconfigured backend.
func New() *Backend { return &Backend{} }

// Info implements sdk.Backend.
func (b *Backend) Info() sdk.Info {
	b.mu.Lock()
	max := b.maxFile
	b.mu.Unlock()
	if max == 0 {
		max = DefaultMaxFileBytes
	}
	return sdk.Info{Name: "memory", Version: Version, APIVersions: []uint32{sdk.APIVersion},
		Capabilities: sdk.Capabilities{FileTransfer: true, MaxFileBytes: max, Typing: true, GroupChat: true,
			Presence: true, ContactManagement: true}}
}

// Configure implements sdk.Backend.
func (b *Backend) Configure(_ context.Context, cfg sdk.Config) error {
	var s Settings
	if len(cfg.Settings) > 0 {
		if err := json.Unmarshal(cfg.Settings, &s); err != nil {
			return sdk.Errorf(sdk.ReasonInvalidArgument, "memory: settings: %v", err)
		}
	}
	if len(s.Users) == 0 {
		s.Users = DefaultUsers
	}
	if s.MaxFileBytes == 0 {
		s.MaxFileBytes = DefaultMaxFileBytes
	}
	users := make(map[string]*User, len(s.Users))
	for i := range s.Users {
		u := s.Users[i]
		if u.ID == "" {
			return sdk.Errorf(sdk.ReasonInvalidArgument, "memory: settings: user %d has no id", i)
		}
		users[strings.ToLower(u.ID)] = &u
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users, b.maxFile, b.events, b.logger = users, s.MaxFileBytes, cfg.Events, logger
	b.sessions, b.online = map[string]*session{}, map[string]*session{}
	b.convs, b.transfers = map[string]*conversation{}, map[string]*transfer{}
	return nil
}

func (b *Backend) emit(sessionID string, kind sdk.EventKind) {
	b.events.Emit(sdk.Event{SessionID: sessionID, Kind: kind})
}

func (b *Backend) session(id string) (*session, error) {
	if b.sessions == nil {
		return nil, sdk.Errorf(sdk.ReasonBackendUnavailable, "memory: backend not configured")
	}
	s, ok := b.sessions[id]
	if !ok {
		return nil, sdk.Errorf(sdk.ReasonSessionNotFound, "memory: no session %q", id)
	}
	return s, nil
}

// OpenSession implements sdk.Backend. A second login of the same user ends
// the first session, as GroupWise does.
func (b *Backend) OpenSession(_ context.Context, cred sdk.Credentials) (sdk.Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users == nil {
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonBackendUnavailable, "memory: backend not configured")
	}
	u, ok := b.users[strings.ToLower(cred.Login)]
	if !ok || u.Password != cred.Password {
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonUnauthenticated, "wrong user name or password")
	}
	if old, ok := b.online[u.ID]; ok {
		b.endSessionLocked(old)
		b.emit(old.id, sdk.SessionEndedEvent{Reason: sdk.ReasonKicked, Message: "logged in elsewhere"})
	}
	s := &session{id: cred.SessionID, user: u, status: sdk.StatusAvailable, contacts: map[string]string{}, seenKeys: map[string]string{}}
	for _, c := range u.Contacts {
		if _, known := b.users[strings.ToLower(c)]; known {
			s.contacts[c] = "0"
		}
	}
	b.sessions[s.id] = s
	b.online[u.ID] = s
	b.broadcastPresenceLocked(s)
	b.logger.Info("session opened", "login", u.ID, "session", s.id)
	return b.snapshotLocked(s), nil
}

func (b *Backend) snapshotLocked(s *session) sdk.Snapshot {
	snap := sdk.Snapshot{
		Self:    sdk.Contact{UserID: s.user.ID, DisplayName: s.user.FullName, Status: s.status, Note: s.note, AcceptsFiles: true},
		Folders: []sdk.Folder{{ID: "0", Name: "Contacts"}},
	}
	ids := make([]string, 0, len(s.contacts))
	for id := range s.contacts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		snap.Contacts = append(snap.Contacts, b.contactLocked(id, s.contacts[id]))
	}
	return snap
}

func (b *Backend) contactLocked(userID, folder string) sdk.Contact {
	c := sdk.Contact{UserID: userID, FolderID: folder, Status: sdk.StatusOffline}
	if u, ok := b.users[strings.ToLower(userID)]; ok {
		c.UserID, c.DisplayName = u.ID, u.FullName
	}
	if peer, ok := b.online[c.UserID]; ok {
		c.Status, c.Note, c.AcceptsFiles = peer.status, peer.note, true
	}
	return c
}

// broadcastPresenceLocked tells every online user who lists s's user.
func (b *Backend) broadcastPresenceLocked(s *session) {
	for _, peer := range b.online {
		if _, ok := peer.contacts[s.user.ID]; ok && peer != s {
			b.emit(peer.id, sdk.PresenceEvent{UserID: s.user.ID, Status: s.status, Note: s.note})
		}
	}
}

func (b *Backend) endSessionLocked(s *session) {
	delete(b.sessions, s.id)
	if b.online[s.user.ID] == s {
		delete(b.online, s.user.ID)
	}
	s.status = sdk.StatusOffline
	b.broadcastPresenceLocked(s)
}

// CloseSession implements sdk.Backend.
func (b *Backend) CloseSession(_ context.Context, sessionID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.sessions[sessionID]; ok {
		b.endSessionLocked(s)
	}
	return nil
}

// Snapshot implements sdk.SnapshotProvider.
func (b *Backend) Snapshot(_ context.Context, sessionID string) (sdk.Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return sdk.Snapshot{}, err
	}
	return b.snapshotLocked(s), nil
}

func directID(a, b string) string {
	pair := []string{a, b}
	sort.Strings(pair)
	return "dm:" + pair[0] + ":" + pair[1]
}

// SendMessage implements sdk.Backend.
func (b *Backend) SendMessage(_ context.Context, msg sdk.OutgoingMessage) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(msg.SessionID)
	if err != nil {
		return "", err
	}
	if conv, seen := s.seenKeys[msg.IdempotencyKey]; seen && msg.IdempotencyKey != "" {
		return conv, nil
	}
	recipients, convID, err := b.recipientsLocked(s, msg.ConversationID, msg.To)
	if err != nil {
		return "", err
	}
	for _, r := range recipients {
		if peer, ok := b.online[r]; ok {
			b.emit(peer.id, sdk.MessageEvent{ConversationID: convID, From: s.user.ID, Text: msg.Text})
		}
	}
	if msg.IdempotencyKey != "" {
		s.seenKeys[msg.IdempotencyKey] = convID
		s.keyOrder = append(s.keyOrder, msg.IdempotencyKey)
		if len(s.keyOrder) > dedupeWindow {
			delete(s.seenKeys, s.keyOrder[0])
			s.keyOrder = s.keyOrder[1:]
		}
	}
	return convID, nil
}

// recipientsLocked resolves a conversation id or a user id to the other
// participants.
func (b *Backend) recipientsLocked(s *session, convID, to string) ([]string, string, error) {
	if convID == "" || strings.HasPrefix(convID, "dm:") && to != "" {
		u, ok := b.users[strings.ToLower(to)]
		if !ok {
			return nil, "", sdk.Errorf(sdk.ReasonNotFound, "no user %q", to)
		}
		return []string{u.ID}, directID(s.user.ID, u.ID), nil
	}
	if strings.HasPrefix(convID, "dm:") {
		parts := strings.Split(convID, ":")
		if len(parts) != 3 || !slices.Contains(parts[1:], s.user.ID) {
			return nil, "", sdk.Errorf(sdk.ReasonNotFound, "no conversation %q", convID)
		}
		other := parts[1]
		if other == s.user.ID {
			other = parts[2]
		}
		return []string{other}, convID, nil
	}
	c, ok := b.convs[convID]
	if !ok || !slices.Contains(c.members, s.user.ID) {
		return nil, "", sdk.Errorf(sdk.ReasonNotFound, "no conversation %q", convID)
	}
	var others []string
	for _, m := range c.members {
		if m != s.user.ID {
			others = append(others, m)
		}
	}
	return others, convID, nil
}

// SetPresence implements sdk.PresenceSetter.
func (b *Backend) SetPresence(_ context.Context, sessionID string, p sdk.Presence) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	s.status, s.note = p.Status, p.Note
	b.broadcastPresenceLocked(s)
	return nil
}

// SendTyping implements sdk.TypingSender.
func (b *Backend) SendTyping(_ context.Context, sessionID string, t sdk.Typing) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	recipients, convID, err := b.recipientsLocked(s, t.ConversationID, t.To)
	if err != nil {
		return err
	}
	for _, r := range recipients {
		if peer, ok := b.online[r]; ok {
			b.emit(peer.id, sdk.TypingEvent{ConversationID: convID, From: s.user.ID, Typing: t.Typing})
		}
	}
	return nil
}

// AddContact implements sdk.ContactManager.
func (b *Backend) AddContact(_ context.Context, sessionID string, c sdk.Contact) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	u, ok := b.users[strings.ToLower(c.UserID)]
	if !ok {
		return sdk.Errorf(sdk.ReasonNotFound, "no user %q", c.UserID)
	}
	folder := c.FolderID
	if folder == "" {
		folder = "0"
	}
	s.contacts[u.ID] = folder
	b.emit(s.id, sdk.ContactEvent{Change: sdk.ContactAdded, Contact: b.contactLocked(u.ID, folder)})
	return nil
}

// RemoveContact implements sdk.ContactManager.
func (b *Backend) RemoveContact(_ context.Context, sessionID, userID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	folder, ok := s.contacts[userID]
	if !ok {
		return sdk.Errorf(sdk.ReasonNotFound, "%q is not a contact", userID)
	}
	delete(s.contacts, userID)
	b.emit(s.id, sdk.ContactEvent{Change: sdk.ContactRemoved, Contact: b.contactLocked(userID, folder)})
	return nil
}

// MoveContact implements sdk.ContactManager.
func (b *Backend) MoveContact(_ context.Context, sessionID, userID, folderID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	if _, ok := s.contacts[userID]; !ok {
		return sdk.Errorf(sdk.ReasonNotFound, "%q is not a contact", userID)
	}
	s.contacts[userID] = folderID
	b.emit(s.id, sdk.ContactEvent{Change: sdk.ContactMoved, Contact: b.contactLocked(userID, folderID)})
	return nil
}

// CreateConversation implements sdk.Conversations.
func (b *Backend) CreateConversation(_ context.Context, sessionID string, participants []string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return "", err
	}
	b.nextID++
	c := &conversation{id: fmt.Sprintf("conf-%d", b.nextID), members: []string{s.user.ID}}
	for _, p := range participants {
		u, ok := b.users[strings.ToLower(p)]
		if !ok {
			return "", sdk.Errorf(sdk.ReasonNotFound, "no user %q", p)
		}
		if !slices.Contains(c.members, u.ID) {
			c.members = append(c.members, u.ID)
		}
	}
	b.convs[c.id] = c
	for _, m := range c.members[1:] {
		if peer, ok := b.online[m]; ok {
			b.emit(peer.id, sdk.ConversationEvent{Change: sdk.ConversationInvited, ConversationID: c.id, UserID: s.user.ID})
		}
	}
	return c.id, nil
}

// LeaveConversation implements sdk.Conversations.
func (b *Backend) LeaveConversation(_ context.Context, sessionID, convID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	c, ok := b.convs[convID]
	if !ok || !slices.Contains(c.members, s.user.ID) {
		return sdk.Errorf(sdk.ReasonNotFound, "no conversation %q", convID)
	}
	c.members = slices.DeleteFunc(c.members, func(m string) bool { return m == s.user.ID })
	for _, m := range c.members {
		if peer, ok := b.online[m]; ok {
			b.emit(peer.id, sdk.ConversationEvent{Change: sdk.ConversationLeft, ConversationID: c.id, UserID: s.user.ID})
		}
	}
	return nil
}

// InviteToConversation implements sdk.Conversations.
func (b *Backend) InviteToConversation(_ context.Context, sessionID, convID, userID, text string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	c, ok := b.convs[convID]
	if !ok || !slices.Contains(c.members, s.user.ID) {
		return sdk.Errorf(sdk.ReasonNotFound, "no conversation %q", convID)
	}
	u, ok := b.users[strings.ToLower(userID)]
	if !ok {
		return sdk.Errorf(sdk.ReasonNotFound, "no user %q", userID)
	}
	if !slices.Contains(c.members, u.ID) {
		c.members = append(c.members, u.ID)
	}
	for _, m := range c.members {
		if peer, ok := b.online[m]; ok && m != s.user.ID {
			change := sdk.ConversationJoined
			if m == u.ID {
				change = sdk.ConversationInvited
			}
			b.emit(peer.id, sdk.ConversationEvent{Change: change, ConversationID: c.id, UserID: u.ID, Text: text})
		}
	}
	return nil
}

// SendFile implements sdk.FileTransfer: the offer goes to the recipient and
// the data is piped straight into the recipient's writer once they accept,
// so no file is ever held in memory.
func (b *Backend) SendFile(ctx context.Context, h sdk.FileHeader, r io.Reader) error {
	b.mu.Lock()
	s, err := b.session(h.SessionID)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	if h.Size > b.maxFile {
		b.mu.Unlock()
		return &sdk.Error{Reason: sdk.ReasonFileTooLarge, LimitBytes: b.maxFile,
			Message: fmt.Sprintf("the IM server accepts files up to %d bytes", b.maxFile)}
	}
	recipients, convID, err := b.recipientsLocked(s, h.ConversationID, h.To)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	peer, ok := b.online[recipients[0]]
	if !ok {
		b.mu.Unlock()
		return sdk.Errorf(sdk.ReasonNotFound, "%s is offline", recipients[0])
	}
	t := &transfer{id: h.TransferID, from: s.user.ID, to: peer.user.ID, size: h.Size,
		accept: make(chan io.Writer, 1), done: make(chan error, 1)}
	b.transfers[t.id] = t
	b.emit(peer.id, sdk.FileOfferEvent{TransferID: t.id, From: s.user.ID, Name: path.Base(h.Name), Size: h.Size, ConversationID: convID})
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.transfers, t.id)
		b.mu.Unlock()
	}()

	var w io.Writer
	select {
	case w = <-t.accept:
	case <-ctx.Done():
		return sdk.Errorf(sdk.ReasonCancelled, "file offer withdrawn")
	}
	if w == nil {
		return sdk.Errorf(sdk.ReasonDeclined, "%s declined the file", t.to)
	}
	_, err = io.Copy(w, io.LimitReader(r, int64(h.Size)))
	t.done <- err
	if err != nil {
		return sdk.Errorf(sdk.ReasonCancelled, "transfer interrupted: %v", err)
	}
	return nil
}

func (b *Backend) offeredTo(sessionID, transferID string) (*transfer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.session(sessionID)
	if err != nil {
		return nil, err
	}
	t, ok := b.transfers[transferID]
	if !ok || t.to != s.user.ID {
		return nil, sdk.Errorf(sdk.ReasonNotFound, "no file offer %q", transferID)
	}
	return t, nil
}

// ReceiveFile implements sdk.FileTransfer.
func (b *Backend) ReceiveFile(ctx context.Context, sessionID, transferID string, w io.Writer) error {
	t, err := b.offeredTo(sessionID, transferID)
	if err != nil {
		return err
	}
	select {
	case t.accept <- w:
	default:
		return sdk.Errorf(sdk.ReasonInvalidArgument, "file %q already answered", transferID)
	}
	select {
	case err := <-t.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DeclineFile implements sdk.FileTransfer.
func (b *Backend) DeclineFile(_ context.Context, sessionID, transferID string) error {
	t, err := b.offeredTo(sessionID, transferID)
	if err != nil {
		return err
	}
	select {
	case t.accept <- nil:
		return nil
	default:
		return sdk.Errorf(sdk.ReasonInvalidArgument, "file %q already answered", transferID)
	}
}
