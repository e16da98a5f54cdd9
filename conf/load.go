package conf

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
)

// defaultHCL is the built-in configuration every file is layered on.
//
//go:embed default.hcl
var defaultHCL []byte

// defaultFilename names the embedded defaults in diagnostics.
const defaultFilename = "default.hcl"

// Option overrides a setting after the configuration file is applied, the
// way parleyd's command-line flags do.
type Option func(*overrides)

type overrides struct {
	dataDir   string
	pluginDir string
}

// WithDataDir overrides data_dir. A relative dir is taken relative to the
// current directory.
func WithDataDir(dir string) Option {
	return func(o *overrides) { o.dataDir = dir }
}

// WithPluginDir overrides plugins.dir. A relative dir is taken relative to
// the current directory.
func WithPluginDir(dir string) Option {
	return func(o *overrides) { o.pluginDir = dir }
}

// Default returns the embedded default configuration, the one parleyd runs
// on without a configuration file: see default.hcl.
func Default() *Config {
	cfg, err := Parse(nil, "")
	if err != nil {
		// default.hcl is part of the binary; tests load it.
		panic(fmt.Sprintf("conf: embedded default.hcl: %v", err))
	}
	return cfg
}

// Load reads the configuration file at path and layers it, then opts, over
// the embedded defaults. An empty path loads the defaults alone. Problems
// in the file are reported in an *Error.
func Load(path string, opts ...Option) (*Config, error) {
	if path == "" {
		return Parse(nil, "", opts...)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: reading configuration: %w", err)
	}
	return Parse(src, path, opts...)
}

// Parse layers the HCL source src, named filename in error messages, then
// opts, over the embedded defaults. A nil src applies no file. Problems are
// reported in an *Error.
func Parse(src []byte, filename string, opts ...Option) (*Config, error) {
	var o overrides
	for _, opt := range opts {
		opt(&o)
	}
	d := newDecoder()
	cfg := &Config{}
	d.applyFile(cfg, defaultHCL, defaultFilename)
	if src != nil {
		d.applyFile(cfg, src, filename)
	}
	d.override(cfg, o)
	d.finish(cfg)
	if d.diags.HasErrors() {
		var errs hcl.Diagnostics
		for _, diag := range d.diags {
			if diag.Severity == hcl.DiagError {
				errs = append(errs, diag)
			}
		}
		sortByPosition(errs)
		return nil, &Error{Diagnostics: errs}
	}
	return cfg, nil
}

func (d *decoder) override(cfg *Config, o overrides) {
	flag := func(name, dir string, dst *string) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			d.errorf(hcl.Range{Filename: name}, "Invalid "+name, "%s", err)
			return
		}
		*dst = abs
		d.set[name] = hcl.Range{Filename: name}
	}
	if o.dataDir != "" {
		flag("-data-dir", o.dataDir, &cfg.DataDir)
	}
	if o.pluginDir != "" {
		flag("-plugin-dir", o.pluginDir, &cfg.Plugins.Dir)
	}
}

// finish checks settings against each other and resolves relative paths
// against data_dir once every layer has been applied.
func (d *decoder) finish(cfg *Config) {
	s := &cfg.Sessions
	if s.IdleTimeout <= s.Heartbeat {
		d.errorf(d.rangeOf("sessions.idle_timeout", "sessions.heartbeat"), "Invalid sessions.idle_timeout",
			"idle_timeout (%s) must be longer than heartbeat (%s), or live links would be closed", s.IdleTimeout, s.Heartbeat)
	}
	if cfg.Frame.CompressThreshold > cfg.Frame.MaxFrame {
		d.errorf(d.rangeOf("frame.compress_threshold", "frame.max_frame"), "Invalid frame.compress_threshold",
			"compress_threshold (%d) must not exceed max_frame (%d)", cfg.Frame.CompressThreshold, cfg.Frame.MaxFrame)
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		d.errorf(d.rangeOf("tls.cert_file", "tls.key_file"), "Incomplete tls",
			"set both cert_file and key_file, or neither for a self-signed certificate")
	}
	if cfg.Database.Driver == DriverPostgres && cfg.Database.DSN == "" {
		d.errorf(d.rangeOf("database.driver"), "Missing database.dsn",
			"driver \"postgres\" needs dsn, e.g. \"postgres://parley@db.example.com/parley\"")
	}
	d.checkPortClashes(cfg)

	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(cfg.DataDir, *p)
		}
	}
	if cfg.TLS.CertFile == "" {
		cfg.TLS.SelfSigned = true
		cfg.TLS.CertFile = filepath.Join("tls", "selfsigned.crt")
		cfg.TLS.KeyFile = filepath.Join("tls", "selfsigned.key")
	}
	if cfg.Database.Driver == DriverSQLite {
		if cfg.Database.DSN == "" {
			cfg.Database.DSN = "parley.db"
		}
		resolve(&cfg.Database.DSN)
	}
	if cfg.Admin.Network == "unix" {
		resolve(&cfg.Admin.Address)
	}
	for _, p := range []*string{
		&cfg.Admin.TokenFile, &cfg.TLS.CertFile, &cfg.TLS.KeyFile,
		&cfg.Plugins.Dir, &cfg.Sessions.CredentialKeyFile,
	} {
		resolve(p)
	}
	for i := range cfg.Backends {
		resolve(&cfg.Backends[i].Server.TLS.CAFile)
	}
}
