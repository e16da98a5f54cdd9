package router

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
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
	if fileError(err, out) {
		return out
	}
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
	case errors.Is(err, session.ErrNotSaved):
		// The store is what failed, not the request: the old token stays
		// valid and the device should try again later.
		out.Code = devicev1.ErrorCode_SERVER_BUSY
		out.Message = "the gateway could not save the session; resume again later"
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

// fileCodes are the device codes of the file transfer layer's errors.
var fileCodes = []struct {
	err  error
	code devicev1.ErrorCode
}{
	{filexfer.ErrUnknownTransfer, devicev1.ErrorCode_NOT_FOUND},
	{filexfer.ErrInvalidRequest, devicev1.ErrorCode_INVALID_ARGUMENT},
	{filexfer.ErrOtherDevice, devicev1.ErrorCode_INVALID_ARGUMENT},
	{filexfer.ErrChecksum, devicev1.ErrorCode_INVALID_ARGUMENT},
	{filexfer.ErrBusy, devicev1.ErrorCode_SERVER_BUSY},
	{filexfer.ErrBadChunk, devicev1.ErrorCode_PROTOCOL_ERROR},
	{filexfer.ErrAbandoned, devicev1.ErrorCode_TIMEOUT},
	{filexfer.ErrClosed, devicev1.ErrorCode_BACKEND_UNAVAILABLE},
}

// fileError fills out for the refusals of a file policy and the errors of
// the file transfer layer, and reports whether err was one of them.
func fileError(err error, out *devicev1.Error) bool {
	var tooLarge *configdb.FileTooLargeError
	switch {
	case errors.Is(err, configdb.ErrTransferDisabled):
		out.Code = devicev1.ErrorCode_FILE_TRANSFER_DISABLED
		out.Message = "file transfer is switched off for you by the gateway's policy"
	case errors.As(err, &tooLarge):
		out.Code, out.LimitSource, out.Limit = devicev1.ErrorCode_FILE_TOO_LARGE, devicev1.LimitSource_GATEWAY, uint64(tooLarge.Limit)
		out.Message = fmt.Sprintf("the file's %d bytes exceed the gateway's limit of %d bytes", tooLarge.Size, tooLarge.Limit)
	case errors.Is(err, configdb.ErrFileTypeBlocked):
		out.Code = devicev1.ErrorCode_FILE_TYPE_BLOCKED
		out.Message = "the gateway's policy blocks this type of file: " + strings.TrimPrefix(err.Error(), "configdb: file type blocked: ")
	default:
		for _, fc := range fileCodes {
			if errors.Is(err, fc.err) {
				out.Code = fc.code
				return true
			}
		}
		return false
	}
	return true
}
