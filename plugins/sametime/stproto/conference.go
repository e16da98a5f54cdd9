package stproto

// Conference CHANNEL_SEND types (spec §5.6). Conference sends are never
// encrypted.
const (
	ConfMsgWelcome uint16 = 0x0000
	ConfMsgInvite  uint16 = 0x0001
	ConfMsgJoin    uint16 = 0x0002
	ConfMsgPart    uint16 = 0x0003
	ConfMsgMessage uint16 = 0x0004
)

// ConfCreateAddtl is the addtl of a client's conference CHANNEL_CREATE:
// string name, string title, u32 0.
type ConfCreateAddtl struct {
	Name  string
	Title string
}

// Marshal encodes the addtl.
func (a ConfCreateAddtl) Marshal() ([]byte, error) {
	return encodeWith("conference create addtl", func(e *Encoder) {
		e.String(a.Name)
		e.String(a.Title)
		e.U32(0)
	})
}

// UnmarshalConfCreateAddtl decodes a client's conference create addtl.
func UnmarshalConfCreateAddtl(b []byte) (ConfCreateAddtl, error) {
	return decodeWith("conference create addtl", b, func(d *Decoder) ConfCreateAddtl {
		return ConfCreateAddtl{Name: d.String("name"), Title: d.String("title")}
	})
}

// ConfInvitation is the addtl of a server CHANNEL_CREATE that invites the
// client: u32 0, name, title, u32 0, LoginInfo inviter, u32 0, invite text.
type ConfInvitation struct {
	Name    string
	Title   string
	Inviter LoginInfo
	Text    string
}

// Marshal encodes the invitation.
func (a ConfInvitation) Marshal() ([]byte, error) {
	return encodeWith("conference invitation", func(e *Encoder) {
		e.U32(0)
		e.String(a.Name)
		e.String(a.Title)
		e.U32(0)
		a.Inviter.Encode(e)
		e.U32(0)
		e.String(a.Text)
	})
}

// UnmarshalConfInvitation decodes an invitation addtl.
func UnmarshalConfInvitation(b []byte) (ConfInvitation, error) {
	return decodeWith("conference invitation", b, func(d *Decoder) ConfInvitation {
		var a ConfInvitation
		d.U32("reserved")
		a.Name = d.String("name")
		a.Title = d.String("title")
		d.U32("reserved2")
		a.Inviter = DecodeLoginInfo(d)
		d.U32("reserved3")
		a.Text = d.String("text")
		return a
	})
}

// ConfMember is a conference participant.
type ConfMember struct {
	ID    uint16
	Login LoginInfo
}

// minConfMember is the smallest encoded ConfMember (id + empty LoginInfo).
const minConfMember = 2 + 2 + 2 + 2 + 2 + 2 + 1

// ConfWelcome (S→C) lists the members after a join: name, title, u16 0,
// u32 0, u32 count, count × (u16 member id, LoginInfo).
type ConfWelcome struct {
	Name    string
	Title   string
	Members []ConfMember
}

// Marshal encodes the welcome.
func (w ConfWelcome) Marshal() ([]byte, error) {
	return encodeWith("conference welcome", func(e *Encoder) {
		e.String(w.Name)
		e.String(w.Title)
		e.U16(0)
		e.U32(0)
		e.U32(uint32(len(w.Members)))
		for i := range w.Members {
			e.U16(w.Members[i].ID)
			w.Members[i].Login.Encode(e)
		}
	})
}

