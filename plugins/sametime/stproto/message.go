package stproto

import "fmt"

// HeaderSize is the size of a message header without attributes.
const HeaderSize = 8

// Message is one protocol message: the header fields and a typed body.
type Message struct {
	// Options holds the header option bits. Marshal sets OptHasAttribs
	// when Attribs is non-empty; an empty attribute block is written
	// only if the caller set the bit.
	Options Options
	// Channel is the channel id; 0 is the master channel (also for
	// CHANNEL_CREATE, whose new id is in the body).
	Channel uint32
	// Attribs is the header attribute block (present only with
	// OptHasAttribs; meanwhile never sends one and ignores it).
	Attribs []byte
	Body    Body
}

// Type returns the message type of the body.
func (m *Message) Type() MessageType { return m.Body.MessageType() }

// Body is the type-specific part of a message. It is implemented by the
// body types of this package only.
type Body interface {
	MessageType() MessageType
	encode(e *Encoder)
	decode(d *Decoder)
}

// Marshal encodes the message (header and body) without the frame length.
func (m *Message) Marshal() ([]byte, error) { return m.AppendMarshal(nil) }

// AppendMarshal appends the encoded message to dst.
func (m *Message) AppendMarshal(dst []byte) ([]byte, error) {
	if m.Body == nil {
		return dst, fmt.Errorf("stproto: marshal: message without body: %w", ErrMalformed)
	}
	e := NewEncoder(dst)
	opts := m.Options
	if len(m.Attribs) > 0 {
		opts |= OptHasAttribs
	}
	e.U16(uint16(m.Body.MessageType()))
	e.U16(uint16(opts))
	e.U32(m.Channel)
	if opts&OptHasAttribs != 0 {
		e.Opaque(m.Attribs)
	}
	m.Body.encode(e)
	if err := e.Err(); err != nil {
		return dst, fmt.Errorf("stproto: marshal %s: %w", m.Body.MessageType(), err)
	}
	return e.Bytes(), nil
}

// MarshalFrame encodes the message with its u32 length prefix.
func (m *Message) MarshalFrame() ([]byte, error) {
	b, err := m.AppendMarshal(make([]byte, 4, 64))
	if err != nil {
		return nil, err
	}
	putFrameLength(b)
	return b, nil
}

