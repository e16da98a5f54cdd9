package conf

import (
	"encoding/json"
	"time"
)

// Config is a complete, validated parleyd configuration. Every path in it is
// absolute. A Config is not modified after Load, Parse or Default return it.
type Config struct {
	// DataDir is where parleyd keeps its state: the SQLite configuration
	// database, the self-signed certificate, the admin token and the
	// credential key. Relative paths elsewhere in the file are resolved
	// against it.
	//
	// HCL: data_dir = "/var/lib/parley" (string, absolute path). The
	// -data-dir flag of parleyd overrides it (see WithDataDir).
	DataDir string

	// LogLevel is the lowest level logged: "trace", "debug", "info", "warn"
	// or "error" (the names go-hclog accepts).
	//
	// HCL: log_level = "info".
	LogLevel string

	// LogFormat is "text" (human-readable lines) or "json" (one JSON object
	// per line, for log shippers).
	//
	// HCL: log_format = "text".
	LogFormat string

	// Device is the listener devices connect to (TLS, ALPN parley/1).
	//
	// HCL: listener "device" { address = ":4101" }.
	Device Listener

	// Admin is the admin API listener used by parleyctl.
	//
	// HCL: admin { ... }.
	Admin Admin

	// Metrics is the Prometheus /metrics listener.
	//
	// HCL: metrics { ... }.
	Metrics Metrics

	// TLS is the device listener's certificate and protocol floor.
	//
	// HCL: tls { ... }.
	TLS TLS

	// Frame sets the device link's frame limits.
	//
	// HCL: frame { ... }.
	Frame Frame

	// Plugins says where backend plugins live and how they are run.
	//
	// HCL: plugins { ... }.
	Plugins Plugins

	// Database is the configuration database (users, groups, policies,
	// audit log).
	//
	// HCL: database { ... }.
	Database Database

	// Sessions sets session admission, timeouts and the session cache.
	//
	// HCL: sessions { ... }.
	Sessions Sessions

	// FilePolicy is the file transfer policy of users whose group has no
	// policy of its own in the configuration database.
	//
	// HCL: file_policy { ... }.
	FilePolicy FilePolicy

	// Backends are the IM servers the gateway logs users in to, in file
	// order. A user's record in the configuration database names one of
	// them. There are none by default.
	//
	// HCL: backend "<name>" { ... }, once per backend.
	Backends []Backend
}