// UnmarshalConfWelcome decodes a welcome.
func UnmarshalConfWelcome(b []byte) (ConfWelcome, error) {
	return decodeWith("conference welcome", b, func(d *Decoder) ConfWelcome {
		var w ConfWelcome
		w.Name = d.String("name")
		w.Title = d.String("title")
		d.U16("reserved")
		d.U32("reserved2")
		n := d.Count("count", minConfMember)
		if n > 0 {
			w.Members = make([]ConfMember, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			id := d.U16("member_id")
			w.Members = append(w.Members, ConfMember{ID: id, Login: DecodeLoginInfo(d)})
		}
		return w
	})
}

// MarshalConfJoin encodes the server's JOIN (u16 member id, LoginInfo).
// A client's JOIN has an empty payload.
func MarshalConfJoin(m ConfMember) ([]byte, error) {
	return encodeWith("conference join", func(e *Encoder) {
		e.U16(m.ID)
		m.Login.Encode(e)
	})
}

// UnmarshalConfJoin decodes the server's JOIN.
func UnmarshalConfJoin(b []byte) (ConfMember, error) {
	return decodeWith("conference join", b, func(d *Decoder) ConfMember {
		id := d.U16("member_id")
		return ConfMember{ID: id, Login: DecodeLoginInfo(d)}
	})
}

// MarshalConfPart encodes PART (u16 member id).
func MarshalConfPart(memberID uint16) ([]byte, error) {
	return encodeWith("conference part", func(e *Encoder) { e.U16(memberID) })
}

// UnmarshalConfPart decodes PART.
func UnmarshalConfPart(b []byte) (uint16, error) {
	return decodeWith("conference part", b, func(d *Decoder) uint16 { return d.U16("member_id") })
}

// ConfInvite (C→S) invites a user: IdBlock who, u16 0, u32 0, string text,
// string who.user.
type ConfInvite struct {
	Who  IDBlock
	Text string
}

// Marshal encodes the invite.
func (i ConfInvite) Marshal() ([]byte, error) {
	return encodeWith("conference invite", func(e *Encoder) {
		i.Who.Encode(e)
		e.U16(0)
		e.U32(0)
		e.String(i.Text)
		e.String(i.Who.User)
	})
}

// UnmarshalConfInvite decodes an invite.
func UnmarshalConfInvite(b []byte) (ConfInvite, error) {
	return decodeWith("conference invite", b, func(d *Decoder) ConfInvite {
		var i ConfInvite
		i.Who = DecodeIDBlock(d)
		d.U16("reserved")
		d.U32("reserved2")
		i.Text = d.String("text")
		d.String("who_again")
		return i
	})
}

// ConfText is a conference MESSAGE. Sent by a client it is kind 1 text or
// kind 2 typing; delivered by the server it also carries the member id.
type ConfText struct {
	MemberID uint16 // server → client only
	Kind     IMKind // IMKindText or IMKindData (typing)
	Text     string
	Typing   bool
}

// MarshalClient encodes the client form: u32 1, text; or u32 2, u32 1,
// u32 !typing, opaque "".
func (c ConfText) MarshalClient() ([]byte, error) {
	return encodeWith("conference message", func(e *Encoder) {
		c.encodeBody(e, true)
	})
}

// MarshalServer encodes the server form: u16 member id, u32 0, u32 kind,
// then text or u32 1, u32 !typing.
func (c ConfText) MarshalServer() ([]byte, error) {
	return encodeWith("conference message", func(e *Encoder) {
		e.U16(c.MemberID)
		e.U32(0)
		c.encodeBody(e, false)
	})
}

func (c ConfText) encodeBody(e *Encoder, client bool) {
	e.U32(uint32(c.Kind))
	switch c.Kind {
	case IMKindText:
		e.String(c.Text)
	case IMKindData:
		e.U32(uint32(IMDataTyping))
		if c.Typing {
			e.U32(0)
		} else {
			e.U32(1)
		}
		if client {
			e.Opaque(nil)
		}
	}
}

func decodeConfBody(d *Decoder, c *ConfText) {
	c.Kind = IMKind(d.U32("kind"))
	switch c.Kind {
	case IMKindText:
		c.Text = d.String("text")
	case IMKindData:
		typ := d.U32("data_type")
		sub := d.U32("subtype")
		c.Typing = IMDataType(typ) == IMDataTyping && sub == 0
	}
}

// UnmarshalConfTextClient decodes a client's MESSAGE.
func UnmarshalConfTextClient(b []byte) (ConfText, error) {
	return decodeWith("conference message", b, func(d *Decoder) ConfText {
		var c ConfText
		decodeConfBody(d, &c)
		return c
	})
}

// UnmarshalConfTextServer decodes a server's MESSAGE.
func UnmarshalConfTextServer(b []byte) (ConfText, error) {
	return decodeWith("conference message", b, func(d *Decoder) ConfText {
		var c ConfText
		c.MemberID = d.U16("member_id")
		d.U32("reserved")
		decodeConfBody(d, &c)
		return c
	})
}
