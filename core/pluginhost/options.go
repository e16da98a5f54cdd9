package pluginhost

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero values of Options.
const (
	DefaultStartTimeout   = 10 * time.Second
	DefaultCallTimeout    = 5 * time.Second
	DefaultHealthInterval = 15 * time.Second
	DefaultHealthFailures = 3
	DefaultPollInterval   = time.Second
	DefaultKillTimeout    = 5 * time.Second
)

// Options configure a Host.
type Options struct {
	// Dir is the plugin directory (plugin_dir).
	Dir string
	// DataDir is the gateway's data directory. Plugins get private
	// temporary directories (their TMPDIR, which holds their sockets) under
	// DataDir/plugin-tmp, which Start wipes to remove what a crashed run
	// left behind. Empty means a new directory under the system's temporary
	// directory, removed by Shutdown.
	DataDir string
	// Backends are the configured backends by name (lower-case letters,
	// digits, '-' and '_', at most 63 characters). Each runs its own
	// plugin process.
	Backends map[string]BackendSpec
	// Pins maps a plugin name to the SHA-256 digest its binary must have.
	// The digest is checked before every start; a binary that differs is
	// not run. Plugins without a pin are run unverified.
	Pins map[string][]byte

	// StartTimeout bounds a plugin's start: launch, handshake, GetInfo and
	// Configure (default 10s).
	StartTimeout time.Duration
	// CallTimeout is the deadline of every unary call to a plugin, health
	// checks included, when the caller's context has no earlier one
	// (default 5s).
	CallTimeout time.Duration
	// HealthInterval is how often a running plugin's health is checked
	// (default 15s).
	HealthInterval time.Duration
	// HealthFailures is how many consecutive failed health checks get a
	// plugin killed and restarted (default 3).
	HealthFailures int
	// PollInterval is how often the supervisor checks whether the plugin
	// process has exited, in case the event stream does not report it
	// (default 1s).
	PollInterval time.Duration
	// KillTimeout bounds stopping one plugin; after it the process group
	// is killed (default 5s).
	KillTimeout time.Duration
	// Restart is the backoff and crash-loop policy.
	Restart RestartPolicy
	// LogLimit bounds what a plugin can write to the gateway's log.
	LogLimit LogLimit
	// LogLevel is the level plugins log at (trace, debug, info, warn,
	// error, off). Empty means the level of Logger.
	LogLevel string

	// Logger is the gateway's logger; the host logs under Named("plugins").
	Logger hclog.Logger
	// Registerer receives the host's metrics; nil means no metrics.
	Registerer prometheus.Registerer

	// OnEvents receives each batch of events from a backend's stream. It is
	// called from that backend's receive goroutine and must not block for
	// long: a slow callback holds up the backend's whole event stream.
	OnEvents func(backend string, events []sdk.Event)
	// OnState is told about every state change of a backend, in order, from
	// the backend's supervisor. On StateUp the core re-opens the backend's
	// cached sessions (the event stream is already open then); on any
	// other state it tells the backend's sessions the backend is
	// unavailable. The supervisor waits for OnState to return before it
	// acts on the plugin again.
	OnState func(StateChange)
}

// BackendSpec configures one backend.
type BackendSpec struct {
	// Plugin is the plugin serving the backend: "groupwise" runs
	// parley-backend-groupwise (the binary name is accepted too). Empty
	// means the backend's name.
	Plugin string
	// Settings is the backend's opaque settings block as JSON.
	Settings []byte
	// Server is the backend's default IM server.
	Server sdk.ServerAddress
}

// RestartPolicy says when a crashed plugin is started again.
type RestartPolicy struct {
	// InitialBackoff is the wait before the first restart (default 250ms);
	// it doubles with every further crash, with jitter, up to MaxBackoff
	// (default 2m).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// ResetAfter is how long a plugin must run to have its backoff reset
	// (default 10m).
	ResetAfter time.Duration
	// MaxCrashes crashes within CrashWindow mark the backend failed: it is
	// not restarted again until Reload (defaults 5 and 5m).
	MaxCrashes  int
	CrashWindow time.Duration
}

// LogLimit bounds the log lines a plugin produces.
type LogLimit struct {
	// LinesPerSecond and Burst form a token bucket per plugin process
	// (defaults 50 and 200); lines beyond it are dropped and counted.
	LinesPerSecond float64
	Burst          int
	// MaxLineBytes truncates longer lines (default 8 KiB).
	MaxLineBytes int
}

var (
	backendNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	pluginNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

// withDefaults fills in zero values and checks what cannot work.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, fmt.Errorf("pluginhost: no plugin directory")
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	setDefault(&o.StartTimeout, DefaultStartTimeout)
	setDefault(&o.CallTimeout, DefaultCallTimeout)
	setDefault(&o.HealthInterval, DefaultHealthInterval)
	setDefault(&o.PollInterval, DefaultPollInterval)
	setDefault(&o.KillTimeout, DefaultKillTimeout)
	setDefault(&o.HealthFailures, DefaultHealthFailures)
	setDefault(&o.Restart.InitialBackoff, 250*time.Millisecond)
	setDefault(&o.Restart.MaxBackoff, 2*time.Minute)
	setDefault(&o.Restart.ResetAfter, 10*time.Minute)
	setDefault(&o.Restart.MaxCrashes, 5)
	setDefault(&o.Restart.CrashWindow, 5*time.Minute)
	setDefault(&o.LogLimit.LinesPerSecond, 50)
	setDefault(&o.LogLimit.Burst, 200)
	setDefault(&o.LogLimit.MaxLineBytes, 8<<10)
	if o.Restart.MaxBackoff < o.Restart.InitialBackoff {
		o.Restart.MaxBackoff = o.Restart.InitialBackoff
	}
	if o.LogLevel == "" {
		o.LogLevel = o.Logger.GetLevel().String()
		if hclog.LevelFromString(o.LogLevel) == hclog.NoLevel {
			o.LogLevel = hclog.Info.String()
		}
	} else if hclog.LevelFromString(o.LogLevel) == hclog.NoLevel {
		return o, fmt.Errorf("pluginhost: unknown plugin log level %q", o.LogLevel)
	}
	for plugin, sum := range o.Pins {
		if len(sum) != sha256.Size {
			return o, fmt.Errorf("pluginhost: pin for plugin %q: %d bytes, want a %d-byte SHA-256 digest", plugin, len(sum), sha256.Size)
		}
	}
	specs := make(map[string]BackendSpec, len(o.Backends))
	for name, spec := range o.Backends {
		if !backendNameRE.MatchString(name) {
			return o, fmt.Errorf("pluginhost: backend name %q: want lower-case letters, digits, '-' and '_', at most 63", name)
		}
		spec.Plugin = strings.TrimPrefix(spec.Plugin, filePrefix)
		if spec.Plugin == "" {
			spec.Plugin = name
		}
		if !pluginNameRE.MatchString(spec.Plugin) {
			return o, fmt.Errorf("pluginhost: backend %q: plugin name %q: want lower-case letters, digits and '-'", name, spec.Plugin)
		}
		specs[name] = spec
	}
	o.Backends = specs
	return o, nil
}

// setDefault replaces a zero or negative value, which would make no sense
// for any of the options (and panics in time.NewTicker).
func setDefault[T int | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
