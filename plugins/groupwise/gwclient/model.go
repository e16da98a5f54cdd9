package gwclient

import (
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// User is a user record (spec §3): who a DN is and what their presence is.
type User struct {
	// DN is the typed distinguished name, e.g. "cn=bob,ou=users,o=acme".
	DN string
	// DisplayID is the name a client shows: the server's auth attribute
	// if it sent one, else the DN in dotted form ("bob.users.acme").
	DisplayID string
	// UserID is the CN attribute.
	UserID    string
	GivenName string
	Surname   string
	// FullName is "Full Name", or "GivenName Surname" when absent.
	FullName   string
	Status     gwproto.Status
	StatusText string
	// Info holds the extra properties of NM_A_FA_INFO_DISPLAY_ARRAY in
	// server order (telephone number, location, e-mail, …).
	Info []Property
}

// Property is one entry of a user's extra information.
type Property struct {
	Name  string
	Value string
}

// Folder is a contact-list folder. Folder 0 is the root and is implicit.
type Folder struct {
	ID       int
	Sequence int
	Name     string
}

// Contact is one entry of the contact list. The same DN may appear as
// several contacts, one per folder.
type Contact struct {
	ID       int
	FolderID int
	Sequence int
	// DisplayName is the alias the user gave the contact.
	DisplayName string
	DN          string
	// Details is the contact's user record as last known to the client;
	// its DN is empty if the server never sent details for this contact.
	Details User
}

// ContactList is the server-side buddy list: sub-folders of the root
// folder and the contacts in all folders (root included), each ordered by
// sequence number.
type ContactList struct {
	Folders  []Folder
	Contacts []Contact
}

// Privacy is the user's privacy (blocking) setting from the login response.
type Privacy struct {
	// Locked reports that the administrator does not let the user change it.
	Locked bool
	// DefaultDeny: everybody is blocked except Allow; otherwise everybody is
	// allowed except Deny.
	DefaultDeny bool
	Allow       []string
	Deny        []string
}

// DottedDN converts a typed DN to the dotted form libpurple uses as display
// id when no auth attribute is known: "cn=bob,ou=users,o=acme" →
// "bob.users.acme". A string without '=' is returned unchanged.
func DottedDN(dn string) string {
	if !strings.Contains(dn, "=") {
		return dn
	}
	parts := strings.Split(dn, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if i := strings.IndexByte(p, '='); i >= 0 {
			p = p[i+1:]
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// dnKey is the cache key of a DN: libpurple compares DNs case-insensitively.
func dnKey(dn string) string { return strings.ToLower(dn) }

// sameDN reports whether two DNs name the same user.
func sameDN(a, b string) bool { return strings.EqualFold(a, b) }

// parseUser builds a user record from a field list (the top level of the
// login response, NM_A_FA_USER_DETAILS or NM_A_FA_RESULTS).
func parseUser(fs gwproto.Fields) User {
	var u User
	u.DN, _ = fs.String(gwproto.TagSzDN)
	if f := fs.Find(gwproto.TagSzAuthAttribute); f != nil {
		if f.Type.IsList() {
			if s, ok := firstString(f.Children); ok {
				u.DisplayID = s
			}
		} else if f.Type.IsString() {
			u.DisplayID = f.Value
		}
	}
	if u.DisplayID == "" {
		u.DisplayID = DottedDN(u.DN)
	}
	u.UserID, _ = fs.String(gwproto.AttrCN)
	u.GivenName, _ = fs.String(gwproto.AttrGivenName)
	u.Surname, _ = fs.String(gwproto.AttrSurname)
	u.FullName, _ = fs.String(gwproto.AttrFullName)
	if u.FullName == "" {
		u.FullName = strings.TrimSpace(u.GivenName + " " + u.Surname)
	}
	if s, ok := fs.String(gwproto.TagSzStatus); ok {
		u.Status = gwproto.Status(atoi(s))
	}
	u.StatusText, _ = fs.String(gwproto.TagSzMessageBody)
	if info, ok := fs.List(gwproto.TagFaInfoDisplayArray); ok {
		for i := range info {
			f := &info[i]
			v, ok := f.Value, f.Type.IsString()
			if f.Type.IsList() {
				v, ok = firstString(f.Children)
			}
			if ok {
				u.Info = append(u.Info, Property{Name: f.Tag, Value: v})
			}
		}
	}
	return u
}

func firstString(fs gwproto.Fields) (string, bool) {
	for i := range fs {
		if fs[i].Type.IsString() {
			return fs[i].Value, true
		}
	}
	return "", false
}

// stringList returns the strings of a privacy list field: an MV (or array)
// of strings, or a single string.
func stringList(f *gwproto.Field) []string {
	if f == nil {
		return nil
	}
	if f.Type.IsString() {
		return []string{f.Value}
	}
	var out []string
	for i := range f.Children {
		if f.Children[i].Type.IsString() {
			out = append(out, f.Children[i].Value)
		}
	}
	return out
}

func parsePrivacy(fs gwproto.Fields) Privacy {
	var p Privacy
	for _, a := range stringList(fs.Find(gwproto.TagLockedAttrList)) {
		if strings.EqualFold(a, gwproto.TagBlocking) {
			p.Locked = true
		}
	}
	if s, ok := fs.String(gwproto.TagBlocking); ok {
		p.DefaultDeny = atoi(s) == 1
	}
	for _, f := range fs.FindAll(gwproto.TagBlockingAllowList) {
		p.Allow = append(p.Allow, stringList(f)...)
	}
	for _, f := range fs.FindAll(gwproto.TagBlockingDenyList) {
		p.Deny = append(p.Deny, stringList(f)...)
	}
	return p
}

func parseFolder(fs gwproto.Fields) Folder {
	return Folder{
		ID:       atoiField(fs, gwproto.TagSzObjectID),
		Sequence: atoiField(fs, gwproto.TagSzSequenceNumber),
		Name:     stringField(fs, gwproto.TagSzDisplayName),
	}
}

func parseContact(fs gwproto.Fields) Contact {
	c := Contact{
		ID:          atoiField(fs, gwproto.TagSzObjectID),
		FolderID:    atoiField(fs, gwproto.TagSzParentID),
		Sequence:    atoiField(fs, gwproto.TagSzSequenceNumber),
		DisplayName: stringField(fs, gwproto.TagSzDisplayName),
		DN:          stringField(fs, gwproto.TagSzDN),
	}
	if d, ok := fs.List(gwproto.TagFaUserDetails); ok {
		c.Details = parseUser(d)
		// libpurple forces the record's DN to the contact's DN.
		if c.DN != "" && c.Details.DN != c.DN {
			derived := c.Details.DisplayID == DottedDN(c.Details.DN)
			c.Details.DN = c.DN
			if derived {
				c.Details.DisplayID = DottedDN(c.DN)
			}
		}
	}
	return c
}

func stringField(fs gwproto.Fields, tag string) string {
	s, _ := fs.String(tag)
	return s
}

func atoiField(fs gwproto.Fields, tag string) int { return atoi(stringField(fs, tag)) }

// atoi parses like C atoi, as libpurple does for ids, sequence numbers,
// statuses and result codes: optional blanks and sign, leading digits,
// anything else ends the number; no digits gives 0.
func atoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (1<<31-1)/10 {
			break
		}
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}
