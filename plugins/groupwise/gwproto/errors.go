package gwproto

import (
	"errors"
	"strconv"
)

// Sentinel errors. Parser and encoder errors wrap one of these with context;
// test with errors.Is.
var (
	// ErrTagTooLong: a tag is longer than the limit (63 bytes plus NUL on
	// the binary side).
	ErrTagTooLong = errors.New("gwproto: tag too long")
	// ErrBadTag: a tag is empty or contains bytes that cannot be encoded.
	ErrBadTag = errors.New("gwproto: bad tag")
	// ErrValueTooLong: a string value exceeds the limit.
	ErrValueTooLong = errors.New("gwproto: value too long")
	// ErrTooManyFields: a message holds more fields than allowed.
	ErrTooManyFields = errors.New("gwproto: too many fields")
	// ErrTooDeep: lists are nested deeper than allowed.
	ErrTooDeep = errors.New("gwproto: lists nested too deep")
	// ErrMessageTooLarge: a message exceeds the total size limit.
	ErrMessageTooLarge = errors.New("gwproto: message too large")
	// ErrHeaderTooLong: a status/request line or header block exceeds the limit.
	ErrHeaderTooLong = errors.New("gwproto: header too long")
	// ErrBadRequestLine: the request does not start with "POST /<cmd> HTTP/1.x".
	ErrBadRequestLine = errors.New("gwproto: bad request line")
	// ErrBadStatusLine: a response status line carries no status code.
	ErrBadStatusLine = errors.New("gwproto: bad status line")
	// ErrBadHeader: a header line is malformed.
	ErrBadHeader = errors.New("gwproto: bad header")
	// ErrBadBody: the text body of a request is malformed (pieces missing,
	// out of order, or an array count that the following fields do not fill).
	ErrBadBody = errors.New("gwproto: bad request body")
	// ErrBadEscape: a percent escape in a request value is invalid.
	ErrBadEscape = errors.New("gwproto: bad percent escape")
	// ErrBadNumber: a decimal number is malformed or out of range.
	ErrBadNumber = errors.New("gwproto: bad number")
	// ErrBadMethod: a cmd= character names no method.
	ErrBadMethod = errors.New("gwproto: bad method")
	// ErrBadType: a field type cannot be used here (type 0, or out of range).
	ErrBadType = errors.New("gwproto: bad field type")
	// ErrBadResultCode: NM_A_SZ_RESULT_CODE is not a decimal number.
	ErrBadResultCode = errors.New("gwproto: bad result code")
	// ErrMissingResultCode: a response has no string NM_A_SZ_RESULT_CODE.
	ErrMissingResultCode = errors.New("gwproto: response without result code")
	// ErrUnknownEvent: an event type whose payload is not known; the stream
	// cannot be resynchronised after it. The concrete error is an
	// *UnknownEventError.
	ErrUnknownEvent = errors.New("gwproto: unknown event type")
)

// UnknownEventError reports an event type the parser or encoder does not know.
type UnknownEventError struct {
	Type EventType
}

func (e *UnknownEventError) Error() string {
	return "gwproto: unknown event type " + strconv.FormatUint(uint64(e.Type), 10)
}

// Is makes errors.Is(err, ErrUnknownEvent) true.
func (e *UnknownEventError) Is(target error) bool { return target == ErrUnknownEvent }
