package stproto

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBuddyList is wrapped by buddy-list text syntax errors.
var ErrBuddyList = errors.New("stproto: malformed buddy list")

// BuddyListVersion is the version line libpurple writes.
const BuddyListVersion = "3.1.3"

// Buddy group types.
const (
	GroupNormal  byte = '2'
	GroupDynamic byte = '3' // a directory (NAB) group
)

// Buddy user types.
const (
	BuddyNormal   byte = '1'
	BuddyExternal byte = '2'
)

// BuddyList is the stored buddy list (storage key 0, spec §5.4).
type BuddyList struct {
	Version string // "MAJ.MIN.MIC"; "" formats as BuddyListVersion
	Groups  []BuddyGroup
}

// BuddyGroup is a group of the buddy list.
type BuddyGroup struct {
	ID    string
	Type  byte // GroupNormal or GroupDynamic; 0 formats as GroupNormal
	Alias string
	Open  bool
	Users []BuddyUser
}

// BuddyUser is one buddy.
type BuddyUser struct {
	ID    string
	Type  byte // BuddyNormal or BuddyExternal; 0 formats as BuddyNormal
	Name  string
	Alias string
}

// buddyField writes spaces as ';', as meanwhile does.
func buddyField(s string) string { return strings.ReplaceAll(s, " ", ";") }

// plainField reads ';' back as a space.
func plainField(s string) string { return strings.ReplaceAll(s, ";", " ") }

// String formats the list with CRLF line ends.
func (l BuddyList) String() string {
	var b strings.Builder
	v := l.Version
	if v == "" {
		v = BuddyListVersion
	}
	b.WriteString("Version=" + v + "\r\n")
	for _, g := range l.Groups {
		t := g.Type
		if t == 0 {
			t = GroupNormal
		}
		oc := "C"
		if g.Open {
			oc = "O"
		}
		b.WriteString("G " + buddyField(g.ID))
		b.WriteByte(t)
		b.WriteString(" " + buddyField(g.Alias) + " " + oc + "\r\n")
		for _, u := range g.Users {
			ut := u.Type
			if ut == 0 {
				ut = BuddyNormal
			}
			b.WriteString("U " + buddyField(u.ID))
			b.WriteByte(ut)
			b.WriteString(":: " + buddyField(u.Name) + "," + buddyField(u.Alias) + "\r\n")
		}
	}
	return b.String()
}

// ParseBuddyList parses the buddy-list text. Lines may end in CR, LF or
// CRLF; empty lines and lines of unknown kinds are skipped as meanwhile
// does, but malformed version, group and user lines are errors, and so is
// a user before the first group.
func ParseBuddyList(text string) (BuddyList, error) {
	var l BuddyList
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\r' || r == '\n' })
	for i, line := range lines {
		var err error
		switch line[0] {
		case 'V':
			v, ok := strings.CutPrefix(line, "Version=")
			if !ok || strings.Count(v, ".") != 2 {
				err = errors.New("bad version line")
			}
			l.Version = v
		case 'G':
			var g BuddyGroup
			g, err = parseBuddyGroup(line)
			if err == nil {
				l.Groups = append(l.Groups, g)
			}
		case 'U':
			if len(l.Groups) == 0 {
				err = errors.New("user before the first group")
				break
			}
			var u BuddyUser
			u, err = parseBuddyUser(line)
			if err == nil {
				g := &l.Groups[len(l.Groups)-1]
				g.Users = append(g.Users, u)
			}
		}
		if err != nil {
			return BuddyList{}, fmt.Errorf("%w: line %d: %v", ErrBuddyList, i+1, err)
		}
	}
	return l, nil
}

// parseBuddyGroup parses "G <id><t> <alias> <O|C>".
func parseBuddyGroup(line string) (BuddyGroup, error) {
	f := strings.SplitN(line, " ", 4)
	if len(f) != 4 || f[0] != "G" || len(f[1]) < 2 || f[3] == "" {
		return BuddyGroup{}, errors.New("bad group line")
	}
	id := f[1]
	return BuddyGroup{
		ID:    plainField(id[:len(id)-1]),
		Type:  id[len(id)-1],
		Alias: plainField(f[2]),
		Open:  f[3][0] == 'O',
	}, nil
}

// parseBuddyUser parses "U <id><t>:: <name>,<alias>".
func parseBuddyUser(line string) (BuddyUser, error) {
	rest, ok := strings.CutPrefix(line, "U ")
	if !ok {
		return BuddyUser{}, errors.New("bad user line")
	}
	idt, names, ok := strings.Cut(rest, ":: ")
	if !ok {
		// "U id1::" with nothing after it
		idt, ok = strings.CutSuffix(rest, "::")
		if !ok {
			return BuddyUser{}, errors.New("user line without '::'")
		}
	}
	if len(idt) < 2 {
		return BuddyUser{}, errors.New("user line without an id")
	}
	u := BuddyUser{ID: plainField(idt[:len(idt)-1]), Type: idt[len(idt)-1]}
	if i := strings.LastIndexByte(names, ','); i >= 0 {
		u.Name, u.Alias = plainField(names[:i]), plainField(names[i+1:])
	} else {
		u.Name = plainField(names)
	}
	return u, nil
}
