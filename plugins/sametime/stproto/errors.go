package stproto

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped with context) by the decoders.
var (
	// ErrTruncated means the input ended before a required field.
	ErrTruncated = errors.New("stproto: input truncated")
	// ErrTooLarge means a length or count exceeds the input or a fixed limit.
	ErrTooLarge = errors.New("stproto: length exceeds limit")
	// ErrMalformed means a field holds a value the encoding does not allow.
	ErrMalformed = errors.New("stproto: malformed input")
	// ErrFrameTooLarge means a frame's declared length exceeds the reader's maximum.
	ErrFrameTooLarge = errors.New("stproto: frame too large")
	// ErrStringTooLong means a string does not fit the u16 length prefix.
	ErrStringTooLong = errors.New("stproto: string longer than 65535 bytes")
	// ErrUnsupported means the operation is defined by the protocol but not
	// supported here (for example the TOKEN authentication scheme).
	ErrUnsupported = errors.New("stproto: unsupported")
)

// FieldError says which field failed to decode. It wraps one of the
// sentinel errors above.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("stproto: %s: %v", e.Field, e.Err) }

// Unwrap returns the underlying sentinel error.
func (e *FieldError) Unwrap() error { return e.Err }

// FrameSizeError reports a frame whose declared length exceeds the limit.
type FrameSizeError struct {
	Size uint32
	Max  int
}

func (e *FrameSizeError) Error() string {
	return fmt.Sprintf("stproto: frame of %d bytes exceeds the limit of %d", e.Size, e.Max)
}

// Is makes errors.Is(err, ErrFrameTooLarge) true.
func (e *FrameSizeError) Is(target error) bool { return target == ErrFrameTooLarge }
