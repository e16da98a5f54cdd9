package conf

import "github.com/hashicorp/hcl/v2"

// The types below mirror the file's syntax for gohcl. Every attribute is an
// hcl.Expression so that an absent attribute (a null value) keeps the value
// of the layer below, and so that each value is checked with its own source
// range at hand.

type fileRoot struct {
	DataDir   hcl.Expression `hcl:"data_dir,optional"`
	LogLevel  hcl.Expression `hcl:"log_level,optional"`
	LogFormat hcl.Expression `hcl:"log_format,optional"`

	Listeners  []fileListener  `hcl:"listener,block"`
	Admin      *fileAdmin      `hcl:"admin,block"`
	Metrics    *fileMetrics    `hcl:"metrics,block"`
	TLS        *fileTLS        `hcl:"tls,block"`
	Frame      *fileFrame      `hcl:"frame,block"`
	Plugins    *filePlugins    `hcl:"plugins,block"`
	Database   *fileDatabase   `hcl:"database,block"`
	Sessions   *fileSessions   `hcl:"sessions,block"`
	FilePolicy *fileFilePolicy `hcl:"file_policy,block"`
	Backends   []fileBackend   `hcl:"backend,block"`
}

type fileListener struct {
	Kind      string         `hcl:"kind,label"`
	KindRange hcl.Range      `hcl:"kind,label_range"`
	Address   hcl.Expression `hcl:"address,optional"`
}

type fileAdmin struct {
	Address   hcl.Expression `hcl:"address,optional"`
	TokenFile hcl.Expression `hcl:"token_file,optional"`
}

type fileMetrics struct {
	Address hcl.Expression `hcl:"address,optional"`
}

type fileTLS struct {
	CertFile   hcl.Expression `hcl:"cert_file,optional"`
	KeyFile    hcl.Expression `hcl:"key_file,optional"`
	MinVersion hcl.Expression `hcl:"min_version,optional"`
	DefRange   hcl.Range      `hcl:",def_range"`
}

type fileFrame struct {
	MaxFrame          hcl.Expression `hcl:"max_frame,optional"`
	CompressThreshold hcl.Expression `hcl:"compress_threshold,optional"`
}

type filePlugins struct {
	Dir          hcl.Expression `hcl:"dir,optional"`
	StartTimeout hcl.Expression `hcl:"start_timeout,optional"`
	CallTimeout  hcl.Expression `hcl:"call_timeout,optional"`
	Pins         []filePin      `hcl:"pin,block"`
}

type filePin struct {
	Plugin      string         `hcl:"plugin,label"`
	PluginRange hcl.Range      `hcl:"plugin,label_range"`
	SHA256      hcl.Expression `hcl:"sha256,optional"`
	DefRange    hcl.Range      `hcl:",def_range"`
}

type fileDatabase struct {
	Driver   hcl.Expression `hcl:"driver,optional"`
	DSN      hcl.Expression `hcl:"dsn,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type fileSessions struct {
	MaxSessions       hcl.Expression `hcl:"max_sessions,optional"`
	DetachTTL         hcl.Expression `hcl:"detach_ttl,optional"`
	Heartbeat         hcl.Expression `hcl:"heartbeat,optional"`
	IdleTimeout       hcl.Expression `hcl:"idle_timeout,optional"`
	InactivityTimeout hcl.Expression `hcl:"inactivity_timeout,optional"`
	EventLogMaxEvents hcl.Expression `hcl:"event_log_max_events,optional"`
	EventLogMaxBytes  hcl.Expression `hcl:"event_log_max_bytes,optional"`
	CacheCredentials  hcl.Expression `hcl:"cache_credentials,optional"`
	CredentialKeyFile hcl.Expression `hcl:"credential_key_file,optional"`
}

type fileFilePolicy struct {
	Enabled           hcl.Expression `hcl:"enabled,optional"`
	MaxFileBytes      hcl.Expression `hcl:"max_file_bytes,optional"`
	BlockedExtensions hcl.Expression `hcl:"blocked_extensions,optional"`
	OptimizeAllowed   hcl.Expression `hcl:"optimize_allowed,optional"`
}

type fileBackend struct {
	Name      string         `hcl:"name,label"`
	NameRange hcl.Range      `hcl:"name,label_range"`
	Plugin    hcl.Expression `hcl:"plugin,optional"`
	Server    *fileServer    `hcl:"server,block"`
	Settings  *fileSettings  `hcl:"settings,block"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type fileServer struct {
	Host     hcl.Expression `hcl:"host,optional"`
	Port     hcl.Expression `hcl:"port,optional"`
	TLS      *fileServerTLS `hcl:"tls,block"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type fileServerTLS struct {
	Enabled            hcl.Expression `hcl:"enabled,optional"`
	CAFile             hcl.Expression `hcl:"ca_file,optional"`
	ServerName         hcl.Expression `hcl:"server_name,optional"`
	InsecureSkipVerify hcl.Expression `hcl:"insecure_skip_verify,optional"`
}

type fileSettings struct {
	Body hcl.Body `hcl:",remain"`
}
