package router

import (
	"context"
	"errors"

	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// Errors from the Directory and the router itself.
var (
	// ErrPermissionDenied: the user is unknown to the configuration
	// database or not enabled for collaboration.
	ErrPermissionDenied = errors.New("router: user is not enabled for collaboration")
	// ErrBackendUnavailable: the backend's plugin is not running.
	ErrBackendUnavailable = errors.New("router: backend unavailable")
	// ErrNotLoggedIn: a session request arrived before Login or Resume.
	ErrNotLoggedIn = errors.New("router: not logged in")
	// ErrInvalid: the request is malformed.
	ErrInvalid = errors.New("router: invalid request")
)

var reasonCodes = map[sdk.Reason]devicev1.ErrorCode{
	sdk.ReasonUnauthenticated:    devicev1.ErrorCode_UNAUTHENTICATED,
	sdk.ReasonBackendUnavailable: devicev1.ErrorCode_BACKEND_UNAVAILABLE,
	sdk.ReasonSessionNotFound:    devicev1.ErrorCode_RELOGIN_REQUIRED,
	sdk.ReasonUnsupported:        devicev1.ErrorCode_UNSUPPORTED,
	sdk.ReasonNotFound:           devicev1.ErrorCode_NOT_FOUND,
	sdk.ReasonInvalidArgument:    devicev1.ErrorCode_INVALID_ARGUMENT,
	sdk.ReasonFileTooLarge:       devicev1.ErrorCode_FILE_TOO_LARGE,
	sdk.ReasonDeclined:           devicev1.ErrorCode_DECLINED,
	sdk.ReasonCancelled:          devicev1.ErrorCode_CANCELLED,
	sdk.ReasonTimeout:            devicev1.ErrorCode_TIMEOUT,
	sdk.ReasonKicked:             devicev1.ErrorCode_RELOGIN_REQUIRED,
	sdk.ReasonInternal:           devicev1.ErrorCode_INTERNAL,
}

// DeviceError turns any error of the request path into the typed error a
// device receives. The message never includes credentials.
func DeviceError(err error) *devicev1.Error {
	out := &devicev1.Error{Code: devicev1.ErrorCode_INTERNAL, Message: err.Error()}
	var be *sdk.Error
	switch {
	case errors.Is(err, ErrPermissionDenied):
		// The same words for unknown and disabled users: a device must not
		// learn which user names exist.
		out.Code = devicev1.ErrorCode_PERMISSION_DENIED
		out.Message = "this user is not enabled for collaboration on this gateway"
	case errors.Is(err, ErrBackendUnavailable):
		out.Code = devicev1.ErrorCode_BACKEND_UNAVAILABLE
	case errors.Is(err, ErrNotLoggedIn), errors.Is(err, session.ErrUnauthenticated):
		out.Code = devicev1.ErrorCode_UNAUTHENTICATED
	case errors.Is(err, ErrInvalid):
		out.Code = devicev1.ErrorCode_INVALID_ARGUMENT
	case errors.Is(err, session.ErrServerBusy):
		out.Code = devicev1.ErrorCode_SERVER_BUSY
	case errors.Is(err, session.ErrReloginRequired):
		out.Code = devicev1.ErrorCode_RELOGIN_REQUIRED
	case errors.Is(err, session.ErrResumeExpired):
		out.Code = devicev1.ErrorCode_RESUME_EXPIRED
	case errors.Is(err, context.DeadlineExceeded):
		out.Code = devicev1.ErrorCode_TIMEOUT
	case errors.As(err, &be):
		if code, ok := reasonCodes[be.Reason]; ok {
			out.Code = code
		}
		if be.Reason == sdk.ReasonFileTooLarge {
			out.LimitSource = devicev1.LimitSource_IM_SERVER
			out.Limit = be.LimitBytes
		}
		if be.Message != "" {
			out.Message = be.Message
		}
	}
	return out
}
