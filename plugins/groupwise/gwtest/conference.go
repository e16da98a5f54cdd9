package gwtest

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// conference is a server-side conversation; 1-to-1 IMs are conferences too.
type conference struct {
	guid         string
	participants []*account
	invited      []*account
}

// confKey is the part of a GUID libpurple compares (first 27 characters).
func confKey(guid string) string {
	if len(guid) > gwproto.GUIDCompareLen {
		guid = guid[:gwproto.GUIDCompareLen]
	}
	return strings.ToUpper(guid)
}

// newGUID returns a GUID whose first 27 characters are unused.
func (srv *Server) newGUID() string {
	for {
		var b [16]byte
		rand.Read(b[:])
		guid := fmt.Sprintf("[%08X-%08X-%08X-%04X-%04X]",
			binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:]),
			binary.BigEndian.Uint16(b[12:]), binary.BigEndian.Uint16(b[14:]))
		if _, taken := srv.confs[confKey(guid)]; !taken {
			return guid
		}
	}
}

func (srv *Server) conference(guid string) *conference { return srv.confs[confKey(guid)] }

func indexOf(list []*account, a *account) int {
	for i, x := range list {
		if x == a {
			return i
		}
	}
	return -1
}

func (c *conference) isParticipant(a *account) bool { return indexOf(c.participants, a) >= 0 }

func (c *conference) isInvited(a *account) bool { return indexOf(c.invited, a) >= 0 }

func (c *conference) join(a *account) {
	if i := indexOf(c.invited, a); i >= 0 {
		c.invited = append(c.invited[:i], c.invited[i+1:]...)
	}
	if !c.isParticipant(a) {
		c.participants = append(c.participants, a)
		a.confs++
	}
}

// leave removes a from the conference (as participant or invitee) and
// drops the conference once nobody is left in it.
func (srv *Server) leave(c *conference, a *account) {
	if i := indexOf(c.invited, a); i >= 0 {
		c.invited = append(c.invited[:i], c.invited[i+1:]...)
	}
	if i := indexOf(c.participants, a); i >= 0 {
		c.participants = append(c.participants[:i], c.participants[i+1:]...)
		a.confs--
	}
	if len(c.participants) == 0 {
		delete(srv.confs, confKey(c.guid))
	}
}

// others returns the participants except a.
func (c *conference) others(a *account) []*account {
	out := make([]*account, 0, len(c.participants))
	for _, p := range c.participants {
		if p != a {
			out = append(out, p)
		}
	}
	return out
}
