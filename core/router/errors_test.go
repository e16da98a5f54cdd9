package router_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parleygw/parley/core/router"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// The code a device gets decides what it does next: retry, log in again
// or give up. Each cause keeps its code when wrapped with context.
func TestDeviceErrorCodes(t *testing.T) {
	diskFull := errors.New("database or disk is full")
	for _, tc := range []struct {
		err  error
		want devicev1.ErrorCode
	}{
		{router.ErrPermissionDenied, devicev1.ErrorCode_PERMISSION_DENIED},
		{router.ErrBackendUnavailable, devicev1.ErrorCode_BACKEND_UNAVAILABLE},
		{session.ErrUnauthenticated, devicev1.ErrorCode_UNAUTHENTICATED},
		{session.ErrServerBusy, devicev1.ErrorCode_SERVER_BUSY},
		{fmt.Errorf("%w: %w", session.ErrNotSaved, diskFull), devicev1.ErrorCode_SERVER_BUSY},
		{session.ErrReloginRequired, devicev1.ErrorCode_RELOGIN_REQUIRED},
		{session.ErrResumeExpired, devicev1.ErrorCode_RESUME_EXPIRED},
		{context.DeadlineExceeded, devicev1.ErrorCode_TIMEOUT},
		{&sdk.Error{Reason: sdk.ReasonKicked}, devicev1.ErrorCode_RELOGIN_REQUIRED},
		{errors.New("something else"), devicev1.ErrorCode_INTERNAL},
	} {
		wrapped := fmt.Errorf("resume: %w", tc.err)
		if got := router.DeviceError(wrapped).Code; got != tc.want {
			t.Errorf("DeviceError(%v) = %v, want %v", wrapped, got, tc.want)
		}
	}
}

// A failed save is the gateway's business: the device is told to come
// back, not what the database said.
func TestDeviceErrorForAnUnsavedResumeHidesTheStoreError(t *testing.T) {
	e := router.DeviceError(fmt.Errorf("%w: %w", session.ErrNotSaved, errors.New("disk I/O error at /var/lib/parley/parley.db")))
	if strings.Contains(e.Message, "/var/lib") || strings.Contains(e.Message, "disk") {
		t.Errorf("message %q shows the store's error", e.Message)
	}
}
