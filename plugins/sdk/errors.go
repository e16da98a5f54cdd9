package sdk

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reason is a machine-readable error reason. It crosses the plugin boundary
// as google.rpc.ErrorInfo.reason, so vendors in any language can set it.
type Reason string

// Reasons a backend may return. The gateway maps them to the device
// protocol's typed errors.
const (
	ReasonUnauthenticated    Reason = "unauthenticated"     // wrong login or password
	ReasonBackendUnavailable Reason = "backend_unavailable" // IM server unreachable or gone
	ReasonUnsupported        Reason = "unsupported"         // the backend lacks the capability
	ReasonNotFound           Reason = "not_found"           // no such user, contact, conversation
	ReasonSessionNotFound    Reason = "session_not_found"   // the plugin has no such session
	ReasonInvalidArgument    Reason = "invalid_argument"
	ReasonFileTooLarge       Reason = "file_too_large" // the IM server's limit refused it
	ReasonDeclined           Reason = "declined"       // the recipient declined
	ReasonCancelled          Reason = "cancelled"
	ReasonTimeout            Reason = "timeout"
	ReasonKicked             Reason = "kicked" // the user logged in elsewhere
	ReasonInternal           Reason = "internal"
)

// errorDomain is the ErrorInfo domain of errors from this SDK.
const errorDomain = "parley.backend.v1"

// Error is a typed backend error. Return one (or wrap one) from a Backend
// method to give the gateway a precise reason.
type Error struct {
	Reason  Reason
	Message string
	// LimitBytes is the limit that refused a file (ReasonFileTooLarge).
	LimitBytes uint64
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Message
}

// Is lets errors.Is match on the reason: errors.Is(err, &Error{Reason: R}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Errorf builds an *Error with a formatted message.
func Errorf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason carried by err, ReasonTimeout for deadline
// errors, ReasonCancelled for cancellations, and ReasonInternal otherwise.
func ReasonOf(err error) Reason {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Reason
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, context.Canceled):
		return ReasonCancelled
	}
	return ReasonInternal
}

var reasonCodes = map[Reason]codes.Code{
	ReasonUnauthenticated:    codes.Unauthenticated,
	ReasonBackendUnavailable: codes.Unavailable,
	ReasonUnsupported:        codes.Unimplemented,
	ReasonNotFound:           codes.NotFound,
	ReasonSessionNotFound:    codes.NotFound,
	ReasonInvalidArgument:    codes.InvalidArgument,
	ReasonFileTooLarge:       codes.ResourceExhausted,
	ReasonDeclined:           codes.FailedPrecondition,
	ReasonCancelled:          codes.Canceled,
	ReasonTimeout:            codes.DeadlineExceeded,
	ReasonKicked:             codes.Aborted,
}

// toStatus turns a backend error into a gRPC status error with ErrorInfo.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Reason: ReasonOf(err), Message: err.Error()}
	}
	code, ok := reasonCodes[e.Reason]
	if !ok {
		code = codes.Internal
	}
	st := status.New(code, e.Error())
	info := &errdetails.ErrorInfo{Reason: string(e.Reason), Domain: errorDomain}
	if e.LimitBytes > 0 {
		info.Metadata = map[string]string{"limit_bytes": strconv.FormatUint(e.LimitBytes, 10)}
	}
	if withDetails, derr := st.WithDetails(info); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// fromStatus turns an error from a gRPC call back into an *Error. Transport
// failures (the plugin died, the connection closed) become
// ReasonBackendUnavailable; an expired deadline becomes ReasonTimeout.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Reason: ReasonOf(err), Message: err.Error()}
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			e := &Error{Reason: Reason(info.Reason), Message: trimReason(st.Message(), info.Reason)}
			if v, ok := info.Metadata["limit_bytes"]; ok {
				e.LimitBytes, _ = strconv.ParseUint(v, 10, 64)
			}
			return e
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled:
		return &Error{Reason: ReasonBackendUnavailable, Message: st.Message()}
	case codes.DeadlineExceeded:
		return &Error{Reason: ReasonTimeout, Message: st.Message()}
	case codes.Unimplemented:
		return &Error{Reason: ReasonUnsupported, Message: st.Message()}
	case codes.Unauthenticated:
		return &Error{Reason: ReasonUnauthenticated, Message: st.Message()}
	}
	return &Error{Reason: ReasonInternal, Message: st.Message()}
}

func trimReason(msg, reason string) string {
	if len(msg) > len(reason)+2 && msg[:len(reason)+2] == reason+": " {
		return msg[len(reason)+2:]
	}
	if msg == reason {
		return ""
	}
	return msg
}
