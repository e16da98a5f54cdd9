package conf

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// wellKnownPlugins holds the defaults of the plugins that ship with Parley.
var wellKnownPlugins = map[string]struct {
	port int
	tls  bool
}{
	"groupwise": {port: 8300, tls: true},  // GroupWise Messenger: always TLS
	"sametime":  {port: 1533, tls: false}, // Sametime: plain TCP, own encryption
}

var (
	backendNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	pluginNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

// applyFile parses one HCL file and applies every attribute it sets to cfg.
func (d *decoder) applyFile(cfg *Config, src []byte, filename string) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	var root fileRoot
	// Decoding goes on after errors (an unknown attribute, say) so that
	// one run reports every problem in the file.
	d.diags = append(d.diags, gohcl.DecodeBody(file.Body, nil, &root)...)
	d.root(cfg, &root)
}

func (d *decoder) root(cfg *Config, f *fileRoot) {
	d.str("data_dir", f.DataDir, &cfg.DataDir, checkAbsPath)
	d.str("log_level", f.LogLevel, &cfg.LogLevel, oneOf("trace", "debug", "info", "warn", "error"))
	d.str("log_format", f.LogFormat, &cfg.LogFormat, oneOf("text", "json"))

	seen := make(map[string]hcl.Range)
	for _, l := range f.Listeners {
		if l.Kind != "device" {
			d.errorf(l.KindRange, "Unsupported listener",
				"there is no listener %q; the one listener is \"device\" (admin and metrics have their own blocks)", l.Kind)
			continue
		}
		if prev, dup := seen[l.Kind]; dup {
			d.errorf(l.KindRange, "Duplicate listener", "listener %q is already defined at %s", l.Kind, prev)
			continue
		}
		seen[l.Kind] = l.KindRange
		d.str("listener.device.address", l.Address, &cfg.Device.Address, checkTCPAddr)
	}
	if f.Admin != nil {
		d.admin(&cfg.Admin, f.Admin)
	}
	if f.Metrics != nil {
		d.str("metrics.address", f.Metrics.Address, &cfg.Metrics.Address, func(s string) error {
			if s == "" {
				return nil
			}
			return checkTCPAddr(s)
		})
	}
	if f.TLS != nil {
		d.tls(&cfg.TLS, f.TLS)
	}
	if f.Frame != nil {
		integer(d, "frame.max_frame", f.Frame.MaxFrame, &cfg.Frame.MaxFrame, 16<<10, 64<<20)
		integer(d, "frame.compress_threshold", f.Frame.CompressThreshold, &cfg.Frame.CompressThreshold, 0, 64<<20)
	}
	if f.Plugins != nil {
		d.plugins(&cfg.Plugins, f.Plugins)
	}
	if f.Database != nil {
		d.str("database.driver", f.Database.Driver, &cfg.Database.Driver, oneOf(DriverSQLite, DriverPostgres))
		d.str("database.dsn", f.Database.DSN, &cfg.Database.DSN, nil)
	}
	if f.Sessions != nil {
		d.sessions(&cfg.Sessions, f.Sessions)
	}
	if f.FilePolicy != nil {
		p := f.FilePolicy
		d.boolean("file_policy.enabled", p.Enabled, &cfg.FilePolicy.Enabled)
		integer(d, "file_policy.max_file_bytes", p.MaxFileBytes, &cfg.FilePolicy.MaxFileBytes, 0, 1<<50)
		d.stringList("file_policy.blocked_extensions", p.BlockedExtensions, &cfg.FilePolicy.BlockedExtensions, normExtension)
		cfg.FilePolicy.BlockedExtensions = tidyExtensions(cfg.FilePolicy.BlockedExtensions)
		d.boolean("file_policy.optimize_allowed", p.OptimizeAllowed, &cfg.FilePolicy.OptimizeAllowed)
	}
	d.backends(cfg, f.Backends)
}

