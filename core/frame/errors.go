package frame

import (
	"errors"
	"fmt"
)

// ErrProtocol is matched (errors.Is) by every error caused by a frame that
// breaks the format or the limits. The caller answers protocol_error and
// closes the link.
var ErrProtocol = errors.New("frame: protocol error")

// Protocol violations; each one also matches ErrProtocol.
var (
	// ErrEmptyFrame: N is 0, so not even the flags byte is present.
	ErrEmptyFrame = fmt.Errorf("%w: empty frame (N=0)", ErrProtocol)
	// ErrReservedFlags: a flag bit other than 0x01 is set.
	ErrReservedFlags = fmt.Errorf("%w: reserved flag bits set", ErrProtocol)
	// ErrFrameTooLarge: the body on the wire exceeds MaxFrame. Returned
	// inside a *LimitError.
	ErrFrameTooLarge = fmt.Errorf("%w: frame too large", ErrProtocol)
	// ErrDecodedTooLarge: a compressed body claims to decode to more than
	// MaxFrame (a decompression bomb). Returned inside a *LimitError.
	ErrDecodedTooLarge = fmt.Errorf("%w: decompressed frame too large", ErrProtocol)
	// ErrCorrupt: a compressed body is not a valid snappy block.
	ErrCorrupt = fmt.Errorf("%w: corrupt snappy block", ErrProtocol)
)

// ErrTruncated reports a stream that ended inside a frame. It also matches
// io.ErrUnexpectedEOF. It is not a protocol error: the link is already gone.
var ErrTruncated = errors.New("frame: truncated frame")

// LimitError reports a size over a limit. Err is ErrFrameTooLarge or
// ErrDecodedTooLarge.
type LimitError struct {
	Err   error
	Size  int64 // offending body size in bytes
	Limit int   // the MaxFrame in force
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: %d bytes exceeds limit of %d", e.Err, e.Size, e.Limit)
}

func (e *LimitError) Unwrap() error { return e.Err }

// Reason classifies err for metrics labels: "empty", "reserved_flags",
// "oversize", "snappy_bomb", "corrupt" or "truncated". It returns "" for nil,
// io.EOF and errors that did not come from frame validation (for example a
// network error).
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrEmptyFrame):
		return "empty"
	case errors.Is(err, ErrReservedFlags):
		return "reserved_flags"
	case errors.Is(err, ErrFrameTooLarge):
		return "oversize"
	case errors.Is(err, ErrDecodedTooLarge):
		return "snappy_bomb"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	}
	return ""
}
