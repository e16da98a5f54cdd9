package pluginhost

import (
	"time"

	"github.com/parleygw/parley/plugins/sdk"
)

// State is where a backend's plugin is in its life.
type State int

// Backend states.
const (
	// StateStarting: the plugin is being launched and configured.
	StateStarting State = iota + 1
	// StateUp: the plugin runs and answers; Host.Backend returns it.
	StateUp
	// StateDown: the plugin crashed, exited or failed its health checks
	// and waits for its restart.
	StateDown
	// StateFailed: the plugin was refused (checksum, name, API version,
	// settings, unsafe file) or crashed in a loop. It is not started again
	// until Reload.
	StateFailed
	// StateMissing: the plugin directory has no usable binary for it.
	StateMissing
	// StateStopped: the host shut down.
	StateStopped
)

var stateNames = map[State]string{StateStarting: "starting", StateUp: "up", StateDown: "down",
	StateFailed: "failed", StateMissing: "missing", StateStopped: "stopped"}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "unknown"
}

// StateChange is what OnState is told.
type StateChange struct {
	Backend string
	State   State
	// Info is what the plugin reported at its last start (zero before).
	Info sdk.Info
	// Restarted is set on StateUp when the backend was up before: a new
	// plugin process that has none of the old one's sessions.
	Restarted bool
	// Err says why the backend is not up (nil for StateUp, StateStopped).
	Err error
}

// PluginStatus is one backend's entry in Host.Status.
type PluginStatus struct {
	Backend string
	Plugin  string // plugin name
	Path    string // binary in use, or last chosen
	Version string // as reported by GetInfo, else from the file name
	State   State
	Since   time.Time // of the last state change
	PID     int       // 0 when not running
	// Restarts counts launches after a crash or failed health checks.
	Restarts  int
	LastError string
}
