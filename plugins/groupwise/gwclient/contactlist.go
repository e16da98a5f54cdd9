package gwclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// contactState is the client's copy of the contact list, kept current from
// the login response and the answers to contact-list requests.
type contactState struct {
	folders  []Folder
	contacts []Contact
}

// listChange is what a contact-list change response announced.
type listChange struct {
	addedFolders    []Folder
	addedContacts   []Contact
	removedContacts []Contact
}

// ContactList returns a snapshot of the contact list, with each contact's
// Details taken from the client's current user records.
func (c *Client) ContactList() ContactList {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := ContactList{
		Folders:  slices.Clone(c.contacts.folders),
		Contacts: slices.Clone(c.contacts.contacts),
	}
	for i := range cl.Contacts {
		if u, ok := c.users[dnKey(cl.Contacts[i].DN)]; ok {
			cl.Contacts[i].Details = u
		}
	}
	slices.SortStableFunc(cl.Folders, func(a, b Folder) int { return a.Sequence - b.Sequence })
	slices.SortStableFunc(cl.Contacts, func(a, b Contact) int { return a.Sequence - b.Sequence })
	return cl
}

// loadContactList replaces the contact list with the login response's
// NM_A_FA_CONTACT_LIST: folders first, then contacts whose folder exists
// (libpurple drops the others).
func (c *Client) loadContactList(list gwproto.Fields) {
	var st contactState
	for _, f := range list.FindAll(gwproto.TagFaFolder) {
		if f.Type.IsList() {
			st.folders = append(st.folders, parseFolder(f.Children))
		}
	}
	for _, f := range list.FindAll(gwproto.TagFaContact) {
		if !f.Type.IsList() {
			continue
		}
		ct := parseContact(f.Children)
		if ct.FolderID != 0 && !slices.ContainsFunc(st.folders, func(fo Folder) bool { return fo.ID == ct.FolderID }) {
			c.log.Debug("dropping contact in unknown folder", "contact", ct.ID, "folder", ct.FolderID)
			continue
		}
		c.cacheUser(ct.Details)
		st.contacts = append(st.contacts, ct)
	}
	c.mu.Lock()
	c.contacts = st
	c.mu.Unlock()
}

// applyChanges applies a contact-list change response (spec §4.16): the
// NM_A_FA_CONTACT_LIST, possibly inside NM_A_FA_RESULTS, whose
// NM_A_FA_CONTACT / NM_A_FA_FOLDER entries carry method Add or Delete.
func (c *Client) applyChanges(resp *gwproto.Response) listChange {
	list, ok := resp.Fields.List(gwproto.TagFaContactList)
	if !ok {
		if res, ok := resp.Fields.List(gwproto.TagFaResults); ok {
			list, _ = res.List(gwproto.TagFaContactList)
		}
	}
	var ch listChange
	for i := range list {
		f := &list[i]
		if !f.Type.IsList() || f.Children.Find(gwproto.TagSzObjectID) == nil {
			continue
		}
		switch {
		case strings.EqualFold(f.Tag, gwproto.TagFaFolder) && f.Method == gwproto.MethodAdd:
			fo := parseFolder(f.Children)
			c.mu.Lock()
			c.contacts.putFolder(fo)
			c.mu.Unlock()
			ch.addedFolders = append(ch.addedFolders, fo)
		case strings.EqualFold(f.Tag, gwproto.TagFaContact) && f.Method == gwproto.MethodAdd:
			ct := parseContact(f.Children)
			if ct.DN == "" {
				continue // libpurple needs the DN to add a contact
			}
			c.cacheUser(ct.Details)
			c.mu.Lock()
			c.contacts.putContact(ct)
			c.mu.Unlock()
			ch.addedContacts = append(ch.addedContacts, ct)
		case strings.EqualFold(f.Tag, gwproto.TagFaContact) && f.Method == gwproto.MethodDelete:
			id := atoiField(f.Children, gwproto.TagSzObjectID)
			c.mu.Lock()
			if ct, ok := c.contacts.removeContact(id); ok {
				ch.removedContacts = append(ch.removedContacts, ct)
			}
			c.mu.Unlock()
		}
	}
	return ch
}

func (st *contactState) putFolder(fo Folder) {
	for i := range st.folders {
		if st.folders[i].ID == fo.ID {
			st.folders[i] = fo
			return
		}
	}
	st.folders = append(st.folders, fo)
}

func (st *contactState) putContact(ct Contact) {
	for i := range st.contacts {
		if st.contacts[i].ID == ct.ID {
			st.contacts[i] = ct
			return
		}
	}
	st.contacts = append(st.contacts, ct)
}

