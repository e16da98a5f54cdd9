package stproto

import "fmt"

// DefaultPort is the Sametime TCP port (libpurple's MW_PLUGIN_DEFAULT_PORT).
const DefaultPort = 1533

// Protocol version sent by meanwhile in HANDSHAKE and expected in HANDSHAKE_ACK.
const (
	VersionMajor uint16 = 0x001e
	VersionMinor uint16 = 0x001d
)

// MasterChannel is the channel id of session messages.
const MasterChannel uint32 = 0

// ServerChannelBit is set in the ids of channels the server creates or
// relays; client-created channels have it clear (spec §4.1).
const ServerChannelBit uint32 = 0x80000000

// IsServerChannel reports whether id belongs to a server-delivered channel.
func IsServerChannel(id uint32) bool { return id&ServerChannelBit != 0 }

// Options are the header option bits.
type Options uint16

// Header option bits.
const (
	OptHasAttribs Options = 0x8000 // an opaque attribute block follows the header
	OptEncrypt    Options = 0x4000 // the CHANNEL_SEND payload is encrypted
)

// MessageType is the u16 type of a message (spec §1.6.1).
type MessageType uint16

// Message types.
const (
	TypeHandshake      MessageType = 0x0000
	TypeHandshakeAck   MessageType = 0x8000
	TypeLogin          MessageType = 0x0001
	TypeLoginAck       MessageType = 0x8001
	TypeLoginRedirect  MessageType = 0x0018
	TypeLoginContinue  MessageType = 0x0016
	TypeChannelCreate  MessageType = 0x0002
	TypeChannelAccept  MessageType = 0x0006
	TypeChannelSend    MessageType = 0x0004
	TypeChannelDestroy MessageType = 0x0003
	TypeSetUserStatus  MessageType = 0x0009
	TypeSetPrivacyList MessageType = 0x000b
	TypeSenseService   MessageType = 0x0011
	TypeAdmin          MessageType = 0x0019
	TypeAnnounce       MessageType = 0x0022
)

var messageTypeNames = map[MessageType]string{
	TypeHandshake:      "HANDSHAKE",
	TypeHandshakeAck:   "HANDSHAKE_ACK",
	TypeLogin:          "LOGIN",
	TypeLoginAck:       "LOGIN_ACK",
	TypeLoginRedirect:  "LOGIN_REDIRECT",
	TypeLoginContinue:  "LOGIN_CONTINUE",
	TypeChannelCreate:  "CHANNEL_CREATE",
	TypeChannelAccept:  "CHANNEL_ACCEPT",
	TypeChannelSend:    "CHANNEL_SEND",
	TypeChannelDestroy: "CHANNEL_DESTROY",
	TypeSetUserStatus:  "SET_USER_STATUS",
	TypeSetPrivacyList: "SET_PRIVACY_LIST",
	TypeSenseService:   "SENSE_SERVICE",
	TypeAdmin:          "ADMIN",
	TypeAnnounce:       "ANNOUNCE",
}

func (t MessageType) String() string {
	if n, ok := messageTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("MessageType(0x%04x)", uint16(t))
}

// ServiceID identifies a channel's service (spec §1.6.2).
type ServiceID uint32

// Service ids.
const (
	ServiceAware        ServiceID = 0x00000011
	ServiceResolve      ServiceID = 0x00000015
	ServiceStorage      ServiceID = 0x00000018
	ServiceDirectory    ServiceID = 0x0000001a
	ServiceFileTransfer ServiceID = 0x00000038
	ServiceIM           ServiceID = 0x00001000
	ServiceConference   ServiceID = 0x80000010
	ServicePlace        ServiceID = 0x80000022
)

var serviceNames = map[ServiceID]string{
	ServiceAware:        "aware",
	ServiceResolve:      "resolve",
	ServiceStorage:      "storage",
	ServiceDirectory:    "directory",
	ServiceFileTransfer: "file-transfer",
	ServiceIM:           "im",
	ServiceConference:   "conference",
	ServicePlace:        "place",
}

