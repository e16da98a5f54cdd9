package stproto

import "fmt"

// LoginInfo describes a logged-in user (spec §1.5).
type LoginInfo struct {
	LoginID   string // unique id of the login session, assigned by the server
	LoginType LoginType
	UserID    string
	UserName  string // display name
	Community string // "" = same community
	Full      bool   // Desc, IPAddr and ServerID follow only if set
	Desc      string
	IPAddr    uint32
	ServerID  string
}

// Encode appends the LoginInfo to e.
func (l *LoginInfo) Encode(e *Encoder) {
	e.String(l.LoginID)
	e.U16(uint16(l.LoginType))
	e.String(l.UserID)
	e.String(l.UserName)
	e.String(l.Community)
	e.Bool(l.Full)
	if l.Full {
		e.String(l.Desc)
		e.U32(l.IPAddr)
		e.String(l.ServerID)
	}
}

// DecodeLoginInfo reads a LoginInfo from d.
func DecodeLoginInfo(d *Decoder) LoginInfo {
	var l LoginInfo
	l.LoginID = d.String("login.login_id")
	l.LoginType = LoginType(d.U16("login.login_type"))
	l.UserID = d.String("login.user_id")
	l.UserName = d.String("login.user_name")
	l.Community = d.String("login.community")
	l.Full = d.Bool("login.full")
	if l.Full {
		l.Desc = d.String("login.desc")
		l.IPAddr = d.U32("login.ip_addr")
		l.ServerID = d.String("login.server_id")
	}
	return l
}

// UserItem is one entry of a privacy list.
type UserItem struct {
	Full      bool // Name follows only if set
	ID        string
	Community string
	Name      string
}

// PrivacyInfo is the privacy list. Deny=true blocks the listed users (an
// empty deny list allows everyone); Deny=false allows only them.
type PrivacyInfo struct {
	Deny  bool
	Users []UserItem
}

// Encode appends the PrivacyInfo to e.
func (p *PrivacyInfo) Encode(e *Encoder) {
	e.Bool(p.Deny)
	e.U32(uint32(len(p.Users)))
	for _, u := range p.Users {
		e.Bool(u.Full)
		e.String(u.ID)
		e.String(u.Community)
		if u.Full {
			e.String(u.Name)
		}
	}
}

