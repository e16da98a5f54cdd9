package sametime

import (
	"context"
	"slices"
	"strings"

	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sdk"
)

// defaultGroup is the buddy group a contact goes to when the device names
// none and the list has no group yet (libpurple's "Buddies").
const defaultGroup = "Buddies"

// buddyIDs lists every buddy of l once, in list order.
func buddyIDs(l stproto.BuddyList) []string {
	var ids []string
	seen := map[string]bool{}
	for _, g := range l.Groups {
		for _, u := range g.Users {
			if u.ID != "" && !seen[u.ID] {
				seen[u.ID] = true
				ids = append(ids, u.ID)
			}
		}
	}
	return ids
}

// snapshot is the session's contact list with presence. Each buddy group
// is a folder; a buddy listed in several groups appears once, in the first.
func (s *session) snapshot() sdk.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := sdk.Snapshot{Self: sdk.Contact{UserID: s.self.UserID, DisplayName: s.self.UserName,
		Status: s.status.Status, Note: s.status.Note, AcceptsFiles: true}}
	seen := map[string]bool{}
	for _, g := range s.buddies.Groups {
		snap.Folders = append(snap.Folders, sdk.Folder{ID: g.ID, Name: groupName(g)})
		for _, u := range g.Users {
			if u.ID != "" && !seen[u.ID] {
				seen[u.ID] = true
				snap.Contacts = append(snap.Contacts, s.buddyContactLocked(u, g.ID))
			}
		}
	}
	return snap
}

func groupName(g stproto.BuddyGroup) string {
	if g.Alias != "" {
		return g.Alias
	}
	return g.ID
}

// buddyContactLocked describes a buddy with what is known of its presence.
func (s *session) buddyContactLocked(u stproto.BuddyUser, folder string) sdk.Contact {
	p := s.presence[u.ID]
	c := sdk.Contact{UserID: u.ID, FolderID: folder, Status: sdk.StatusUnknown, Note: p.note, AcceptsFiles: p.files}
	if p.known {
		c.Status = p.status
	}
	for _, name := range []string{u.Alias, u.Name, p.name, u.ID} {
		if name != "" {
			c.DisplayName = name
			break
		}
	}
	return c
}

// contactLocked describes the buddy with the user id, if it is one.
func (s *session) contactLocked(userID string) (sdk.Contact, bool) {
	g, i := findBuddy(s.buddies, userID)
	if g < 0 {
		return sdk.Contact{}, false
	}
	grp := s.buddies.Groups[g]
	return s.buddyContactLocked(grp.Users[i], grp.ID), true
}

// findBuddy returns the group and position of the user's first entry, or
// -1. User ids compare case-insensitively, as the server does.
func findBuddy(l stproto.BuddyList, userID string) (group, index int) {
	for gi, g := range l.Groups {
		for ui, u := range g.Users {
			if strings.EqualFold(u.ID, userID) {
				return gi, ui
			}
		}
	}
	return -1, -1
}

// cloneList deep-copies a buddy list so that an edit can be discarded.
func cloneList(l stproto.BuddyList) stproto.BuddyList {
	out := stproto.BuddyList{Version: l.Version, Groups: make([]stproto.BuddyGroup, len(l.Groups))}
	for i, g := range l.Groups {
		g.Users = slices.Clone(g.Users)
		out.Groups[i] = g
	}
	return out
}

// withoutBuddy removes every entry of the user and returns the first one.
func withoutBuddy(l *stproto.BuddyList, userID string) (stproto.BuddyUser, bool) {
	var first stproto.BuddyUser
	found := false
	for gi := range l.Groups {
		g := &l.Groups[gi]
		g.Users = slices.DeleteFunc(g.Users, func(u stproto.BuddyUser) bool {
			if !strings.EqualFold(u.ID, userID) {
				return false
			}
			if !found {
				first, found = u, true
			}
			return true
		})
	}
	return first, found
}

// addToGroup appends u to the group with the id, creating the group when
// the list has none of that id. An empty id means the first group.
func addToGroup(l *stproto.BuddyList, groupID string, u stproto.BuddyUser) string {
	if groupID == "" {
		if len(l.Groups) > 0 {
			groupID = l.Groups[0].ID
		} else {
			groupID = defaultGroup
		}
	}
	for gi := range l.Groups {
		if l.Groups[gi].ID == groupID {
			l.Groups[gi].Users = append(l.Groups[gi].Users, u)
			return groupID
		}
	}
	l.Groups = append(l.Groups, stproto.BuddyGroup{ID: groupID, Type: stproto.GroupNormal, Alias: groupID, Open: true,
		Users: []stproto.BuddyUser{u}})
	return groupID
}

