package groupwise

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/sdk"
)

func sdkErr(r sdk.Reason, err error) *sdk.Error {
	return &sdk.Error{Reason: r, Message: err.Error()}
}

// dialError classifies a failure to connect: the caller's deadline is a
// timeout, everything else (refused, unreachable, TLS handshake or
// certificate failure) means the server is not available.
func dialError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, gwclient.ErrConfig):
		return sdkErr(sdk.ReasonInvalidArgument, err)
	case ctx.Err() != nil:
		return sdkErr(sdk.ReasonTimeout, err)
	}
	return sdkErr(sdk.ReasonBackendUnavailable, err)
}

// loginError classifies a failed login: a refusal of the credentials is
// unauthenticated, the rest as for any request.
func loginError(err error) error {
	for _, refused := range []error{gwclient.ErrWrongPassword, gwclient.ErrUserNotFound,
		gwclient.ErrAccountDisabled, gwclient.ErrPasswordExpired} {
		if errors.Is(err, refused) {
			return sdkErr(sdk.ReasonUnauthenticated, err)
		}
	}
	return requestError(err)
}

// requestError turns an error of a gwclient request into a typed SDK error.
func requestError(err error) error {
	var typed *sdk.Error
	var server *gwclient.ServerError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typed):
		return err
	case errors.Is(err, gwclient.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return sdkErr(sdk.ReasonTimeout, err)
	case errors.Is(err, context.Canceled):
		return sdkErr(sdk.ReasonCancelled, err)
	case errors.Is(err, gwclient.ErrConnectedElsewhere):
		return sdkErr(sdk.ReasonKicked, err)
	case errors.Is(err, gwclient.ErrClosed), errors.Is(err, gwclient.ErrConnectionLost),
		errors.Is(err, gwclient.ErrProtocol), errors.Is(err, gwclient.ErrEventOverflow),
		errors.Is(err, gwclient.ErrServerDisconnect), errors.Is(err, gwclient.ErrServerBusy),
		errors.Is(err, gwclient.ErrNotLoggedIn), errors.Is(err, gwclient.ErrBadResponse):
		return sdkErr(sdk.ReasonBackendUnavailable, err)
	case errors.Is(err, gwclient.ErrUnknownConference), errors.Is(err, gwclient.ErrUnknownItem),
		errors.Is(err, gwclient.ErrUserNotFound):
		return sdkErr(sdk.ReasonNotFound, err)
	case errors.Is(err, gwclient.ErrMessageTooLong), errors.Is(err, gwclient.ErrDuplicateContact),
		errors.Is(err, gwclient.ErrDuplicateFolder):
		return sdkErr(sdk.ReasonInvalidArgument, err)
	case errors.As(err, &server):
		return sdkErr(serverReason(server.Result.Code), err)
	}
	return sdkErr(sdk.ReasonInternal, err)
}

// serverReason classifies the result codes not covered by a gwclient
// category.
func serverReason(code uint32) sdk.Reason {
	switch code {
	case gwproto.CodeConferenceNotFound2, gwproto.CodeConversationInvite, gwproto.CodeUserBlocked:
		return sdk.ReasonNotFound
	case gwproto.CodeDuplicateParticipant, gwproto.CodeUserNotAllowed, gwproto.CodeTooManyContacts,
		gwproto.CodeTooManyFolders:
		return sdk.ReasonInvalidArgument
	case gwproto.CodeAdminLocked, gwproto.CodeNotSupported:
		return sdk.ReasonUnsupported
	case gwproto.CodeDirectoryFailure, gwproto.CodeDirectoryUpdate, gwproto.CodeEvalConnectionLimit:
		return sdk.ReasonBackendUnavailable
	}
	return sdk.ReasonInternal
}

// endReason is the SessionEndedEvent for a connection that ended without
// CloseSession.
func endReason(err error) sdk.SessionEndedEvent {
	switch {
	case errors.Is(err, gwclient.ErrConnectedElsewhere):
		return sdk.SessionEndedEvent{Reason: sdk.ReasonKicked, Message: "signed on to GroupWise from another location"}
	case errors.Is(err, gwclient.ErrServerDisconnect):
		return sdk.SessionEndedEvent{Reason: sdk.ReasonBackendUnavailable, Message: "the GroupWise server ended the session"}
	case errors.Is(err, gwclient.ErrTimeout):
		return sdk.SessionEndedEvent{Reason: sdk.ReasonBackendUnavailable, Message: "the GroupWise server stopped answering"}
	}
	return sdk.SessionEndedEvent{Reason: sdk.ReasonBackendUnavailable, Message: fmt.Sprintf("connection to the GroupWise server lost: %v", err)}
}
