package stclient

import (
	"errors"
	"fmt"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// Sentinel errors. Errors returned by the client wrap them (test with
// errors.Is); server reason codes arrive as *ServerError.
var (
	// ErrInvalidConfig means Dial was given an unusable Config.
	ErrInvalidConfig = errors.New("stclient: invalid config")
	// ErrInvalidArgument means a method was called with an unusable value.
	ErrInvalidArgument = errors.New("stclient: invalid argument")
	// ErrClosed means the Client was closed by Close.
	ErrClosed = errors.New("stclient: client closed")
	// ErrTimeout means the server did not answer in time.
	ErrTimeout = errors.New("stclient: timed out")
	// ErrConnectionLost means the TCP connection failed or was closed by
	// the server without a reason code.
	ErrConnectionLost = errors.New("stclient: connection lost")
	// ErrAuthFailed means the server rejected the credentials.
	ErrAuthFailed = errors.New("stclient: authentication failed")
	// ErrLoggedOff means the server ended the session (CHANNEL_DESTROY of
	// the master channel) for a reason other than the credentials.
	ErrLoggedOff = errors.New("stclient: logged off by the server")
	// ErrSlowConsumer means the Events channel stayed full for longer than
	// Config.EventTimeout and the session was ended.
	ErrSlowConsumer = errors.New("stclient: event consumer too slow")
	// ErrUserOffline means the peer is not online.
	ErrUserOffline = errors.New("stclient: user is not online")
	// ErrNotFound means the server holds no value for a storage key.
	ErrNotFound = errors.New("stclient: not found")
	// ErrChannelClosed means the peer or server closed the channel.
	ErrChannelClosed = errors.New("stclient: channel closed")
	// ErrHTMLUnsupported means the peer's IM client only takes plain text.
	ErrHTMLUnsupported = errors.New("stclient: peer does not accept HTML")
	// ErrMessageTooLong means a text does not fit the protocol's 64 KiB string.
	ErrMessageTooLong = errors.New("stclient: message too long")
	// ErrDeclined means the recipient declined a file (reason 0x08000606).
	ErrDeclined = errors.New("stclient: file declined by recipient")
	// ErrFileTooLarge means a file exceeds a size limit: the client's
	// configured maximum, the protocol's 32-bit size field, or the
	// server's limit (the server refused the offer before the recipient
	// saw it).
	ErrFileTooLarge = errors.New("stclient: file too large")
	// ErrTransferCanceled means the other side closed a transfer early.
	ErrTransferCanceled = errors.New("stclient: transfer canceled")
	// ErrShortFile means SendFile's reader ended before the declared size.
	ErrShortFile = errors.New("stclient: file shorter than its declared size")
	// ErrAlreadyAnswered means a file offer or conference invitation was
	// already accepted or declined.
	ErrAlreadyAnswered = errors.New("stclient: already answered")
	// ErrProtocol means the server broke the protocol.
	ErrProtocol = errors.New("stclient: protocol violation")
)

// ServerError carries a reason code sent by the server or a peer in a
// CHANNEL_DESTROY or a service reply. errors.Is matches both the reason
// (for example stproto.ReasonIncorrectLogin) and Kind, the sentinel that
// classifies it (for example ErrAuthFailed), when there is one.
type ServerError struct {
	Op     string // what was being done: "login", "session", "im", ...
	Reason stproto.ReasonError
	Kind   error
}

func (e *ServerError) Error() string {
	if e.Kind != nil {
		return fmt.Sprintf("stclient: %s: %v: %v", e.Op, e.Kind, e.Reason)
	}
	return fmt.Sprintf("stclient: %s: %v", e.Op, e.Reason)
}

// Unwrap returns Kind (if set) and Reason.
func (e *ServerError) Unwrap() []error {
	if e.Kind != nil {
		return []error{e.Kind, e.Reason}
	}
	return []error{e.Reason}
}

// sessionError classifies a reason that ended the login or the session.
func sessionError(op string, r stproto.ReasonError) *ServerError {
	e := &ServerError{Op: op, Reason: r, Kind: ErrLoggedOff}
	if r.IsAuthFailure() {
		e.Kind = ErrAuthFailed
	}
	return e
}

// channelError classifies a reason that closed a channel.
func channelError(op string, r stproto.ReasonError) *ServerError {
	e := &ServerError{Op: op, Reason: r, Kind: ErrChannelClosed}
	if r == stproto.ReasonUserNotOnline || r == stproto.ReasonUserGone {
		e.Kind = ErrUserOffline
	}
	return e
}

// transferRefusal classifies a destroy of a file offer that was never
// accepted. 0x08000606 is the recipient's decline and reason 0 a
// cancellation. The server's refusal code for its size limit is not known
// (spec §8.3, §11.2), so every other non-zero code — except "user not
// online" and "service not supported" — is reported as the server's size
// limit.
func transferRefusal(r stproto.ReasonError) *ServerError {
	e := &ServerError{Op: "send file", Reason: r}
	switch r {
	case stproto.ReasonFileTransferRejected:
		e.Kind = ErrDeclined
	case stproto.ReasonSuccess:
		e.Kind = ErrTransferCanceled
	case stproto.ReasonUserNotOnline, stproto.ReasonUserGone:
		e.Kind = ErrUserOffline
	case stproto.ReasonServiceNotSupported, stproto.ReasonChannelNotSupported:
		e.Kind = ErrChannelClosed
	default:
		e.Kind = ErrFileTooLarge
	}
	return e
}