// editBuddies applies change to a copy of the buddy list, saves it on the
// server and only then makes it the session's list.
func (s *session) editBuddies(ctx context.Context, change func(l *stproto.BuddyList) error) error {
	s.edit.Lock()
	defer s.edit.Unlock()
	s.mu.Lock()
	l := cloneList(s.buddies)
	s.mu.Unlock()
	if err := change(&l); err != nil {
		return err
	}
	if err := s.client.SaveBuddyList(ctx, l); err != nil {
		return requestError("save buddy list", err, s.limit)
	}
	s.mu.Lock()
	s.buddies = l
	s.mu.Unlock()
	return nil
}

// resolveUser looks a user up in the server's directory, as libpurple does
// before adding a buddy, and returns the canonical id and name.
func (s *session) resolveUser(ctx context.Context, query string) (stproto.ResolveMatch, error) {
	resp, err := s.client.Resolve(ctx, stproto.ResolveFirst|stproto.ResolveCheckUsers, query)
	if err != nil {
		return stproto.ResolveMatch{}, requestError("resolve", err, s.limit)
	}
	for _, r := range resp.Results {
		for _, m := range r.Matches {
			if m.Type == stproto.ResolveMatchUser && m.ID != "" {
				return m, nil
			}
		}
	}
	return stproto.ResolveMatch{}, sdk.Errorf(sdk.ReasonNotFound, "sametime: no user %q in the directory", query)
}

// AddContact implements sdk.ContactManager: the user is looked up in the
// directory, added to the buddy group named by FolderID (created if
// needed; the first group if empty), saved and watched. An existing entry
// of the user is replaced.
func (b *Backend) AddContact(ctx context.Context, sessionID string, c sdk.Contact) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	if c.UserID == "" {
		return sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: add contact: no user id")
	}
	match, err := s.resolveUser(ctx, c.UserID)
	if err != nil {
		return err
	}
	var folder string
	err = s.editBuddies(ctx, func(l *stproto.BuddyList) error {
		withoutBuddy(l, match.ID)
		folder = addToGroup(l, c.FolderID, stproto.BuddyUser{ID: match.ID, Type: stproto.BuddyNormal,
			Name: match.Name, Alias: c.DisplayName})
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	contact := s.buddyContactLocked(stproto.BuddyUser{ID: match.ID, Name: match.Name, Alias: c.DisplayName}, folder)
	s.mu.Unlock()
	s.emit(sdk.ContactEvent{Change: sdk.ContactAdded, Contact: contact})
	// The presence follows as an event once the server answers the watch.
	if err := s.client.Watch(ctx, match.ID); err != nil {
		s.log.Warn("watching a new contact", "error", err)
	}
	return nil
}

// RemoveContact implements sdk.ContactManager: every entry of the user
// leaves the buddy list and the user is no longer watched.
func (b *Backend) RemoveContact(ctx context.Context, sessionID, userID string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	var contact sdk.Contact
	err = s.editBuddies(ctx, func(l *stproto.BuddyList) error {
		s.mu.Lock()
		c, ok := s.contactLocked(userID)
		s.mu.Unlock()
		if !ok {
			return sdk.Errorf(sdk.ReasonNotFound, "sametime: %q is not a contact", userID)
		}
		contact = c
		withoutBuddy(l, userID)
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.client.Unwatch(ctx, contact.UserID); err != nil {
		s.log.Warn("unwatching a removed contact", "error", err)
	}
	s.mu.Lock()
	delete(s.presence, contact.UserID)
	s.mu.Unlock()
	s.emit(sdk.ContactEvent{Change: sdk.ContactRemoved, Contact: contact})
	return nil
}

// MoveContact implements sdk.ContactManager: the user's entries become one
// entry in the group folderID (created if needed).
func (b *Backend) MoveContact(ctx context.Context, sessionID, userID, folderID string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	if folderID == "" {
		return sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: move contact: no folder")
	}
	var moved stproto.BuddyUser
	err = s.editBuddies(ctx, func(l *stproto.BuddyList) error {
		u, ok := withoutBuddy(l, userID)
		if !ok {
			return sdk.Errorf(sdk.ReasonNotFound, "sametime: %q is not a contact", userID)
		}
		moved = u
		addToGroup(l, folderID, u)
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	contact := s.buddyContactLocked(moved, folderID)
	s.mu.Unlock()
	s.emit(sdk.ContactEvent{Change: sdk.ContactMoved, Contact: contact})
	return nil
}