// Unmarshal decodes one message (without the frame length). Trailing bytes
// after the last field are ignored, as meanwhile does; unknown message
// types decode to *Unknown.
func Unmarshal(b []byte) (*Message, error) {
	d := NewDecoder(b)
	t := MessageType(d.U16("header.type"))
	m := &Message{Options: Options(d.U16("header.options")), Channel: d.U32("header.channel")}
	if m.Options&OptHasAttribs != 0 {
		m.Attribs = d.Opaque("header.attribs")
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	m.Body = newBody(t)
	m.Body.decode(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("stproto: decode %s: %w", t, err)
	}
	return m, nil
}

func newBody(t MessageType) Body {
	switch t {
	case TypeHandshake:
		return &Handshake{}
	case TypeHandshakeAck:
		return &HandshakeAck{}
	case TypeLogin:
		return &Login{}
	case TypeLoginAck:
		return &LoginAck{}
	case TypeLoginRedirect:
		return &LoginRedirect{}
	case TypeLoginContinue:
		return &LoginContinue{}
	case TypeChannelCreate:
		return &ChannelCreate{}
	case TypeChannelAccept:
		return &ChannelAccept{}
	case TypeChannelSend:
		return &ChannelSend{}
	case TypeChannelDestroy:
		return &ChannelDestroy{}
	case TypeSetUserStatus:
		return &SetUserStatus{}
	case TypeSetPrivacyList:
		return &SetPrivacyList{}
	case TypeSenseService:
		return &SenseService{}
	case TypeAdmin:
		return &Admin{}
	case TypeAnnounce:
		return &Announce{}
	}
	return &Unknown{Type: t}
}

// Unknown is the body of a message type this package does not know.
// meanwhile logs and ignores such messages.
type Unknown struct {
	Type MessageType
	Data []byte
}

// MessageType implements Body.
func (u *Unknown) MessageType() MessageType { return u.Type }
func (u *Unknown) encode(e *Encoder)        { e.Raw(u.Data) }
func (u *Unknown) decode(d *Decoder)        { u.Data = d.Rest() }

// Handshake (0x0000, C→S) opens the session (spec §2.1).
type Handshake struct {
	Major, Minor uint16
	Channel      uint32 // repeats the header channel (0)
	SrvrCalcAddr uint32
	LoginType    LoginType
	LoclCalcAddr uint32
	// Present only if Major >= 0x1e and Minor >= 0x1d.
	UnknownA  uint16
	UnknownB  uint32
	LocalHost string
}

// NewHandshake returns the HANDSHAKE stock libpurple sends (spec §9.1).
func NewHandshake() *Handshake {
	return &Handshake{Major: VersionMajor, Minor: VersionMinor, LoginType: LoginTypeMeanwhile, UnknownA: 0x0100}
}

func (h *Handshake) hasExtension() bool { return h.Major >= 0x001e && h.Minor >= 0x001d }

// MessageType implements Body.
func (*Handshake) MessageType() MessageType { return TypeHandshake }

func (h *Handshake) encode(e *Encoder) {
	e.U16(h.Major)
	e.U16(h.Minor)
	e.U32(h.Channel)
	e.U32(h.SrvrCalcAddr)
	e.U16(uint16(h.LoginType))
	e.U32(h.LoclCalcAddr)
	if h.hasExtension() {
		e.U16(h.UnknownA)
		e.U32(h.UnknownB)
		e.String(h.LocalHost)
	}
}

func (h *Handshake) decode(d *Decoder) {
	h.Major = d.U16("major")
	h.Minor = d.U16("minor")
	h.Channel = d.U32("channel")
	h.SrvrCalcAddr = d.U32("srvrcalc_addr")
	h.LoginType = LoginType(d.U16("login_type"))
	h.LoclCalcAddr = d.U32("loclcalc_addr")
	if h.hasExtension() {
		h.UnknownA = d.U16("unknown_a")
		h.UnknownB = d.U32("unknown_b")
		h.LocalHost = d.String("local_host")
	}
}

// HandshakeAck (0x8000, S→C) answers the handshake (spec §2.2).
type HandshakeAck struct {
	Major, Minor uint16
	SrvrCalcAddr uint32 // the client's IPv4 as seen by the server
	// Present only if Major >= 0x1e and Minor > 0x18.
	Magic  uint32
	PubKey []byte // server DH public value; 64 bytes selects RC2/128 login
}

func (h *HandshakeAck) hasKey() bool { return h.Major >= 0x001e && h.Minor > 0x0018 }

// MessageType implements Body.
func (*HandshakeAck) MessageType() MessageType { return TypeHandshakeAck }

func (h *HandshakeAck) encode(e *Encoder) {
	e.U16(h.Major)
	e.U16(h.Minor)
	e.U32(h.SrvrCalcAddr)
	if h.hasKey() {
		e.U32(h.Magic)
		e.Opaque(h.PubKey)
	}
}

func (h *HandshakeAck) decode(d *Decoder) {
	h.Major = d.U16("major")
	h.Minor = d.U16("minor")
	h.SrvrCalcAddr = d.U32("srvrcalc_addr")
	// A missing magic and key (old servers) means RC2/40 login.
	if h.hasKey() && d.Len() > 0 {
		h.Magic = d.U32("magic")
		h.PubKey = d.Opaque("pubkey")
	}
}

// Login (0x0001, C→S) carries the credentials (spec §2.3). Note that
// AuthData precedes AuthType on the wire.
type Login struct {
	LoginType LoginType
	UserID    string
	AuthData  []byte
	AuthType  AuthType
}

// MessageType implements Body.
func (*Login) MessageType() MessageType { return TypeLogin }

func (l *Login) encode(e *Encoder) {
	e.U16(uint16(l.LoginType))
	e.String(l.UserID)
	e.Opaque(l.AuthData)
	e.U16(uint16(l.AuthType))
	e.U16(0) // always appended by meanwhile
}

func (l *Login) decode(d *Decoder) {
	l.LoginType = LoginType(d.U16("login_type"))
	l.UserID = d.String("user_id")
	l.AuthData = d.Opaque("auth_data")
	l.AuthType = AuthType(d.U16("auth_type"))
}

// LoginAck (0x8001, S→C) completes the login (spec §2.4).
type LoginAck struct {
	Login   LoginInfo
	Unknown uint16
	Privacy PrivacyInfo
	Status  UserStatus
}

// MessageType implements Body.
func (*LoginAck) MessageType() MessageType { return TypeLoginAck }

func (l *LoginAck) encode(e *Encoder) {
	l.Login.Encode(e)
	e.U16(l.Unknown)
	l.Privacy.Encode(e)
	l.Status.Encode(e)
}

func (l *LoginAck) decode(d *Decoder) {
	l.Login = DecodeLoginInfo(d)
	l.Unknown = d.U16("unknown")
	l.Privacy = DecodePrivacyInfo(d)
	l.Status = DecodeUserStatus(d)
}

// LoginRedirect (0x0018, S→C) sends the client to another server (spec §3.7).
type LoginRedirect struct {
	Host     string
	ServerID string
}

// MessageType implements Body.
func (*LoginRedirect) MessageType() MessageType { return TypeLoginRedirect }

func (l *LoginRedirect) encode(e *Encoder) {
	e.String(l.Host)
	e.String(l.ServerID)
}

func (l *LoginRedirect) decode(d *Decoder) {
	l.Host = d.String("host")
	l.ServerID = d.String("server_id")
}

// LoginContinue (0x0016, C→S) forces the login on the current server after
// a redirect. It has no body.
type LoginContinue struct{}

// MessageType implements Body.
func (*LoginContinue) MessageType() MessageType { return TypeLoginContinue }
func (*LoginContinue) encode(*Encoder)          {}
func (*LoginContinue) decode(*Decoder)          {}

// createTrailer is written after the encryption block of create/accept.
func encodeTrailer(e *Encoder) {
	e.U32(0)
	e.U32(0)
	e.U16(0x0007)
}

// EncryptOffer is the encryption block of CHANNEL_CREATE.
type EncryptOffer struct {
	Mode  EncryptPolicy
	Items []EncryptItem // ciphers offered; with Extra and Flag zero too, enc_block is omitted
	Extra uint16        // meanwhile: the mode again
	Flag  bool
}

func (o *EncryptOffer) encode(e *Encoder) {
	e.U16(uint16(o.Mode))
	if len(o.Items) > 0 || o.Extra != 0 || o.Flag {
		inner := NewEncoder(nil)
		inner.U32(uint32(len(o.Items)))
		for i := range o.Items {
			o.Items[i].Encode(inner)
		}
		inner.U16(o.Extra)
		inner.Bool(o.Flag)
		e.Opaque(inner.Bytes())
	}
}

// decodeEncryptOffer follows meanwhile: after enc_mode read u32 L; only
// if L >= 7 is it an enc_block of L bytes (otherwise it is the trailer).
func decodeEncryptOffer(d *Decoder) EncryptOffer {
	var o EncryptOffer
	if d.Len() < 2 {
		return o // older writers stop before the encryption block
	}
	o.Mode = EncryptPolicy(d.U16("enc_mode"))
	if d.Len() < 4 {
		return o
	}
	l := d.U32("enc_block.len")
	if l < 7 {
		return o
	}
	if uint64(l) > uint64(d.Len()) {
		d.Fail("enc_block", ErrTruncated)
		return o
	}
	b := d.Sub("enc_block", int(l))
	n := b.Count("enc_block.count", 6)
	if n > 0 {
		o.Items = make([]EncryptItem, 0, n)
	}
	for i := 0; i < n && b.Err() == nil; i++ {
		o.Items = append(o.Items, DecodeEncryptItem(b))
	}
	o.Extra = b.U16("enc_block.extra")
	o.Flag = b.Bool("enc_block.flag")
	if err := b.Err(); err != nil {
		d.Fail("enc_block", err)
	}
	return o
}

// EncryptAnswer is the encryption block of CHANNEL_ACCEPT.
type EncryptAnswer struct {
	Mode  EncryptPolicy // PolicyNone, PolicyRC2_40 or PolicyRC2_128
	Item  *EncryptItem  // chosen cipher; nil = unencrypted channel
	Extra uint16        // the creator's offered mode
	Flag  bool
}

func (a *EncryptAnswer) encode(e *Encoder) {
	e.U16(uint16(a.Mode))
	if a.Item != nil {
		inner := NewEncoder(nil)
		a.Item.Encode(inner)
		inner.U16(a.Extra)
		inner.Bool(a.Flag)
		e.Opaque(inner.Bytes())
	}
}

// decodeEncryptAnswer follows meanwhile: after enc_mode read u32 L; if
// L >= 6 the block holds an item, if L >= 9 also extra and flag.
func decodeEncryptAnswer(d *Decoder) EncryptAnswer {
	var a EncryptAnswer
	if d.Len() < 2 {
		return a
	}
	a.Mode = EncryptPolicy(d.U16("enc_mode"))
	if d.Len() < 4 {
		return a
	}
	l := d.U32("enc_block.len")
	if l < 6 {
		return a
	}
	if uint64(l) > uint64(d.Len()) {
		d.Fail("enc_block", ErrTruncated)
		return a
	}
	b := d.Sub("enc_block", int(l))
	it := DecodeEncryptItem(b)
	if l >= 9 {
		a.Extra = b.U16("enc_block.extra")
		a.Flag = b.Bool("enc_block.flag")
	}
	if err := b.Err(); err != nil {
		d.Fail("enc_block", err)
		return a
	}
	a.Item = &it
	return a
}

// Encrypted reports whether the answer selects a cipher.
func (a *EncryptAnswer) Encrypted() bool { return a.Mode != PolicyNone && a.Item != nil }

// ChannelCreate (0x0002) opens a channel (spec §2.7). The header channel
// is 0; the new channel's id is ID.
type ChannelCreate struct {
	Reserved  uint32
	ID        uint32
	Target    IDBlock
	Service   ServiceID
	ProtoType uint32
	ProtoVer  uint32
	Options   uint32
	Addtl     []byte     // service-specific, see the service payload types
	Creator   *LoginInfo // set by the server when it relays or originates a create
	Encrypt   EncryptOffer
}

// MessageType implements Body.
func (*ChannelCreate) MessageType() MessageType { return TypeChannelCreate }

func (c *ChannelCreate) encode(e *Encoder) {
	e.U32(c.Reserved)
	e.U32(c.ID)
	c.Target.Encode(e)
	e.U32(uint32(c.Service))
	e.U32(c.ProtoType)
	e.U32(c.ProtoVer)
	e.U32(c.Options)
	e.Opaque(c.Addtl)
	e.Bool(c.Creator != nil)
	if c.Creator != nil {
		c.Creator.Encode(e)
	}
	c.Encrypt.encode(e)
	encodeTrailer(e)
}

func (c *ChannelCreate) decode(d *Decoder) {
	c.Reserved = d.U32("reserved")
	c.ID = d.U32("channel_id")
	c.Target = DecodeIDBlock(d)
	c.Service = ServiceID(d.U32("service"))
	c.ProtoType = d.U32("proto_type")
	c.ProtoVer = d.U32("proto_ver")
	c.Options = d.U32("options")
	c.Addtl = d.Opaque("addtl")
	if d.Bool("creator_flag") {
		li := DecodeLoginInfo(d)
		c.Creator = &li
	}
	c.Encrypt = decodeEncryptOffer(d)
}

// ChannelAccept (0x0006) accepts a channel; the header channel is its id
// (spec §2.8).
type ChannelAccept struct {
	Service   ServiceID
	ProtoType uint32
	ProtoVer  uint32
	Addtl     []byte
	Acceptor  *LoginInfo
	Encrypt   EncryptAnswer
}

// MessageType implements Body.
func (*ChannelAccept) MessageType() MessageType { return TypeChannelAccept }

func (c *ChannelAccept) encode(e *Encoder) {
	e.U32(uint32(c.Service))
	e.U32(c.ProtoType)
	e.U32(c.ProtoVer)
	e.Opaque(c.Addtl)
	e.Bool(c.Acceptor != nil)
	if c.Acceptor != nil {
		c.Acceptor.Encode(e)
	}
	c.Encrypt.encode(e)
	encodeTrailer(e)
}

func (c *ChannelAccept) decode(d *Decoder) {
	c.Service = ServiceID(d.U32("service"))
	c.ProtoType = d.U32("proto_type")
	c.ProtoVer = d.U32("proto_ver")
	c.Addtl = d.Opaque("addtl")
	if d.Bool("acceptor_flag") {
		li := DecodeLoginInfo(d)
		c.Acceptor = &li
	}
	c.Encrypt = decodeEncryptAnswer(d)
}

// ChannelSend (0x0004) carries service data on a channel (spec §2.9).
// With header option OptEncrypt, Data is ciphertext.
type ChannelSend struct {
	Type uint16 // service-specific message type
	Data []byte
}

// MessageType implements Body.
func (*ChannelSend) MessageType() MessageType { return TypeChannelSend }

func (c *ChannelSend) encode(e *Encoder) {
	e.U16(c.Type)
	e.Opaque(c.Data)
}

func (c *ChannelSend) decode(d *Decoder) {
	c.Type = d.U16("msg_type")
	c.Data = d.Opaque("data")
}

// ChannelDestroy (0x0003) closes a channel, or with channel 0 the whole
// session (spec §2.10).
type ChannelDestroy struct {
	Reason ReasonError
	Data   []byte
}

// MessageType implements Body.
func (*ChannelDestroy) MessageType() MessageType { return TypeChannelDestroy }

func (c *ChannelDestroy) encode(e *Encoder) {
	e.U32(uint32(c.Reason))
	e.Opaque(c.Data)
}

func (c *ChannelDestroy) decode(d *Decoder) {
	c.Reason = ReasonError(d.U32("reason"))
	c.Data = d.Opaque("data")
}

// SetUserStatus (0x0009) announces (C→S) or confirms (S→C) the own status.
type SetUserStatus struct{ Status UserStatus }

// MessageType implements Body.
func (*SetUserStatus) MessageType() MessageType { return TypeSetUserStatus }
func (s *SetUserStatus) encode(e *Encoder)      { s.Status.Encode(e) }
func (s *SetUserStatus) decode(d *Decoder)      { s.Status = DecodeUserStatus(d) }

// SetPrivacyList (0x000b) sets or reports the privacy list.
type SetPrivacyList struct{ Privacy PrivacyInfo }

// MessageType implements Body.
func (*SetPrivacyList) MessageType() MessageType { return TypeSetPrivacyList }
func (s *SetPrivacyList) encode(e *Encoder)      { s.Privacy.Encode(e) }
func (s *SetPrivacyList) decode(d *Decoder)      { s.Privacy = DecodePrivacyInfo(d) }

// SenseService (0x0011) asks for (C→S) or announces (S→C) a service.
type SenseService struct{ Service ServiceID }

// MessageType implements Body.
func (*SenseService) MessageType() MessageType { return TypeSenseService }
func (s *SenseService) encode(e *Encoder)      { e.U32(uint32(s.Service)) }
func (s *SenseService) decode(d *Decoder)      { s.Service = ServiceID(d.U32("service")) }

// Admin (0x0019, S→C) is an administrator broadcast.
type Admin struct{ Text string }

// MessageType implements Body.
func (*Admin) MessageType() MessageType { return TypeAdmin }
func (a *Admin) encode(e *Encoder)      { e.String(a.Text) }
func (a *Admin) decode(d *Decoder)      { a.Text = d.String("text") }

// Announce (0x0022) is an announcement to users and groups (spec §2.11).
type Announce struct {
	Sender     *LoginInfo // set by the server when delivering
	Unknown    uint16
	MayReply   bool
	Text       string
	Recipients []string // "@U <userid>" or "@G <group>"
}

// MessageType implements Body.
func (*Announce) MessageType() MessageType { return TypeAnnounce }

func (a *Announce) encode(e *Encoder) {
	e.Bool(a.Sender != nil)
	if a.Sender != nil {
		a.Sender.Encode(e)
	}
	e.U16(a.Unknown)
	inner := NewEncoder(nil)
	inner.Bool(a.MayReply)
	inner.String(a.Text)
	if err := inner.Err(); err != nil && e.err == nil {
		e.err = err
	}
	e.Opaque(inner.Bytes())
	e.U32(uint32(len(a.Recipients)))
	for _, r := range a.Recipients {
		e.String(r)
	}
}

func (a *Announce) decode(d *Decoder) {
	if d.Bool("sender_present") {
		li := DecodeLoginInfo(d)
		a.Sender = &li
	}
	a.Unknown = d.U16("unknown")
	inner := NewDecoder(d.Opaque("inner"))
	a.MayReply = inner.Bool("inner.may_reply")
	a.Text = inner.String("inner.text")
	if d.Err() == nil && inner.Err() != nil {
		d.Fail("inner", inner.Err())
	}
	n := d.Count("recipients.count", 2)
	if n > 0 {
		a.Recipients = make([]string, 0, n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		a.Recipients = append(a.Recipients, d.String("recipient"))
	}
}
