package gwclient

import (
	"errors"
	"fmt"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// Connection and usage errors.
var (
	// ErrClosed: Close was called.
	ErrClosed = errors.New("gwclient: client closed")
	// ErrConnectionLost: the connection failed or the server closed it.
	// The underlying network error is wrapped too.
	ErrConnectionLost = errors.New("gwclient: connection lost")
	// ErrTimeout: the server did not answer a request within
	// Config.RequestTimeout; the connection is closed with this error.
	ErrTimeout = errors.New("gwclient: server did not answer in time")
	// ErrProtocol: the server sent something that is not valid protocol
	// (the gwproto error is wrapped too); the connection is closed.
	ErrProtocol = errors.New("gwclient: protocol error")
	// ErrBadResponse: a response lacks what its request needs (a result
	// code, a conference id, a contact entry). The connection stays up.
	ErrBadResponse = errors.New("gwclient: malformed response")
	// ErrEventOverflow: the consumer of Events fell EventBuffer events
	// behind; the connection is closed rather than dropping events.
	ErrEventOverflow = errors.New("gwclient: event buffer overflow")
	// ErrConnectedElsewhere: the user logged in from another location
	// (event 114).
	ErrConnectedElsewhere = errors.New("gwclient: signed on from another location")
	// ErrServerDisconnect: the server announced the end of the session
	// (event 115).
	ErrServerDisconnect = errors.New("gwclient: server ended the session")
	// ErrNotLoggedIn: a request other than Login before a successful Login.
	ErrNotLoggedIn = errors.New("gwclient: not logged in")
	// ErrAlreadyLoggedIn: Login called a second time on one connection.
	ErrAlreadyLoggedIn = errors.New("gwclient: login already attempted on this connection")
	// ErrUnknownConference: the GUID names no conference this client knows.
	ErrUnknownConference = errors.New("gwclient: unknown conference")
	// ErrUnknownItem: the id names no contact or folder of the contact list.
	ErrUnknownItem = errors.New("gwclient: unknown contact or folder")
	// ErrMessageTooLong: a message exceeds gwproto.MaxMessageText bytes
	// (libpurple would cut it; this client refuses instead).
	ErrMessageTooLong = errors.New("gwclient: message too long")
)

// Categories of server result codes, for errors.Is on a *ServerError.
var (
	// ErrWrongPassword: 53516, 53574, 53577 (libpurple does not
	// auto-reconnect after these).
	ErrWrongPassword = errors.New("gwclient: wrong user name or password")
	// ErrUserNotFound: 53517, 53540.
	ErrUserNotFound = errors.New("gwclient: user not found")
	// ErrAccountDisabled: 53510 (too many wrong passwords), 53520.
	ErrAccountDisabled = errors.New("gwclient: account disabled")
	// ErrPasswordExpired: 53515, 53570.
	ErrPasswordExpired = errors.New("gwclient: password expired")
	// ErrServerBusy: 53539.
	ErrServerBusy = errors.New("gwclient: server busy")
	// ErrDuplicateContact: 53543.
	ErrDuplicateContact = errors.New("gwclient: contact already in folder")
	// ErrDuplicateFolder: 53542.
	ErrDuplicateFolder = errors.New("gwclient: folder already exists")
)

// ServerError is a non-zero result code the server returned for a request.
// errors.Is matches it against the category sentinels above (e.g.
// ErrWrongPassword) and, through Unwrap, against a *gwproto.ResultError
// with the same code.
type ServerError struct {
	// Command is the request that failed, e.g. "login".
	Command string
	Result  *gwproto.ResultError
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("gwclient: %s: server error %d (%s): %s",
		e.Command, e.Result.Code, e.Result.Name(), e.Result.Text())
}

// Unwrap returns the *gwproto.ResultError.
func (e *ServerError) Unwrap() error { return e.Result }

// Is reports whether the result code belongs to target's category.
func (e *ServerError) Is(target error) bool {
	code := e.Result.Code
	switch target {
	case ErrWrongPassword:
		return e.Result.IsWrongPassword()
	case ErrUserNotFound:
		return e.Result.IsUserNotFound()
	case ErrAccountDisabled:
		return code == gwproto.CodeAccessDenied || code == gwproto.CodeUserDisabled
	case ErrPasswordExpired:
		return code == gwproto.CodePasswordExpired || code == gwproto.CodePasswordExpired2
	case ErrServerBusy:
		return code == gwproto.CodeServerBusy
	case ErrDuplicateContact:
		return code == gwproto.CodeDuplicateContact
	case ErrDuplicateFolder:
		return code == gwproto.CodeDuplicateFolder
	}
	return false
}
