package groupwise

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// folderID is the id devices see for a gwclient folder id ("0" is the
// root folder).
func folderID(id int) string { return strconv.Itoa(id) }

// folder resolves a device's folder id: "" or "0" is the root folder, a
// number must name an existing folder, and anything else is a folder name,
// created on the server if the user has no folder of that name yet.
func (s *session) folder(ctx context.Context, id string) (int, error) {
	if id == "" || id == folderID(0) || id == s.rootFolder {
		return 0, nil
	}
	folders := s.client.ContactList().Folders
	if n, err := strconv.Atoi(id); err == nil {
		for _, f := range folders {
			if f.ID == n {
				return n, nil
			}
		}
		return 0, sdk.Errorf(sdk.ReasonNotFound, "groupwise: no folder %q", id)
	}
	for _, f := range folders {
		if f.Name == id {
			return f.ID, nil
		}
	}
	f, err := s.client.CreateFolder(ctx, id)
	if err != nil {
		return 0, requestError(err)
	}
	return f.ID, nil
}

// entries returns the contact-list entries of the user (one per folder
// they are in).
func (s *session) entries(ctx context.Context, userID string) ([]gwclient.Contact, error) {
	dn, err := s.dnOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []gwclient.Contact
	for _, ct := range s.client.ContactList().Contacts {
		if strings.EqualFold(ct.DN, dn) {
			out = append(out, ct)
		}
	}
	if len(out) == 0 {
		return nil, sdk.Errorf(sdk.ReasonNotFound, "groupwise: %q is not a contact", userID)
	}
	return out, nil
}

func (s *session) emitContact(ctx context.Context, change sdk.ContactChange, ct gwclient.Contact) {
	s.emit(sdk.ContactEvent{Change: change, Contact: s.contact(ctx, ct)})
}

// AddContact implements sdk.ContactManager: the user goes into the folder
// (see folder for how FolderID is read) under the display name, if any.
// Adding a contact already in that folder changes nothing.
func (b *Backend) AddContact(ctx context.Context, sessionID string, c sdk.Contact) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	dn, err := s.dnOf(ctx, c.UserID)
	if err != nil {
		return err
	}
	folder, err := s.folder(ctx, c.FolderID)
	if err != nil {
		return err
	}
	ct, err := s.client.CreateContact(ctx, folder, dn, c.DisplayName)
	if errors.Is(err, gwclient.ErrDuplicateContact) {
		return nil
	}
	if err != nil {
		return requestError(err)
	}
	if ct.Details.DN != "" {
		s.remember(ct.Details)
	}
	s.emitContact(ctx, sdk.ContactAdded, ct)
	return nil
}

// RemoveContact implements sdk.ContactManager: the user is removed from
// every folder they are in.
func (b *Backend) RemoveContact(ctx context.Context, sessionID, userID string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	entries, err := s.entries(ctx, userID)
	if err != nil {
		return err
	}
	for _, ct := range entries {
		if err := s.client.DeleteContact(ctx, ct.ID); err != nil {
			return requestError(err)
		}
		s.emitContact(ctx, sdk.ContactRemoved, ct)
	}
	return nil
}

// MoveContact implements sdk.ContactManager. A user listed in several
// folders has the first entry moved; a user already in the folder stays.
func (b *Backend) MoveContact(ctx context.Context, sessionID, userID, folderID string) error {
	s, err := b.session(sessionID)
	if err != nil {
		return err
	}
	entries, err := s.entries(ctx, userID)
	if err != nil {
		return err
	}
	folder, err := s.folder(ctx, folderID)
	if err != nil {
		return err
	}
	for _, ct := range entries {
		if ct.FolderID == folder {
			return nil
		}
	}
	moved, err := s.client.MoveContact(ctx, entries[0].ID, folder)
	if err != nil {
		return requestError(err)
	}
	s.emitContact(ctx, sdk.ContactMoved, moved)
	return nil
}
