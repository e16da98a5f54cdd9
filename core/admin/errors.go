package admin

import (
	"errors"
	"fmt"
)

// Error codes of the API's JSON errors.
const (
	CodeUnauthorized     = "unauthorized"       // 401: no or wrong token
	CodeBadRequest       = "bad_request"        // 400: malformed JSON, unknown field, bad query
	CodeInvalidArgument  = "invalid_argument"   // 400: a value the database refuses
	CodeNotFound         = "not_found"          // 404: no such user, group or route
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeAlreadyExists    = "already_exists"     // 409: user or group name taken
	CodeInUse            = "in_use"             // 409: group still has users
	CodeTooLarge         = "too_large"          // 413: request body over the limit
	CodeUnavailable      = "unavailable"        // 503: the daemon has no such component
	CodeReloadFailed     = "reload_failed"      // 500: plugin reload failed
	CodeInternal         = "internal"           // 500: see the daemon's log
)

// APIError is an error answer of the admin API.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code is one of the Code constants.
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// ErrorCode returns the API error code in err's chain, or "".
func ErrorCode(err error) string {
	if ae, ok := errors.AsType[*APIError](err); ok {
		return ae.Code
	}
	return ""
}

// errorBody is the JSON form of an error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

var (
	// ErrNotLoopback is returned by Listen for a TCP address that is not
	// a loopback address.
	ErrNotLoopback = errors.New("admin: the admin API listens only on a loopback address or a unix socket")
	// ErrSocketInUse is returned by Listen when another process serves
	// the unix socket.
	ErrSocketInUse = errors.New("admin: unix socket in use by another process")
	// ErrNotSocket is returned by Listen when the socket path is taken by
	// something other than a socket, which it does not remove.
	ErrNotSocket = errors.New("admin: path exists and is not a socket")
	// ErrBadToken reports an empty, over-long or malformed token or token
	// file.
	ErrBadToken = errors.New("admin: bad token")
	// ErrTokenFileMode is returned by EnsureToken for a token file that
	// other users may read or write.
	ErrTokenFileMode = errors.New("admin: token file is accessible to other users")
	// ErrBadOptions reports Options that New cannot work with.
	ErrBadOptions = errors.New("admin: bad options")
	// ErrBadAddress is returned by NewClient for an address it cannot use.
	ErrBadAddress = errors.New("admin: bad address")
)