// DecodePrivacyInfo reads a PrivacyInfo from d.
func DecodePrivacyInfo(d *Decoder) PrivacyInfo {
	var p PrivacyInfo
	p.Deny = d.Bool("privacy.deny")
	n := d.Count("privacy.count", 5) // bool + two empty strings
	if n > 0 {
		p.Users = make([]UserItem, 0, n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		var u UserItem
		u.Full = d.Bool("privacy.user.full")
		u.ID = d.String("privacy.user.id")
		u.Community = d.String("privacy.user.community")
		if u.Full {
			u.Name = d.String("privacy.user.name")
		}
		p.Users = append(p.Users, u)
	}
	return p
}

// UserStatus is a presence state with the idle time and a status message.
type UserStatus struct {
	Status StatusCode
	Time   uint32 // seconds since the epoch when the user went idle; 0 = not idle
	Desc   string
}

// Encode appends the UserStatus to e.
func (s *UserStatus) Encode(e *Encoder) {
	e.U16(uint16(s.Status))
	e.U32(s.Time)
	e.String(s.Desc)
}

// DecodeUserStatus reads a UserStatus from d.
func DecodeUserStatus(d *Decoder) UserStatus {
	return UserStatus{
		Status: StatusCode(d.U16("status.status")),
		Time:   d.U32("status.time"),
		Desc:   d.String("status.desc"),
	}
}

// IDBlock names a user in a community ("" = the local one).
type IDBlock struct {
	User      string
	Community string
}

// Encode appends the IDBlock to e.
func (b *IDBlock) Encode(e *Encoder) {
	e.String(b.User)
	e.String(b.Community)
}

// DecodeIDBlock reads an IDBlock from d.
func DecodeIDBlock(d *Decoder) IDBlock {
	return IDBlock{User: d.String("id.user"), Community: d.String("id.community")}
}

// AwareType is the kind of an awareness id.
type AwareType uint16

// Awareness id kinds.
const (
	AwareUser   AwareType = 0x0002
	AwareGroup  AwareType = 0x0003
	AwareServer AwareType = 0x0008
)

// AwareIDBlock names a user, group or server in the awareness service.
type AwareIDBlock struct {
	Type      AwareType
	User      string
	Community string
}

// Encode appends the AwareIDBlock to e.
func (b *AwareIDBlock) Encode(e *Encoder) {
	e.U16(uint16(b.Type))
	e.String(b.User)
	e.String(b.Community)
}

// DecodeAwareIDBlock reads an AwareIDBlock from d.
func DecodeAwareIDBlock(d *Decoder) AwareIDBlock {
	return AwareIDBlock{
		Type:      AwareType(d.U16("aware_id.type")),
		User:      d.String("aware_id.user"),
		Community: d.String("aware_id.community"),
	}
}

// AwareSnapshot is one presence record sent by the server.
type AwareSnapshot struct {
	ID     AwareIDBlock
	Group  string
	Online bool
	// The fields below are present only when Online.
	AltID  string
	Status UserStatus
	Name   string
}

// Encode appends the snapshot; the leading block length counts the whole
// record including its own 4 bytes, which meanwhile parses correctly.
func (s *AwareSnapshot) Encode(e *Encoder) {
	start := len(e.buf)
	e.U32(0)
	s.ID.Encode(e)
	e.String(s.Group)
	e.Bool(s.Online)
	if s.Online {
		e.String(s.AltID)
		s.Status.Encode(e)
		e.String(s.Name)
	}
	n := uint32(len(e.buf) - start)
	e.buf[start] = byte(n >> 24)
	e.buf[start+1] = byte(n >> 16)
	e.buf[start+2] = byte(n >> 8)
	e.buf[start+3] = byte(n)
}

// DecodeAwareSnapshot reads a snapshot. The block length is taken as the
// record length including the length field; if it reaches beyond the
// parsed fields the decoder skips forward to it, never backwards.
func DecodeAwareSnapshot(d *Decoder) AwareSnapshot {
	var s AwareSnapshot
	start := d.Offset()
	blockLen := d.U32("snapshot.block_len")
	s.ID = DecodeAwareIDBlock(d)
	s.Group = d.String("snapshot.group")
	s.Online = d.Bool("snapshot.online")
	if s.Online {
		s.AltID = d.String("snapshot.alt_id")
		s.Status = DecodeUserStatus(d)
		s.Name = d.String("snapshot.name")
	}
	if d.Err() != nil {
		return s
	}
	if end := uint64(start) + uint64(blockLen); end > uint64(d.Offset()) {
		skip := end - uint64(d.Offset())
		if skip > uint64(d.Len()) {
			d.Fail("snapshot.block_len", fmt.Errorf("record of %d bytes: %w", blockLen, ErrTruncated))
			return s
		}
		d.Raw("snapshot.padding", int(skip))
	}
	return s
}

// EncryptItem offers or names one cipher in a channel's encryption block.
type EncryptItem struct {
	Cipher CipherID
	Info   []byte // RC2/128: the DH public value of the party that wrote it
}

// Encode appends the item to e.
func (it *EncryptItem) Encode(e *Encoder) {
	e.U16(uint16(it.Cipher))
	e.Opaque(it.Info)
}

// DecodeEncryptItem reads an EncryptItem from d.
func DecodeEncryptItem(d *Decoder) EncryptItem {
	return EncryptItem{Cipher: CipherID(d.U16("enc_item.cipher")), Info: d.Opaque("enc_item.info")}
}