func (s ServiceID) String() string {
	if n, ok := serviceNames[s]; ok {
		return n
	}
	return fmt.Sprintf("ServiceID(0x%08x)", uint32(s))
}

// ChannelProtocol is the proto_type / proto_ver pair a service's channels
// carry in CHANNEL_CREATE and CHANNEL_ACCEPT.
type ChannelProtocol struct {
	Type    uint32
	Version uint32
}

var serviceProtocols = map[ServiceID]ChannelProtocol{
	ServiceAware:        {0x00000011, 0x00030005},
	ServiceResolve:      {0x00000015, 0x00000000},
	ServiceStorage:      {0x00000025, 0x00000001},
	ServiceFileTransfer: {0x00000000, 0x00000001},
	ServiceIM:           {0x00001000, 0x00000003},
	ServiceConference:   {0x00000010, 0x00000002},
	ServicePlace:        {0x00000000, 0x00000005},
}

// ProtocolOf returns the channel protocol meanwhile uses for service s.
func ProtocolOf(s ServiceID) (ChannelProtocol, bool) {
	p, ok := serviceProtocols[s]
	return p, ok
}

// LoginType is the u16 client type (spec §1.6.3).
type LoginType uint16

// Client types.
const (
	LoginTypeLotusBinaryLib LoginType = 0x1000
	LoginTypeJavaApplet     LoginType = 0x1001
	LoginTypeBinaryApp      LoginType = 0x1002
	LoginTypeJavaApp        LoginType = 0x1003
	LoginTypeLinks          LoginType = 0x100a
	LoginTypeNotes65        LoginType = 0x1200
	LoginTypeNotes653       LoginType = 0x1203
	LoginTypeNotes70Beta    LoginType = 0x1210
	LoginTypeNotes70        LoginType = 0x1214
	LoginTypeICT            LoginType = 0x1300
	LoginTypeNotesBuddy     LoginType = 0x1400
	LoginTypeSanity         LoginType = 0x1600
	LoginTypeSTPerl         LoginType = 0x1625
	LoginTypePMRAlert       LoginType = 0x1650
	LoginTypeTrillian       LoginType = 0x16aa
	LoginTypeMeanwhile      LoginType = 0x1700
)

// StatusCode is a user's presence state (spec §1.6.4).
type StatusCode uint16

// Presence states.
const (
	StatusOffline StatusCode = 0x0000
	StatusActive  StatusCode = 0x0020
	StatusIdle    StatusCode = 0x0040
	StatusAway    StatusCode = 0x0060
	StatusBusy    StatusCode = 0x0080
	// StatusMobileFlag may be or-ed into any state.
	StatusMobileFlag StatusCode = 0x0200
)

// EncryptPolicy is the u16 enc_mode of channel create/accept (spec §1.6.5).
type EncryptPolicy uint16

// Encryption policies.
const (
	PolicyNone     EncryptPolicy = 0x0000
	PolicyWhatever EncryptPolicy = 0x0001
	PolicyAll      EncryptPolicy = 0x0002
	PolicyRC2_40   EncryptPolicy = 0x1000
	PolicyRC2_128  EncryptPolicy = 0x2000
)

// CipherID names a cipher in an EncryptItem.
type CipherID uint16

// Cipher ids.
const (
	CipherRC2_40  CipherID = 0x0000
	CipherRC2_128 CipherID = 0x0001
)

// AuthType is the LOGIN authentication scheme (spec §3.4).
type AuthType uint16

// Authentication schemes.
const (
	AuthPlain   AuthType = 0x0000
	AuthToken   AuthType = 0x0001
	AuthRC2_40  AuthType = 0x0002
	AuthRC2_128 AuthType = 0x0004
)

func (a AuthType) String() string {
	switch a {
	case AuthPlain:
		return "plain"
	case AuthToken:
		return "token"
	case AuthRC2_40:
		return "RC2/40"
	case AuthRC2_128:
		return "RC2/128"
	}
	return fmt.Sprintf("AuthType(0x%04x)", uint16(a))
}
