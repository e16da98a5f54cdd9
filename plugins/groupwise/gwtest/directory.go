package gwtest

import (
	"strconv"
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// Per-user bounds on server-side state, so that a client cannot grow the
// server without limit.
const (
	maxContacts    = 1000
	maxFolders     = 100
	maxConferences = 1000
	maxNameLen     = 256
)

// directory holds every account; it is guarded by Server.mu.
type directory struct {
	accounts map[string]*account // by lower-case id
	dns      map[string]*account // by lower-case DN
	dotted   map[string]*account // by lower-case dotted DN
}

// account is a user with its server-side state.
type account struct {
	user       User
	dn         string
	session    *session // nil while offline
	status     gwproto.Status
	statusText string
	autoReply  string
	folders    []*folder
	contacts   []*contact
	nextID     int
	confs      int // conferences the user takes part in
}

type folder struct {
	id, seq int
	name    string
}

type contact struct {
	id, parent, seq int
	name            string
	dn              string
}

func newDirectory(users []User) *directory {
	d := &directory{accounts: map[string]*account{}, dns: map[string]*account{}, dotted: map[string]*account{}}
	for _, u := range users {
		a := &account{user: u, dn: u.DN, status: gwproto.StatusAvailable, nextID: 1}
		if a.dn == "" {
			a.dn = DefaultDN(u.ID)
		}
		d.accounts[strings.ToLower(u.ID)] = a
		d.dns[strings.ToLower(a.dn)] = a
		d.dotted[strings.ToLower(dotted(a.dn))] = a
	}
	// contact lists refer to accounts, so build them in a second pass
	for _, a := range d.accounts {
		for _, id := range a.user.Contacts {
			a.addInitialContact(d, 0, id)
		}
		for _, f := range a.user.Folders {
			fo := a.addFolder(f.Name)
			for _, id := range f.Contacts {
				a.addInitialContact(d, fo.id, id)
			}
		}
	}
	return d
}

func (a *account) addInitialContact(d *directory, parent int, id string) {
	peer := d.byID(id)
	if peer == nil || peer == a || a.findContact(parent, peer.dn) != nil {
		return
	}
	a.addContact(parent, peer.displayName(), peer.dn)
}

// dotted converts a typed DN to libpurple's dotted form:
// cn=bob,ou=users,o=acme → bob.users.acme.
func dotted(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		if _, v, ok := strings.Cut(p, "="); ok {
			parts[i] = v
		}
	}
	return strings.Join(parts, ".")
}

func (d *directory) byID(id string) *account { return d.accounts[strings.ToLower(id)] }

// resolve finds a user by any key libpurple may send: typed DN, dotted
// display id, login id or auth attribute, compared case-insensitively.
func (d *directory) resolve(key string) *account {
	k := strings.ToLower(strings.TrimSpace(key))
	if a := d.dns[k]; a != nil {
		return a
	}
	if a := d.accounts[k]; a != nil {
		return a
	}
	return d.dotted[k]
}

func (a *account) displayName() string {
	if a.user.FullName != "" {
		return a.user.FullName
	}
	return a.user.ID
}

// online reports whether the user is logged in or is an echo peer.
func (a *account) online() bool { return a.session != nil || a.user.Echo }

// echoing reports whether the server answers for the user.
func (a *account) echoing() bool { return a.session == nil && a.user.Echo }

// presence is the status others see.
func (a *account) presence() gwproto.Status {
	switch {
	case a.echoing():
		return gwproto.StatusAvailable
	case a.session == nil:
		return gwproto.StatusOffline
	}
	return a.status
}

// record returns the user record fields (spec §3) others see.
func (a *account) record() gwproto.Fields {
	fs := gwproto.Fields{
		gwproto.NewDN(gwproto.TagSzDN, a.dn),
		gwproto.NewString(gwproto.TagSzAuthAttribute, a.user.ID),
		gwproto.NewString(gwproto.AttrCN, a.user.ID),
	}
	if given, sur, ok := strings.Cut(a.user.FullName, " "); ok {
		fs = append(fs, gwproto.NewString(gwproto.AttrGivenName, given), gwproto.NewString(gwproto.AttrSurname, sur))
	}
	fs = append(fs,
		gwproto.NewString(gwproto.AttrFullName, a.displayName()),
		gwproto.NewString(gwproto.TagSzStatus, a.presence().Text()))
	if a.online() && a.statusText != "" {
		fs = append(fs, gwproto.NewString(gwproto.TagSzMessageBody, a.statusText))
	}
	return fs
}

