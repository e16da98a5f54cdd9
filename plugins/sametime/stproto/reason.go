package stproto

import "fmt"

// ReasonError is a u32 reason / error code carried by CHANNEL_DESTROY and
// the service replies (spec §1.6.6). It is comparable, so
// errors.Is(err, ReasonIncorrectLogin) works on wrapped values.
type ReasonError uint32

// Reason codes. ReasonSuccess (0) is a normal close, not a failure.
const (
	ReasonSuccess               ReasonError = 0x00000000
	ReasonRequestDelayed        ReasonError = 0x00000001
	ReasonFailure               ReasonError = 0x80000000
	ReasonRequestInvalid        ReasonError = 0x80000001
	ReasonNotLoggedIn           ReasonError = 0x80000002
	ReasonNotAuthorized         ReasonError = 0x80000003
	ReasonAbort                 ReasonError = 0x80000004
	ReasonNoElement             ReasonError = 0x80000005
	ReasonUserNotOnline         ReasonError = 0x80000006
	ReasonBadData               ReasonError = 0x80000007
	ReasonNotImplemented        ReasonError = 0x80000008
	ReasonUnknown               ReasonError = 0x80000009
	ReasonStarving              ReasonError = 0x8000000a
	ReasonChannelNotSupported   ReasonError = 0x8000000b
	ReasonChannelExists         ReasonError = 0x8000000c
	ReasonServiceNotSupported   ReasonError = 0x8000000d
	ReasonProtocolNotSupported  ReasonError = 0x8000000e
	ReasonProtocolNotSupported2 ReasonError = 0x8000000f
	ReasonVersionNotSupported   ReasonError = 0x80000010
	ReasonUserInvalid           ReasonError = 0x80000011
	ReasonAlreadyInitialized    ReasonError = 0x80000013
	ReasonNotOwner              ReasonError = 0x80000014
	ReasonTokenInvalid          ReasonError = 0x80000015
	ReasonTokenExpired          ReasonError = 0x80000016
	ReasonTokenIPMismatch       ReasonError = 0x80000017
	ReasonPortInUse             ReasonError = 0x80000018
	ReasonNetworkDead           ReasonError = 0x80000019
	ReasonNoMasterChannel       ReasonError = 0x8000001a
	ReasonAlreadySubscribed     ReasonError = 0x8000001b
	ReasonNotSubscribed         ReasonError = 0x8000001c
	ReasonEncryptNotSupported   ReasonError = 0x8000001d
	ReasonEncryptUninitialized  ReasonError = 0x8000001e
	ReasonEncryptUnacceptable   ReasonError = 0x8000001f
	ReasonEncryptInvalid        ReasonError = 0x80000020
	ReasonNoCommonEncrypt       ReasonError = 0x80000021
	ReasonChannelDestroyed      ReasonError = 0x80000022
	ReasonChannelRedirected     ReasonError = 0x80000023

	ReasonVersionMismatch      ReasonError = 0x80000200
	ReasonInsufficientBuffer   ReasonError = 0x80000201
	ReasonNotInUse             ReasonError = 0x80000202
	ReasonInsufficientSocket   ReasonError = 0x80000203
	ReasonHardwareError        ReasonError = 0x80000204
	ReasonNetworkDown          ReasonError = 0x80000205
	ReasonHostDown             ReasonError = 0x80000206
	ReasonHostUnreachable      ReasonError = 0x80000207
	ReasonTCPIPError           ReasonError = 0x80000208
	ReasonMessageTooLarge      ReasonError = 0x80000209
	ReasonProxyError           ReasonError = 0x8000020a
	ReasonServerFull           ReasonError = 0x8000020b
	ReasonServerNotResponding  ReasonError = 0x8000020c
	ReasonCannotConnect        ReasonError = 0x8000020d
	ReasonUserRemoved          ReasonError = 0x8000020e
	ReasonProtocolError        ReasonError = 0x8000020f
	ReasonUserRestricted       ReasonError = 0x80000210
	ReasonIncorrectLogin       ReasonError = 0x80000211
	ReasonEncryptMismatch      ReasonError = 0x80000212
	ReasonUserUnregistered     ReasonError = 0x80000213
	ReasonVerificationDown     ReasonError = 0x80000214
	ReasonUserTooIdle          ReasonError = 0x80000216
	ReasonGuestInUse           ReasonError = 0x80000217
	ReasonUserExists           ReasonError = 0x80000218
	ReasonUserReLogin          ReasonError = 0x80000219
	ReasonBadName              ReasonError = 0x8000021a
	ReasonRegModeNotSupported  ReasonError = 0x8000021b
	ReasonWrongUserPrivilege   ReasonError = 0x8000021c
	ReasonNeedEmail            ReasonError = 0x8000021d
	ReasonDNSError             ReasonError = 0x8000021e
	ReasonDNSFatalError        ReasonError = 0x8000021f
	ReasonDNSNotFound          ReasonError = 0x80000220
	ReasonConnectionBroken     ReasonError = 0x80000221
	ReasonConnectionAborted    ReasonError = 0x80000222
	ReasonConnectionRefused    ReasonError = 0x80000223
	ReasonConnectionReset      ReasonError = 0x80000224
	ReasonConnectionTimedOut   ReasonError = 0x80000225
	ReasonConnectionClosed     ReasonError = 0x80000226
	ReasonMultiServerLogin     ReasonError = 0x80000227
	ReasonMultiServerLogin2    ReasonError = 0x80000228
	ReasonMultiLogin           ReasonError = 0x80000229
	ReasonMultiLogin2          ReasonError = 0x8000022a
	ReasonServerMisconfigured  ReasonError = 0x8000022b
	ReasonServerPathOld        ReasonError = 0x8000022c
	ReasonAppletLogout         ReasonError = 0x8000022d
	ReasonUserGone             ReasonError = 0x80002000
	ReasonUserDND              ReasonError = 0x80002001
	ReasonLoggedInElsewhere    ReasonError = 0x80002002
	ReasonIMCannotRegister     ReasonError = 0x80002003
	ReasonIMAlreadyRegistered  ReasonError = 0x80002004
	ReasonIMTypeNotRegistered  ReasonError = 0x80002005
	ReasonFileTransferRejected ReasonError = 0x08000606
)

