package stproto

import "fmt"

// IMMessageType is the CHANNEL_SEND type of every IM message (spec §5.1.3).
const IMMessageType uint16 = 0x0064

// IMClientType is the feature set named in an IM channel's addtl.
type IMClientType uint32

// IM client types.
const (
	IMClientPlain         IMClientType = 0x00000001 // text + typing
	IMClientNotesBuddy    IMClientType = 0x00033453 // adds HTML, subject, MIME, timestamp
	IMClientPreConference IMClientType = 0x00000019 // place invitation
)

// IMCreateAddtl is the addtl of an IM CHANNEL_CREATE: u32 1, u32 client type.
type IMCreateAddtl struct {
	ClientType IMClientType
}

// Marshal encodes the addtl.
func (a IMCreateAddtl) Marshal() ([]byte, error) {
	return encodeWith("IM create addtl", func(e *Encoder) {
		e.U32(1)
		e.U32(uint32(a.ClientType))
	})
}

// ErrIMAddtl is wrapped when an IM addtl does not start with the u32 1 marker.
var ErrIMAddtl = fmt.Errorf("stproto: IM addtl marker is not 1: %w", ErrMalformed)

// UnmarshalIMCreateAddtl decodes an IM CHANNEL_CREATE addtl. Short input
// (meanwhile destroys with 0x80000000) and a marker other than 1
// (0x80002005) are errors.
func UnmarshalIMCreateAddtl(b []byte) (IMCreateAddtl, error) {
	return decodeWith("IM create addtl", b, func(d *Decoder) IMCreateAddtl {
		marker := d.U32("marker")
		a := IMCreateAddtl{ClientType: IMClientType(d.U32("client_type"))}
		if d.Err() == nil && marker != 1 {
			d.Fail("marker", ErrIMAddtl)
		}
		return a
	})
}

// IMAcceptAddtl is the addtl of an IM CHANNEL_ACCEPT: u32 1, u32 client
// type, u32 2, UserStatus of the acceptor.
type IMAcceptAddtl struct {
	ClientType IMClientType
	Status     UserStatus
}

// Marshal encodes the addtl.
func (a IMAcceptAddtl) Marshal() ([]byte, error) {
	return encodeWith("IM accept addtl", func(e *Encoder) {
		e.U32(1)
		e.U32(uint32(a.ClientType))
		e.U32(2)
		a.Status.Encode(e)
	})
}

// UnmarshalIMAcceptAddtl decodes an IM CHANNEL_ACCEPT addtl.
func UnmarshalIMAcceptAddtl(b []byte) (IMAcceptAddtl, error) {
	return decodeWith("IM accept addtl", b, func(d *Decoder) IMAcceptAddtl {
		d.U32("marker")
		a := IMAcceptAddtl{ClientType: IMClientType(d.U32("client_type"))}
		d.U32("marker2")
		a.Status = DecodeUserStatus(d)
		return a
	})
}

// IMKind is the first u32 of an IM message.
type IMKind uint32

// IM message kinds.
const (
	IMKindText IMKind = 0x00000001
	IMKindData IMKind = 0x00000002
)

// IMDataType is the data_type of a DATA IM message.
type IMDataType uint32

// IM data types.
const (
	IMDataTyping         IMDataType = 0x00000001 // subtype 0 = typing, else stopped
	IMDataSubject        IMDataType = 0x00000003
	IMDataHTML           IMDataType = 0x00000004
	IMDataMIME           IMDataType = 0x00000005
	IMDataTimestamp      IMDataType = 0x00000006
	IMDataInvite         IMDataType = 0x0000000a
	IMDataMultipartStart IMDataType = 0x00001388
	IMDataMultipartStop  IMDataType = 0x00001389
)

// IMMultipartSegment is the largest HTML/MIME segment meanwhile sends in
// one message; longer bodies are split between START and STOP.
const IMMultipartSegment = 2048

// IMMessage is the payload of an IM CHANNEL_SEND (type 0x0064).
type IMMessage struct {
	Kind IMKind
	Text string // Kind == IMKindText
	// Kind == IMKindData:
	DataType IMDataType
	Subtype  uint32
	Data     []byte
}

// NewIMText returns a TEXT message.
func NewIMText(text string) IMMessage { return IMMessage{Kind: IMKindText, Text: text} }

// NewIMHTML returns an HTML DATA message.
func NewIMHTML(html string) IMMessage {
	return IMMessage{Kind: IMKindData, DataType: IMDataHTML, Data: []byte(html)}
}

// NewIMTyping returns a typing notice; typing=false means "stopped typing".
func NewIMTyping(typing bool) IMMessage {
	m := IMMessage{Kind: IMKindData, DataType: IMDataTyping}
	if !typing {
		m.Subtype = 1
	}
	return m
}

// IsTyping reports whether a typing DATA message means "is typing".
func (m IMMessage) IsTyping() bool {
	return m.Kind == IMKindData && m.DataType == IMDataTyping && m.Subtype == 0
}

// Marshal encodes the message.
func (m IMMessage) Marshal() ([]byte, error) {
	return encodeWith("IM message", func(e *Encoder) {
		e.U32(uint32(m.Kind))
		switch m.Kind {
		case IMKindText:
			e.String(m.Text)
		case IMKindData:
			e.U32(uint32(m.DataType))
			e.U32(m.Subtype)
			e.Opaque(m.Data)
		}
	})
}

// UnmarshalIMMessage decodes an IM message. Unknown kinds decode with only
// Kind set.
func UnmarshalIMMessage(b []byte) (IMMessage, error) {
	return decodeWith("IM message", b, func(d *Decoder) IMMessage {
		m := IMMessage{Kind: IMKind(d.U32("kind"))}
		switch m.Kind {
		case IMKindText:
			m.Text = d.String("text")
		case IMKindData:
			m.DataType = IMDataType(d.U32("data_type"))
			m.Subtype = d.U32("subtype")
			m.Data = d.Opaque("data")
		}
		return m
	})
}