func (a *account) newID() int {
	id := a.nextID
	a.nextID++
	return id
}

func (a *account) addFolder(name string) *folder {
	f := &folder{id: a.newID(), seq: len(a.folders), name: name}
	a.folders = append(a.folders, f)
	return f
}

func (a *account) addContact(parent int, name, dn string) *contact {
	seq := 0
	for _, c := range a.contacts {
		if c.parent == parent && c.seq >= seq {
			seq = c.seq + 1
		}
	}
	c := &contact{id: a.newID(), parent: parent, seq: seq, name: name, dn: dn}
	a.contacts = append(a.contacts, c)
	return c
}

func (a *account) folderByID(id int) *folder {
	for _, f := range a.folders {
		if f.id == id {
			return f
		}
	}
	return nil
}

func (a *account) folderByName(name string) *folder {
	for _, f := range a.folders {
		if strings.EqualFold(f.name, name) {
			return f
		}
	}
	return nil
}

func (a *account) contactByID(id int) *contact {
	for _, c := range a.contacts {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (a *account) findContact(parent int, dn string) *contact {
	for _, c := range a.contacts {
		if c.parent == parent && strings.EqualFold(c.dn, dn) {
			return c
		}
	}
	return nil
}

// hasContact reports whether dn is anywhere in a's contact list.
func (a *account) hasContact(dn string) bool {
	for _, c := range a.contacts {
		if strings.EqualFold(c.dn, dn) {
			return true
		}
	}
	return false
}

func (a *account) removeContact(c *contact) {
	for i, x := range a.contacts {
		if x == c {
			a.contacts = append(a.contacts[:i], a.contacts[i+1:]...)
			return
		}
	}
}

func (a *account) removeFolder(f *folder) {
	for i, x := range a.folders {
		if x == f {
			a.folders = append(a.folders[:i], a.folders[i+1:]...)
			break
		}
	}
	kept := a.contacts[:0]
	for _, c := range a.contacts {
		if c.parent != f.id {
			kept = append(kept, c)
		}
	}
	a.contacts = kept
}

func itoa(n int) string { return strconv.Itoa(n) }

// folderFields are a folder's contact-list fields.
func (f *folder) fields() gwproto.Fields {
	return gwproto.Fields{
		gwproto.NewString(gwproto.TagSzObjectID, itoa(f.id)),
		gwproto.NewString(gwproto.TagSzParentID, "0"),
		gwproto.NewString(gwproto.TagSzSequenceNumber, itoa(f.seq)),
		gwproto.NewString(gwproto.TagSzDisplayName, f.name),
	}
}

// contactFields are a contact's contact-list fields; with details, the
// contact's user record is added as NM_A_FA_USER_DETAILS.
func (c *contact) fields(d *directory, details bool) gwproto.Fields {
	fs := gwproto.Fields{
		gwproto.NewString(gwproto.TagSzObjectID, itoa(c.id)),
		gwproto.NewString(gwproto.TagSzParentID, itoa(c.parent)),
		gwproto.NewString(gwproto.TagSzSequenceNumber, itoa(c.seq)),
		gwproto.NewString(gwproto.TagSzDisplayName, c.name),
		gwproto.NewDN(gwproto.TagSzDN, c.dn),
	}
	if details {
		if peer := d.resolve(c.dn); peer != nil {
			fs = append(fs, gwproto.NewArray(gwproto.TagFaUserDetails, peer.record()...))
		}
	}
	return fs
}

// contactList is the NM_A_FA_CONTACT_LIST of the login response: folders
// first, then contacts with their details.
func (a *account) contactList(d *directory) gwproto.Field {
	var items gwproto.Fields
	for _, f := range a.folders {
		items = append(items, gwproto.NewArray(gwproto.TagFaFolder, f.fields()...))
	}
	for _, c := range a.contacts {
		items = append(items, gwproto.NewArray(gwproto.TagFaContact, c.fields(d, true)...))
	}
	return gwproto.NewArray(gwproto.TagFaContactList, items...)
}

// watchers returns the online users who have a as a contact.
func (d *directory) watchers(a *account) []*account {
	var out []*account
	for _, w := range d.accounts {
		if w != a && w.online() && w.hasContact(a.dn) {
			out = append(out, w)
		}
	}
	return out
}
