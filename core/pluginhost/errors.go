package pluginhost

import (
	"errors"

	"github.com/parleygw/parley/plugins/sdk"
)

// ErrUnavailable is returned (wrapped) by Host.Backend when the backend's
// plugin is not running. It is an *sdk.Error with ReasonBackendUnavailable,
// so code that maps backend errors to device errors treats it like a call
// that failed because the plugin died.
var ErrUnavailable = &sdk.Error{Reason: sdk.ReasonBackendUnavailable, Message: "backend plugin is not running"}

// Errors of the host. A backend's last error (PluginStatus.LastError,
// StateChange.Err) wraps one of them where it applies.
var (
	// ErrUnknownBackend: no backend of that name is configured.
	ErrUnknownBackend = errors.New("pluginhost: unknown backend")
	// ErrPluginNotFound: the plugin directory has no usable binary for
	// the backend's plugin.
	ErrPluginNotFound = errors.New("pluginhost: plugin binary not found")
	// ErrUnsafeFile: a plugin binary or the plugin directory fails the
	// file checks (symlink, not a regular file, not executable, writable
	// by group or others, foreign owner).
	ErrUnsafeFile = errors.New("pluginhost: unsafe plugin file")
	// ErrChecksumMismatch: the binary's SHA-256 differs from its pin.
	ErrChecksumMismatch = errors.New("pluginhost: plugin binary does not match its pinned sha256")
	// ErrNameMismatch: GetInfo reports another name or version than the
	// binary's file name.
	ErrNameMismatch = errors.New("pluginhost: plugin's GetInfo disagrees with its file name")
	// ErrAPIVersion: the plugin does not speak the host's API version.
	ErrAPIVersion = errors.New("pluginhost: plugin does not support the plugin API version")
	// ErrBadSettings: the plugin refused its settings as invalid.
	ErrBadSettings = errors.New("pluginhost: plugin refused its settings")
	// ErrUnhealthy: the plugin failed too many health checks in a row.
	ErrUnhealthy = errors.New("pluginhost: plugin failed its health checks")
	// ErrCrashLoop: the plugin crashed too often; it is not restarted
	// until Reload.
	ErrCrashLoop = errors.New("pluginhost: plugin is crashing in a loop")
	// ErrTempDir: the plugins' temporary directory cannot be used.
	ErrTempDir = errors.New("pluginhost: plugin temp dir unusable")
	// ErrStarted: Start was called twice, or after Shutdown.
	ErrStarted = errors.New("pluginhost: host already started or shut down")
	// ErrNotRunning: Reload before Start or after Shutdown.
	ErrNotRunning = errors.New("pluginhost: host is not running")
)

// isRefusal reports whether a failed start is a verdict on the binary or
// its configuration, which restarting cannot change.
func isRefusal(err error) bool {
	for _, target := range []error{ErrPluginNotFound, ErrUnsafeFile, ErrChecksumMismatch, ErrNameMismatch, ErrAPIVersion, ErrBadSettings} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
