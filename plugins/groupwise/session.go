package groupwise

import (
	"context"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// session is one user's GroupWise session: its connection, the map between
// the DNs of the protocol and the user ids devices see, and the
// idempotency keys of recent sends.
type session struct {
	id         string
	client     *gwclient.Client
	events     sdk.EventSink
	log        hclog.Logger
	rootFolder string
	sent       *sentKeys
	done       chan struct{} // closed when the last event has been handled

	mu   sync.Mutex
	ids  map[string]string            // lower-case DN → user id
	dns  map[string]string            // lower-case user id → DN
	ims  map[string]string            // lower-case DN → GUID of the 1-to-1 conference
	seen map[string]sdk.PresenceEvent // lower-case DN → last presence reported
	self string                       // own user id
}

func newSession(id string, client *gwclient.Client, self gwclient.User, rootFolder string, events sdk.EventSink, log hclog.Logger) *session {
	s := &session{
		id: id, client: client, events: events, log: log, rootFolder: rootFolder,
		sent: newSentKeys(sentKeysWindow), done: make(chan struct{}),
		ids: map[string]string{}, dns: map[string]string{}, ims: map[string]string{},
		seen: map[string]sdk.PresenceEvent{},
	}
	s.self = s.remember(self)
	return s
}

func (s *session) emit(kind sdk.EventKind) {
	s.events.Emit(sdk.Event{SessionID: s.id, Kind: kind})
}

// close ends the connection and waits (within ctx) until the session's
// events have ended.
func (s *session) close(ctx context.Context) {
	s.client.Close()
	select {
	case <-s.done:
	case <-ctx.Done():
	}
}

// start has the client translate its events on the session's behalf
// until the connection ends; no goroutine waits for them in between. If
// the connection ended without CloseSession (forget reports true), the
// device is told with a SessionEndedEvent.
func (s *session) start(forget func(*session) bool) error {
	return s.client.Deliver(gwclient.Handler{
		Event: s.handle,
		End: func(err error) {
			defer close(s.done)
			if forget(s) {
				end := endReason(err)
				s.log.Info("session ended by the server", "reason", end.Reason, "error", err)
				s.emit(end)
			}
		},
	})
}

// userID is the id devices see for u: the auth attribute (the login name)
// if the server sent one, else the CN, else the dotted DN.
func userID(u gwclient.User) string {
	switch {
	case u.DisplayID != "" && u.DisplayID != gwclient.DottedDN(u.DN):
		return u.DisplayID
	case u.UserID != "":
		return u.UserID
	}
	return gwclient.DottedDN(u.DN)
}

// remember records u's user id and returns it. An id that already names
// another DN (two users with the same CN) falls back to the unique dotted
// DN.
func (s *session) remember(u gwclient.User) string {
	key := strings.ToLower(u.DN)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.ids[key]; ok {
		return id
	}
	id := userID(u)
	if other, taken := s.dns[strings.ToLower(id)]; taken && !strings.EqualFold(other, u.DN) {
		id = gwclient.DottedDN(u.DN)
	}
	s.ids[key] = id
	s.dns[strings.ToLower(id)] = u.DN
	return id
}

// idOf returns the user id of dn, looking the user up on the server if the
// session has never seen them. Without a record it falls back to the
// dotted DN.
func (s *session) idOf(ctx context.Context, dn string) string {
	s.mu.Lock()
	id, ok := s.ids[strings.ToLower(dn)]
	s.mu.Unlock()
	if ok {
		return id
	}
	if u, ok := s.client.User(dn); ok {
		return s.remember(u)
	}
	u, err := s.client.GetDetails(ctx, dn)
	if err != nil {
		s.log.Debug("no details for a DN", "dn", dn, "error", err)
		return gwclient.DottedDN(dn)
	}
	return s.remember(u)
}

// dnOf resolves a user id from a device to a DN, asking the server
// (getdetails resolves user ids, auth attributes, dotted ids and DNs)
// when the session does not know it.
func (s *session) dnOf(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", sdk.Errorf(sdk.ReasonInvalidArgument, "groupwise: empty user id")
	}
	s.mu.Lock()
	dn, ok := s.dns[strings.ToLower(id)]
	s.mu.Unlock()
	if ok {
		return dn, nil
	}
	u, err := s.client.GetDetails(ctx, id)
	if err != nil {
		return "", requestError(err)
	}
	s.remember(u)
	return u.DN, nil
}

// learnContacts looks up the contacts the login response carried no
// details for, so that the snapshot shows their user ids and presence.
func (s *session) learnContacts(ctx context.Context) {
	for _, ct := range s.client.ContactList().Contacts {
		if ct.Details.DN != "" {
			s.remember(ct.Details)
			continue
		}
		s.idOf(ctx, ct.DN)
	}
}

// presenceChanged records p as dn's presence and reports whether it
// differs from what the device was last told. A user who signs on is
// announced twice (at login and by the client's first setstatus); the
// device hears it once.
func (s *session) presenceChanged(dn string, p sdk.PresenceEvent) bool {
	key := strings.ToLower(dn)
	s.mu.Lock()
	defer s.mu.Unlock()
	last, known := s.seen[key]
	s.seen[key] = p
	return !known || last != p
}

// contact converts a contact-list entry; the device learns the contact's
// presence from it.
func (s *session) contact(ctx context.Context, ct gwclient.Contact) sdk.Contact {
	u := ct.Details
	if u.DN == "" {
		u, _ = s.client.User(ct.DN)
	}
	c := sdk.Contact{UserID: s.idOf(ctx, ct.DN), DisplayName: ct.DisplayName, FolderID: folderID(ct.FolderID),
		Status: sdkStatus(u.Status), Note: u.StatusText}
	s.presenceChanged(ct.DN, sdk.PresenceEvent{UserID: c.UserID, Status: c.Status, Note: c.Note})
	if c.DisplayName == "" {
		c.DisplayName = u.FullName
	}
	return c
}

// snapshot is the session's contact list and presence as the client
// knows it now.
func (s *session) snapshot(ctx context.Context) sdk.Snapshot {
	self := s.client.Self()
	snap := sdk.Snapshot{
		Self:    sdk.Contact{UserID: s.self, DisplayName: self.FullName, Status: sdkStatus(self.Status), Note: self.StatusText},
		Folders: []sdk.Folder{{ID: folderID(0), Name: s.rootFolder}},
	}
	list := s.client.ContactList()
	for _, f := range list.Folders {
		snap.Folders = append(snap.Folders, sdk.Folder{ID: folderID(f.ID), Name: f.Name})
	}
	for _, ct := range list.Contacts {
		snap.Contacts = append(snap.Contacts, s.contact(ctx, ct))
	}
	return snap
}