func (st *contactState) removeContact(id int) (Contact, bool) {
	for i := range st.contacts {
		if st.contacts[i].ID == id {
			ct := st.contacts[i]
			st.contacts = slices.Delete(st.contacts, i, i+1)
			return ct, true
		}
	}
	return Contact{}, false
}

func (st *contactState) contact(id int) (Contact, bool) {
	for _, ct := range st.contacts {
		if ct.ID == id {
			return ct, true
		}
	}
	return Contact{}, false
}

func (st *contactState) folder(id int) (Folder, bool) {
	for _, fo := range st.folders {
		if fo.ID == id {
			return fo, true
		}
	}
	return Folder{}, false
}

func (st *contactState) folderNamed(name string) (Folder, bool) {
	for _, fo := range st.folders {
		if fo.Name == name {
			return fo, true
		}
	}
	return Folder{}, false
}

func (c *Client) lookupContact(cmd string, id int) (Contact, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct, ok := c.contacts.contact(id)
	if !ok {
		return Contact{}, fmt.Errorf("gwclient: %s: contact %d: %w", cmd, id, ErrUnknownItem)
	}
	return ct, nil
}

func (c *Client) lookupFolder(cmd string, id int) (Folder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fo, ok := c.contacts.folder(id)
	if !ok {
		return Folder{}, fmt.Errorf("gwclient: %s: folder %d: %w", cmd, id, ErrUnknownItem)
	}
	return fo, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// CreateFolder creates a sub-folder of the root folder. If the server says
// the folder exists and the client knows a folder of that name, that folder
// is returned, as libpurple does.
func (c *Client) CreateFolder(ctx context.Context, name string) (Folder, error) {
	resp, err := c.call(ctx, gwproto.CmdCreateFolder, gwproto.Fields{
		gwproto.NewString(gwproto.TagSzParentID, "0"),
		gwproto.NewString(gwproto.TagSzDisplayName, name),
		gwproto.NewString(gwproto.TagSzSequenceNumber, "-1"),
	})
	if errors.Is(err, ErrDuplicateFolder) {
		c.mu.Lock()
		fo, ok := c.contacts.folderNamed(name)
		c.mu.Unlock()
		if ok {
			return fo, nil
		}
	}
	if err != nil {
		return Folder{}, err
	}
	ch := c.applyChanges(resp)
	for _, fo := range ch.addedFolders {
		if fo.Name == name {
			return fo, nil
		}
	}
	return Folder{}, fmt.Errorf("gwclient: %s: no folder in answer: %w", gwproto.CmdCreateFolder, ErrBadResponse)
}

// DeleteFolder deletes folder id. The client also forgets the contacts it
// held.
func (c *Client) DeleteFolder(ctx context.Context, id int) error {
	if _, err := c.lookupFolder(gwproto.CmdDeleteContact, id); err != nil {
		return err
	}
	resp, err := c.call(ctx, gwproto.CmdDeleteContact, gwproto.Fields{
		gwproto.NewString(gwproto.TagSzObjectID, itoa(id)),
	})
	if err != nil {
		return err
	}
	c.applyChanges(resp)
	c.mu.Lock()
	c.contacts.folders = slices.DeleteFunc(c.contacts.folders, func(fo Folder) bool { return fo.ID == id })
	c.contacts.contacts = slices.DeleteFunc(c.contacts.contacts, func(ct Contact) bool { return ct.FolderID == id })
	c.mu.Unlock()
	return nil
}

// CreateContact adds the user named by key (a DN, dotted id or user id) to
// folder folderID (0 = root) with an optional alias, and returns the new
// contact with its details.
func (c *Client) CreateContact(ctx context.Context, folderID int, key, alias string) (Contact, error) {
	// libpurple always sends the key as NM_A_SZ_USERID (spec §4.11).
	fs := gwproto.Fields{
		gwproto.NewString(gwproto.TagSzParentID, itoa(folderID)),
		gwproto.NewString(gwproto.TagSzUserID, key),
	}
	if alias != "" {
		fs = append(fs, gwproto.NewString(gwproto.TagSzDisplayName, alias))
	}
	resp, err := c.call(ctx, gwproto.CmdCreateContact, fs)
	if err != nil {
		return Contact{}, err
	}
	ch := c.applyChanges(resp)
	if len(ch.addedContacts) == 0 {
		return Contact{}, fmt.Errorf("gwclient: %s: no contact in answer: %w", gwproto.CmdCreateContact, ErrBadResponse)
	}
	ct := ch.addedContacts[0]
	c.learnUser(ct.DN)
	if u, ok := c.User(ct.DN); ok {
		ct.Details = u
	}
	return ct, nil
}

// DeleteContact removes contact id from its folder.
func (c *Client) DeleteContact(ctx context.Context, id int) error {
	ct, err := c.lookupContact(gwproto.CmdDeleteContact, id)
	if err != nil {
		return err
	}
	resp, err := c.call(ctx, gwproto.CmdDeleteContact, gwproto.Fields{
		gwproto.NewString(gwproto.TagSzParentID, itoa(ct.FolderID)),
		gwproto.NewString(gwproto.TagSzObjectID, itoa(id)),
	})
	if err != nil {
		return err
	}
	c.applyChanges(resp)
	c.mu.Lock()
	c.contacts.removeContact(id)
	c.mu.Unlock()
	return nil
}

// contactFields are a contact's current fields as libpurple sends them in
// movecontact and updateitem (all type UTF8).
func contactFields(ct Contact, displayName string) gwproto.Fields {
	fs := gwproto.Fields{
		gwproto.NewString(gwproto.TagSzObjectID, itoa(ct.ID)),
		gwproto.NewString(gwproto.TagSzParentID, itoa(ct.FolderID)),
		gwproto.NewString(gwproto.TagSzSequenceNumber, itoa(ct.Sequence)),
	}
	if displayName != "" {
		fs = append(fs, gwproto.NewString(gwproto.TagSzDisplayName, displayName))
	}
	if ct.DN != "" {
		fs = append(fs, gwproto.NewString(gwproto.TagSzDN, ct.DN))
	}
	return fs
}

// MoveContact moves contact id into folder folderID and returns the contact
// as the server re-created it (it may get a new id).
func (c *Client) MoveContact(ctx context.Context, id, folderID int) (Contact, error) {
	ct, err := c.lookupContact(gwproto.CmdMoveContact, id)
	if err != nil {
		return Contact{}, err
	}
	resp, err := c.call(ctx, gwproto.CmdMoveContact, gwproto.Fields{
		gwproto.NewArray(gwproto.TagFaContactList,
			gwproto.Field{Tag: gwproto.TagFaContact, Type: gwproto.TypeArray, Method: gwproto.MethodDelete,
				Children: contactFields(ct, ct.DisplayName)}),
		gwproto.NewString(gwproto.TagSzSequenceNumber, "-1"),
		gwproto.NewString(gwproto.TagSzParentID, itoa(folderID)),
	})
	if err != nil {
		return Contact{}, err
	}
	ch := c.applyChanges(resp)
	for _, moved := range ch.addedContacts {
		if moved.FolderID == folderID && sameDN(moved.DN, ct.DN) {
			if u, ok := c.User(moved.DN); ok {
				moved.Details = u
			}
			return moved, nil
		}
	}
	return Contact{}, fmt.Errorf("gwclient: %s: moved contact not in answer: %w", gwproto.CmdMoveContact, ErrBadResponse)
}

// RenameContact changes the alias of contact id.
func (c *Client) RenameContact(ctx context.Context, id int, name string) error {
	ct, err := c.lookupContact(gwproto.CmdUpdateItem, id)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, gwproto.CmdUpdateItem, gwproto.Fields{
		gwproto.NewArray(gwproto.TagFaContactList,
			gwproto.Field{Tag: gwproto.TagFaContact, Type: gwproto.TypeArray, Method: gwproto.MethodDelete,
				Children: contactFields(ct, ct.DisplayName)},
			gwproto.Field{Tag: gwproto.TagFaContact, Type: gwproto.TypeArray, Method: gwproto.MethodAdd,
				Children: contactFields(ct, name)}),
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	ct.DisplayName = name
	c.contacts.putContact(ct)
	c.mu.Unlock()
	return nil
}

// RenameFolder changes the name of folder id.
func (c *Client) RenameFolder(ctx context.Context, id int, name string) error {
	fo, err := c.lookupFolder(gwproto.CmdUpdateItem, id)
	if err != nil {
		return err
	}
	folderFields := func(name string) gwproto.Fields {
		return gwproto.Fields{
			gwproto.NewString(gwproto.TagSzObjectID, itoa(fo.ID)),
			gwproto.NewString(gwproto.TagSzParentID, "0"),
			gwproto.NewString(gwproto.TagSzType, "1"),
			gwproto.NewString(gwproto.TagSzSequenceNumber, itoa(fo.Sequence)),
			gwproto.NewString(gwproto.TagSzDisplayName, name),
		}
	}
	_, err = c.call(ctx, gwproto.CmdUpdateItem, gwproto.Fields{
		gwproto.NewArray(gwproto.TagFaContactList,
			gwproto.Field{Tag: gwproto.TagFaFolder, Type: gwproto.TypeArray, Method: gwproto.MethodDelete,
				Children: folderFields(fo.Name)},
			gwproto.Field{Tag: gwproto.TagFaFolder, Type: gwproto.TypeArray, Method: gwproto.MethodAdd,
				Children: folderFields(name)}),
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	fo.Name = name
	c.contacts.putFolder(fo)
	c.mu.Unlock()
	return nil
}