// Backend returns the backend with the given name.
func (c *Config) Backend(name string) (Backend, bool) {
	for _, b := range c.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// Listener is a TCP listen address.
type Listener struct {
	// Address is host:port. An empty host listens on every interface
	// (IPv4 and IPv6); port 0 picks a free port.
	//
	// HCL: address = ":4101" (string).
	Address string
}

// Admin is the admin API listener. It is either a loopback TCP address or a
// unix socket, and every request must carry the token from TokenFile.
type Admin struct {
	// Network is "tcp" or "unix", derived from the address.
	Network string

	// Address is host:port for "tcp" (the host must be a loopback address
	// or "localhost") or the socket's absolute path for "unix".
	//
	// HCL: address = "127.0.0.1:4102" (string); "unix:/run/parley/admin.sock"
	// selects a unix socket.
	Address string

	// TokenFile holds the bearer token admin clients must present.
	//
	// HCL: token_file = "admin.token" (string path; relative to data_dir).
	TokenFile string
}

// Metrics is the Prometheus metrics listener.
type Metrics struct {
	// Address is host:port of the HTTP listener serving /metrics; empty
	// disables it.
	//
	// HCL: address = "127.0.0.1:4103" (string).
	Address string
}

// TLS configures the device listener's TLS.
type TLS struct {
	// CertFile and KeyFile are the PEM certificate chain and private key.
	// When both are empty in the file, parleyd uses a self-signed ECDSA
	// P-256 certificate kept at these default paths in data_dir
	// (tls/selfsigned.crt, tls/selfsigned.key) and SelfSigned is true.
	//
	// HCL: cert_file = "", key_file = "" (string paths; relative to
	// data_dir; both or neither).
	CertFile string
	KeyFile  string

	// SelfSigned is true when no certificate was configured: parleyd
	// creates CertFile and KeyFile if they do not exist yet.
	SelfSigned bool

	// MinVersion is the lowest TLS version accepted from devices, as a
	// crypto/tls constant (tls.VersionTLS12 or tls.VersionTLS13).
	//
	// HCL: min_version = "1.3" ("1.2" or "1.3").
	MinVersion uint16
}

// Frame sets the device link's frame limits.
type Frame struct {
	// MaxFrame is the largest frame body in bytes, before and after
	// snappy decompression; a larger frame is a protocol error.
	//
	// HCL: max_frame = 1048576 (number, 16384 to 67108864).
	MaxFrame int

	// CompressThreshold is the smallest body the gateway tries to
	// compress; shorter bodies are always sent as they are.
	//
	// HCL: compress_threshold = 256 (number, 0 to max_frame).
	CompressThreshold int
}

// Plugins configures backend plugin discovery and supervision.
type Plugins struct {
	// Dir is scanned for parley-backend-<name>[_v<semver>] binaries at
	// start and on reload. The -plugin-dir flag of parleyd overrides it
	// (see WithPluginDir).
	//
	// HCL: dir = "/usr/lib/parley/plugins" (string path; relative to
	// data_dir).
	Dir string

	// StartTimeout bounds a plugin's start: launch, handshake, GetInfo and
	// Configure.
	//
	// HCL: start_timeout = "10s" (duration, at least 1s).
	StartTimeout time.Duration

	// CallTimeout is the deadline of every plugin call that is not a
	// stream, health checks included.
	//
	// HCL: call_timeout = "5s" (duration, at least 100ms).
	CallTimeout time.Duration

	// Pins maps a plugin name to the SHA-256 digest its binary must have;
	// a binary whose digest differs is not run. Plugins without a pin are
	// run unverified.
	//
	// HCL: pin "<plugin name>" { sha256 = "<64 hex digits>" }, once per
	// pinned plugin (none by default).
	Pins map[string][]byte
}

// Database drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Database selects the configuration database.
type Database struct {
	// Driver is DriverSQLite (embedded, single node) or DriverPostgres
	// (production, several nodes).
	//
	// HCL: driver = "sqlite".
	Driver string

	// DSN is, for sqlite, the database file's absolute path (an empty dsn
	// in the file means parley.db in data_dir; a relative one is resolved
	// against data_dir); for postgres, a libpq connection string or URL
	// (required).
	//
	// HCL: dsn = "" (string).
	DSN string
}

// Sessions sets session admission, timeouts and the session cache.
type Sessions struct {
	// MaxSessions is the most sessions the gateway holds, attached or
	// detached. When full, a login reclaims the session detached longest;
	// if none is detached it is refused with server_busy.
	//
	// HCL: max_sessions = 5000 (number, at least 1).
	MaxSessions int

	// DetachTTL is how long a session whose device link dropped keeps its
	// backend connection and event log, waiting for a Resume.
	//
	// HCL: detach_ttl = "30m" (duration, at least 1s).
	DetachTTL time.Duration

	// Heartbeat is the interval announced to devices in Welcome; each side
	// sends a heartbeat when it has sent nothing else for this long.
	//
	// HCL: heartbeat = "30s" (duration, 1s to 10m).
	Heartbeat time.Duration

	// IdleTimeout is how long an attached link may stay silent (no frame
	// at all, heartbeats included) before the gateway closes it and
	// detaches its session.
	//
	// HCL: idle_timeout = "90s" (duration, longer than heartbeat).
	IdleTimeout time.Duration

	// InactivityTimeout ends a session, logging it out of the IM server,
	// when its device has sent no request for this long (heartbeats and
	// acknowledgements do not count), attached or not. Zero never ends a
	// session for inactivity.
	//
	// HCL: inactivity_timeout = "0s" (duration; "0s" disables).
	InactivityTimeout time.Duration

	// EventLogMaxEvents and EventLogMaxBytes bound each session's log of
	// events not yet acknowledged by the device. A session whose log
	// overflows must resynchronise on resume.
	//
	// HCL: event_log_max_events = 1000 (number, at least 1);
	// event_log_max_bytes = 262144 (number, at least 1024).
	EventLogMaxEvents int
	EventLogMaxBytes  int64

	// CacheCredentials lets the gateway keep users' IM passwords, sealed
	// with the key in CredentialKeyFile, so that backend sessions are
	// re-opened silently after a gateway restart or a plugin crash.
	// When false, such a device must log in again (relogin_required).
	//
	// HCL: cache_credentials = false (bool).
	CacheCredentials bool

	// CredentialKeyFile holds the key sealing cached credentials; it is
	// used only when CacheCredentials is true.
	//
	// HCL: credential_key_file = "credential.key" (string path; relative
	// to data_dir).
	CredentialKeyFile string
}

// FilePolicy is a file transfer policy. The configuration's FilePolicy
// applies to users whose group has no policy in the configuration database.
type FilePolicy struct {
	// Enabled allows file transfer at all.
	//
	// HCL: enabled = true (bool).
	Enabled bool

	// MaxFileBytes is the gateway's size limit for one file; the IM server
	// may have a lower one of its own. Zero means no gateway limit.
	//
	// HCL: max_file_bytes = 10485760 (number, at least 0).
	MaxFileBytes int64

	// BlockedExtensions are file name extensions that may not be sent,
	// lower case without the leading dot ("exe", "tar.gz"); a single "*"
	// blocks every file.
	//
	// HCL: blocked_extensions = ["bat", "cmd", "com", "exe", "msi", "pif",
	// "scr", "vbs"] (list of strings; case and a leading dot are ignored).
	BlockedExtensions []string

	// OptimizeAllowed lets a recipient ask for a file to be optimised for
	// viewing on the device (images downscaled to its screen).
	//
	// HCL: optimize_allowed = true (bool).
	OptimizeAllowed bool
}

// Backend is one IM server the gateway logs users in to through a plugin.
type Backend struct {
	// Name is the block label, the name users' records refer to:
	// lower-case letters, digits, '-' and '_', at most 63 characters.
	//
	// HCL: backend "<name>" { ... }.
	Name string

	// Plugin is the name of the plugin serving this backend: "groupwise"
	// runs parley-backend-groupwise. The binary name
	// "parley-backend-groupwise" is accepted too.
	//
	// HCL: plugin = "<name>" (string; defaults to the backend's name).
	Plugin string

	// Server is the IM server the plugin connects to.
	//
	// HCL: server { ... } (required).
	Server Server

	// Settings is the plugin's own configuration: the attributes of the
	// settings block as one JSON object, never interpreted by the core.
	// It is "{}" when there is no settings block. Values may be strings,
	// numbers, bools, lists and objects (x = { ... }); nested blocks are
	// not allowed.
	//
	// HCL: settings { ... } (optional).
	Settings json.RawMessage
}

// Server is an IM server's address.
type Server struct {
	// Host is the IM server's host name or IP address.
	//
	// HCL: host = "gw.example.com" (string, required).
	Host string

	// Port is the IM server's TCP port. When omitted it is the plugin's
	// well-known port: GroupWise Messenger 8300, Sametime 1533; other
	// plugins must set it. Any port may be set.
	//
	// HCL: port = 8300 (number, 1 to 65535).
	Port int

	// TLS is how the plugin secures the connection to the IM server.
	//
	// HCL: tls { ... } (optional).
	TLS ServerTLS
}

// ServerTLS is the TLS configuration of a plugin's IM server connection.
type ServerTLS struct {
	// Enabled turns TLS on. It defaults to the plugin's protocol:
	// on for GroupWise Messenger (always TLS), off for Sametime (no TLS)
	// and off for other plugins.
	//
	// HCL: enabled = true (bool).
	Enabled bool

	// CAFile is a PEM bundle of CAs trusted for the IM server's
	// certificate instead of the system roots.
	//
	// HCL: ca_file = "" (string path; relative to data_dir).
	CAFile string

	// ServerName overrides the name checked in the server's certificate
	// (default: Host).
	//
	// HCL: server_name = "" (string).
	ServerName string

	// InsecureSkipVerify accepts any certificate. For tests only.
	//
	// HCL: insecure_skip_verify = false (bool).
	InsecureSkipVerify bool
}