var reasonText = map[ReasonError]string{
	ReasonSuccess:               "Success",
	ReasonRequestDelayed:        "Request delayed",
	ReasonFailure:               "General failure",
	ReasonRequestInvalid:        "Request is invalid",
	ReasonNotLoggedIn:           "Not logged in",
	ReasonNotAuthorized:         "Not authorized",
	ReasonAbort:                 "Operation aborted",
	ReasonNoElement:             "No element",
	ReasonUserNotOnline:         "User is not online",
	ReasonBadData:               "Invalid data",
	ReasonNotImplemented:        "Not implemented",
	ReasonUnknown:               "Unknown error",
	ReasonStarving:              "Not enough resources",
	ReasonChannelNotSupported:   "Requested channel is not supported",
	ReasonChannelExists:         "Requested channel already exists",
	ReasonServiceNotSupported:   "Requested service is not supported",
	ReasonProtocolNotSupported:  "Requested protocol is not supported",
	ReasonProtocolNotSupported2: "Requested protocol is not supported",
	ReasonVersionNotSupported:   "Version is not supported",
	ReasonUserInvalid:           "User is invalid or not trusted",
	ReasonAlreadyInitialized:    "Already initialized",
	ReasonNotOwner:              "Not an owner",
	ReasonTokenInvalid:          "Invalid token",
	ReasonTokenExpired:          "Token expired",
	ReasonTokenIPMismatch:       "Token IP mismatch",
	ReasonPortInUse:             "Port in use",
	ReasonNetworkDead:           "Network error",
	ReasonNoMasterChannel:       "Master channel error",
	ReasonAlreadySubscribed:     "Already subscribed",
	ReasonNotSubscribed:         "Not subscribed",
	ReasonEncryptNotSupported:   "Encryption method not supported",
	ReasonEncryptUninitialized:  "Encryption not initialized",
	ReasonEncryptUnacceptable:   "Encryption too low",
	ReasonEncryptInvalid:        "Invalid encrypted data",
	ReasonNoCommonEncrypt:       "No common encryption method",
	ReasonChannelDestroyed:      "Channel destroyed",
	ReasonChannelRedirected:     "Channel redirected",
	ReasonVersionMismatch:       "Version mismatch",
	ReasonInsufficientBuffer:    "Insufficient buffer",
	ReasonNotInUse:              "Not in use",
	ReasonInsufficientSocket:    "Insufficient socket",
	ReasonHardwareError:         "Hardware error",
	ReasonNetworkDown:           "Network down",
	ReasonHostDown:              "Host down",
	ReasonHostUnreachable:       "Host unreachable",
	ReasonTCPIPError:            "TCP/IP error",
	ReasonMessageTooLarge:       "Message is too large",
	ReasonProxyError:            "Proxy error",
	ReasonServerFull:            "Server is full",
	ReasonServerNotResponding:   "Server is not responding",
	ReasonCannotConnect:         "Cannot connect",
	ReasonUserRemoved:           "User has been removed from the server",
	ReasonProtocolError:         "Virtual Places protocol error",
	ReasonUserRestricted:        "Cannot connect because user has been restricted",
	ReasonIncorrectLogin:        "Incorrect Username/Password",
	ReasonEncryptMismatch:       "Encryption mismatch",
	ReasonUserUnregistered:      "User is unregistered",
	ReasonVerificationDown:      "Login verification down or unavailable",
	ReasonUserTooIdle:           "User is too idle",
	ReasonGuestInUse:            "The guest name is currently being used",
	ReasonUserExists:            "The user already exists",
	ReasonUserReLogin:           "The user is logging in again",
	ReasonBadName:               "Bad name",
	ReasonRegModeNotSupported:   "Registration mode not supported",
	ReasonWrongUserPrivilege:    "User does not have appropriate privilege level",
	ReasonNeedEmail:             "Email address must be used",
	ReasonDNSError:              "Error in DNS",
	ReasonDNSFatalError:         "Fatal error in DNS",
	ReasonDNSNotFound:           "Server name not found",
	ReasonConnectionBroken:      "The connection has been broken",
	ReasonConnectionAborted:     "An established connection was aborted",
	ReasonConnectionRefused:     "The connection was refused",
	ReasonConnectionReset:       "The connection was reset",
	ReasonConnectionTimedOut:    "The connection timed out",
	ReasonConnectionClosed:      "The connection was closed",
	ReasonMultiServerLogin:      "Login to two different servers concurrently",
	ReasonMultiServerLogin2:     "Login to two different servers concurrently",
	ReasonMultiLogin:            "Already logged on, disconnected",
	ReasonMultiLogin2:           "Already logged on",
	ReasonServerMisconfigured:   "Server misconfiguration",
	ReasonServerPathOld:         "Server connection path is outdated",
	ReasonAppletLogout:          "Logged out by the applet",
	ReasonUserGone:              "User is gone",
	ReasonUserDND:               "User is in Do Not Disturb mode",
	ReasonLoggedInElsewhere:     "Already logged in elsewhere",
	ReasonIMCannotRegister:      "Cannot register a reserved type",
	ReasonIMAlreadyRegistered:   "Requested type is already registered",
	ReasonIMTypeNotRegistered:   "Requested type is not registered",
	ReasonFileTransferRejected:  "File transfer rejected by the recipient",
}

// Error returns the meanwhile text of the code and its hex value.
func (r ReasonError) Error() string {
	if t, ok := reasonText[r]; ok {
		return fmt.Sprintf("sametime: %s (0x%08x)", t, uint32(r))
	}
	return fmt.Sprintf("sametime: reason 0x%08x", uint32(r))
}

// IsFailure reports whether the code has the 0x80000000 error bit.
// ReasonFileTransferRejected deliberately has not.
func (r ReasonError) IsFailure() bool { return r&0x80000000 != 0 }

// IsAuthFailure reports whether libpurple treats the code as an
// authentication failure (it then does not reconnect).
func (r ReasonError) IsAuthFailure() bool {
	switch r {
	case ReasonUserRestricted, ReasonIncorrectLogin, ReasonUserUnregistered, ReasonGuestInUse:
		return true
	}
	return false
}