func (d *decoder) admin(a *Admin, f *fileAdmin) {
	var addr string
	d.str("admin.address", f.Address, &addr, func(s string) error {
		_, _, err := parseAdminAddr(s)
		return err
	})
	if addr != "" {
		a.Network, a.Address, _ = parseAdminAddr(addr)
	}
	d.str("admin.token_file", f.TokenFile, &a.TokenFile, checkNonEmpty)
}

func (d *decoder) tls(t *TLS, f *fileTLS) {
	d.str("tls.cert_file", f.CertFile, &t.CertFile, nil)
	d.str("tls.key_file", f.KeyFile, &t.KeyFile, nil)
	var v string
	d.str("tls.min_version", f.MinVersion, &v, oneOf("1.2", "1.3"))
	if v != "" {
		t.MinVersion = tlsVersions[v]
	}
}

func (d *decoder) plugins(p *Plugins, f *filePlugins) {
	d.str("plugins.dir", f.Dir, &p.Dir, checkNonEmpty)
	d.duration("plugins.start_timeout", f.StartTimeout, &p.StartTimeout, time.Second, time.Hour)
	d.duration("plugins.call_timeout", f.CallTimeout, &p.CallTimeout, 100*time.Millisecond, time.Hour)
	seen := make(map[string]hcl.Range)
	for _, pin := range f.Pins {
		name, err := pluginName(pin.Plugin)
		if err != nil {
			d.invalid("plugins.pin", pin.PluginRange, err)
			continue
		}
		if prev, dup := seen[name]; dup {
			d.errorf(pin.PluginRange, "Duplicate pin", "plugin %q is already pinned at %s", name, prev)
			continue
		}
		seen[name] = pin.PluginRange
		path := "plugins.pin." + name + ".sha256"
		var digest string
		d.str(path, pin.SHA256, &digest, func(s string) error {
			b, err := hex.DecodeString(s)
			if err != nil || len(b) != 32 {
				return fmt.Errorf("%q is not a SHA-256 digest: 64 hexadecimal digits are required", s)
			}
			return nil
		})
		if digest == "" {
			if _, ok := d.set[path]; !ok {
				d.errorf(pin.DefRange, "Missing sha256", "pin %q needs sha256 = \"<64 hex digits>\" (sha256sum of the plugin binary)", name)
			}
			continue
		}
		if p.Pins == nil {
			p.Pins = make(map[string][]byte)
		}
		p.Pins[name], _ = hex.DecodeString(digest)
	}
}

func (d *decoder) sessions(s *Sessions, f *fileSessions) {
	const forever = 100 * 365 * 24 * time.Hour
	integer(d, "sessions.max_sessions", f.MaxSessions, &s.MaxSessions, 1, 10_000_000)
	d.duration("sessions.detach_ttl", f.DetachTTL, &s.DetachTTL, time.Second, forever)
	d.duration("sessions.heartbeat", f.Heartbeat, &s.Heartbeat, time.Second, 10*time.Minute)
	d.duration("sessions.idle_timeout", f.IdleTimeout, &s.IdleTimeout, time.Second, forever)
	d.duration("sessions.inactivity_timeout", f.InactivityTimeout, &s.InactivityTimeout, 0, forever)
	integer(d, "sessions.event_log_max_events", f.EventLogMaxEvents, &s.EventLogMaxEvents, 1, 10_000_000)
	integer(d, "sessions.event_log_max_bytes", f.EventLogMaxBytes, &s.EventLogMaxBytes, 1024, 1<<40)
	d.boolean("sessions.cache_credentials", f.CacheCredentials, &s.CacheCredentials)
	d.str("sessions.credential_key_file", f.CredentialKeyFile, &s.CredentialKeyFile, checkNonEmpty)
}

