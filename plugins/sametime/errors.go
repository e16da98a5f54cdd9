package sametime

import (
	"context"
	"errors"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sdk"
)

// loginError maps a failed login (stclient.Dial) to an sdk error. Anything
// but refused credentials, a cancellation or a bad address means the
// server cannot be used right now: ReasonBackendUnavailable.
func loginError(err error) error {
	reason := sdk.ReasonBackendUnavailable
	switch {
	case errors.Is(err, stclient.ErrAuthFailed):
		reason = sdk.ReasonUnauthenticated
	case errors.Is(err, stclient.ErrInvalidConfig):
		reason = sdk.ReasonInvalidArgument
	case errors.Is(err, context.Canceled):
		reason = sdk.ReasonCancelled
	}
	return &sdk.Error{Reason: reason, Message: "sametime: login: " + err.Error()}
}

// requestError maps the error of a call on a logged-in client. limit is
// the configured file size limit, reported with ReasonFileTooLarge.
func requestError(op string, err error, limit uint64) error {
	var e *sdk.Error
	if errors.As(err, &e) {
		return err
	}
	out := &sdk.Error{Reason: requestReason(err), Message: "sametime: " + op + ": " + err.Error()}
	if out.Reason == sdk.ReasonFileTooLarge {
		out.LimitBytes = limit
	}
	return out
}

func requestReason(err error) sdk.Reason {
	switch {
	case errors.Is(err, context.Canceled):
		return sdk.ReasonCancelled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, stclient.ErrTimeout):
		return sdk.ReasonTimeout
	case errors.Is(err, stclient.ErrDeclined):
		return sdk.ReasonDeclined
	case errors.Is(err, stclient.ErrFileTooLarge):
		return sdk.ReasonFileTooLarge
	case errors.Is(err, stclient.ErrUserOffline), errors.Is(err, stclient.ErrNotFound):
		return sdk.ReasonNotFound
	case errors.Is(err, stclient.ErrTransferCanceled):
		return sdk.ReasonCancelled
	case errors.Is(err, stclient.ErrInvalidArgument), errors.Is(err, stclient.ErrMessageTooLong),
		errors.Is(err, stclient.ErrShortFile), errors.Is(err, stclient.ErrAlreadyAnswered):
		return sdk.ReasonInvalidArgument
	case errors.Is(err, stclient.ErrChannelClosed):
		// The peer's client refused the conversation (busy, or it does
		// not take this kind of channel).
		return sdk.ReasonDeclined
	case errors.Is(err, stclient.ErrAuthFailed):
		return sdk.ReasonUnauthenticated
	case errors.Is(err, stclient.ErrConnectionLost), errors.Is(err, stclient.ErrLoggedOff),
		errors.Is(err, stclient.ErrClosed), errors.Is(err, stclient.ErrSlowConsumer),
		errors.Is(err, stclient.ErrProtocol):
		return sdk.ReasonBackendUnavailable
	}
	return sdk.ReasonInternal
}

// endReason says why the server ended a session: another login or an
// administrator removed the user (ReasonKicked), the credentials are no
// longer valid (ReasonUnauthenticated), or the server is gone.
func endReason(err error) sdk.Reason {
	var se *stclient.ServerError
	if errors.As(err, &se) {
		switch se.Reason {
		case stproto.ReasonUserRemoved, stproto.ReasonLoggedInElsewhere, stproto.ReasonUserReLogin,
			stproto.ReasonMultiLogin, stproto.ReasonMultiLogin2,
			stproto.ReasonMultiServerLogin, stproto.ReasonMultiServerLogin2:
			return sdk.ReasonKicked
		}
		if se.Reason.IsAuthFailure() {
			return sdk.ReasonUnauthenticated
		}
	}
	return sdk.ReasonBackendUnavailable
}
