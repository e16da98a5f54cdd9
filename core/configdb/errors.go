package configdb

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound reports that a user, group or policy does not exist.
	ErrNotFound = errors.New("configdb: not found")
	// ErrExists reports that a user or group of that name already exists.
	ErrExists = errors.New("configdb: already exists")
	// ErrInUse reports a group that cannot be deleted while users belong to it.
	ErrInUse = errors.New("configdb: in use")
	// ErrInvalid reports an unacceptable value (a malformed name, say).
	ErrInvalid = errors.New("configdb: invalid value")
	// ErrPermissionDenied is matched by the error Authorize returns for a
	// user who may not use the gateway.
	ErrPermissionDenied = errors.New("configdb: permission denied")
	// ErrUnsupportedDriver reports a driver other than sqlite or postgres.
	ErrUnsupportedDriver = errors.New("configdb: unsupported driver")
	// ErrSchemaTooNew reports a database migrated by a newer parleyd.
	ErrSchemaTooNew = errors.New("configdb: database schema is newer than this program")

	// ErrTransferDisabled is returned by Policy.Check when the policy does
	// not allow file transfer.
	ErrTransferDisabled = errors.New("configdb: file transfer is disabled by policy")
	// ErrFileTooLarge is matched by the *FileTooLargeError of Policy.Check.
	ErrFileTooLarge = errors.New("configdb: file too large")
	// ErrFileTypeBlocked is returned (wrapped) by Policy.Check for a file
	// whose extension is blocked.
	ErrFileTypeBlocked = errors.New("configdb: file type blocked")
)

// DeniedError is returned by Authorize for a user who may not use the
// gateway. It matches ErrPermissionDenied.
type DeniedError struct {
	Login  string
	Reason DenyReason
}

// DenyReason says why Authorize refused a user.
type DenyReason int

// Reasons for DeniedError.
const (
	// DenyUnknownUser: the login is not in the database.
	DenyUnknownUser DenyReason = iota + 1
	// DenyDisabled: the user exists but is not enabled for collaboration.
	DenyDisabled
)

func (r DenyReason) String() string {
	switch r {
	case DenyUnknownUser:
		return "unknown user"
	case DenyDisabled:
		return "user disabled"
	}
	return fmt.Sprintf("DenyReason(%d)", int(r))
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("configdb: permission denied for %q: %s", e.Login, e.Reason)
}

// Is reports whether target is ErrPermissionDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrPermissionDenied }

// FileTooLargeError is returned by Policy.Check for a file over the
// policy's size limit. It matches ErrFileTooLarge.
type FileTooLargeError struct {
	Size  int64 // the file's size in bytes
	Limit int64 // the policy's limit in bytes
}

func (e *FileTooLargeError) Error() string {
	return fmt.Sprintf("configdb: file of %d bytes exceeds the gateway's limit of %d bytes", e.Size, e.Limit)
}

// Is reports whether target is ErrFileTooLarge.
func (e *FileTooLargeError) Is(target error) bool { return target == ErrFileTooLarge }