func (d *decoder) backends(cfg *Config, blocks []fileBackend) {
	seen := make(map[string]hcl.Range)
	for _, b := range cfg.Backends {
		seen[b.Name] = d.set["backend."+b.Name]
	}
	for i := range blocks {
		f := &blocks[i]
		if !backendNameRE.MatchString(f.Name) {
			d.errorf(f.NameRange, "Invalid backend name",
				"%q: a backend name is 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit", f.Name)
			continue
		}
		if prev, dup := seen[f.Name]; dup {
			d.errorf(f.NameRange, "Duplicate backend", "backend %q is already defined at %s", f.Name, prev)
			continue
		}
		seen[f.Name] = f.NameRange
		d.set["backend."+f.Name] = f.NameRange
		cfg.Backends = append(cfg.Backends, d.backend(f))
	}
}

func (d *decoder) backend(f *fileBackend) Backend {
	prefix := "backend." + f.Name + "."
	b := Backend{Name: f.Name, Plugin: f.Name}
	var plugin string
	d.str(prefix+"plugin", f.Plugin, &plugin, func(s string) error {
		_, err := pluginName(s)
		return err
	})
	if plugin != "" {
		b.Plugin, _ = pluginName(plugin)
	} else if _, err := pluginName(f.Name); err != nil {
		d.errorf(f.NameRange, "Missing plugin",
			"backend %q needs plugin = \"<name>\": its name is not a plugin name (%v)", f.Name, err)
	}
	known, isKnown := wellKnownPlugins[b.Plugin]
	b.Server.Port = known.port
	b.Server.TLS.Enabled = known.tls

	if f.Server == nil {
		d.errorf(f.DefRange, "Missing server block",
			"backend %q needs a server block: server { host = \"im.example.com\" }", f.Name)
	} else {
		s := f.Server
		d.str(prefix+"server.host", s.Host, &b.Server.Host, checkHost)
		if b.Server.Host == "" {
			if _, ok := d.set[prefix+"server.host"]; !ok {
				d.errorf(s.DefRange, "Missing host", "backend %q: server needs host = \"<IM server name or address>\"", f.Name)
			}
		}
		integer(d, prefix+"server.port", s.Port, &b.Server.Port, 1, 65535)
		if _, set := d.set[prefix+"server.port"]; !set && !isKnown {
			d.errorf(s.DefRange, "Missing port",
				"backend %q: plugin %q has no well-known port; set server { port = ... }", f.Name, b.Plugin)
		}
		if t := s.TLS; t != nil {
			tp := prefix + "server.tls."
			d.boolean(tp+"enabled", t.Enabled, &b.Server.TLS.Enabled)
			d.str(tp+"ca_file", t.CAFile, &b.Server.TLS.CAFile, nil)
			d.str(tp+"server_name", t.ServerName, &b.Server.TLS.ServerName, nil)
			d.boolean(tp+"insecure_skip_verify", t.InsecureSkipVerify, &b.Server.TLS.InsecureSkipVerify)
		}
	}
	b.Settings = d.settings(f.Settings)
	return b
}

// settings converts a settings block to a JSON object without interpreting
// it: the plugin validates its own configuration.
func (d *decoder) settings(f *fileSettings) json.RawMessage {
	if f == nil || f.Body == nil {
		return json.RawMessage("{}")
	}
	attrs, diags := f.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	vals := make(map[string]cty.Value, len(attrs))
	for name, a := range attrs {
		v, diags := a.Expr.Value(nil)
		d.diags = append(d.diags, diags...)
		if diags.HasErrors() {
			continue
		}
		if !v.IsWhollyKnown() {
			d.errorf(a.Expr.Range(), "Invalid setting", "%s: the value must be a constant", name)
			continue
		}
		vals[name] = v
	}
	obj := cty.ObjectVal(vals)
	out, err := ctyjson.Marshal(obj, obj.Type())
	if err != nil {
		d.errorf(f.Body.MissingItemRange(), "Invalid settings", "%s", err)
		return json.RawMessage("{}")
	}
	return out
}
