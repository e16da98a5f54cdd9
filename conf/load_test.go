package conf

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefault(t *testing.T) {
	want := &Config{
		DataDir:   "/var/lib/parley",
		LogLevel:  "info",
		LogFormat: "text",
		Device:    Listener{Address: ":4101"},
		Admin:     Admin{Network: "tcp", Address: "127.0.0.1:4102", TokenFile: "/var/lib/parley/admin.token"},
		Metrics:   Metrics{Address: "127.0.0.1:4103"},
		TLS: TLS{
			CertFile:   "/var/lib/parley/tls/selfsigned.crt",
			KeyFile:    "/var/lib/parley/tls/selfsigned.key",
			SelfSigned: true,
			MinVersion: tls.VersionTLS13,
		},
		Frame: Frame{MaxFrame: 1 << 20, CompressThreshold: 256},
		Plugins: Plugins{
			Dir:          "/usr/lib/parley/plugins",
			StartTimeout: 10 * time.Second,
			CallTimeout:  5 * time.Second,
		},
		Database: Database{Driver: DriverSQLite, DSN: "/var/lib/parley/parley.db"},
		Sessions: Sessions{
			MaxSessions:       5000,
			DetachTTL:         30 * time.Minute,
			Heartbeat:         30 * time.Second,
			IdleTimeout:       90 * time.Second,
			InactivityTimeout: 0,
			EventLogMaxEvents: 1000,
			EventLogMaxBytes:  256 << 10,
			CacheCredentials:  false,
			CredentialKeyFile: "/var/lib/parley/credential.key",
		},
		FilePolicy: FilePolicy{
			Enabled:           true,
			MaxFileBytes:      10 << 20,
			BlockedExtensions: []string{"bat", "cmd", "com", "exe", "msi", "pif", "scr", "vbs"},
			OptimizeAllowed:   true,
		},
	}
	if diff := cmp.Diff(want, Default()); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}

	// Without a file, Load gives the defaults.
	cfg, err := Load("")
	if err != nil {
		t.Fatalf("Load(\"\"): %v", err)
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Load(\"\") mismatch (-want +got):\n%s", diff)
	}
}

func TestFileOverridesOnlyWhatItSets(t *testing.T) {
	cfg := mustParse(t, `
sessions {
  detach_ttl = "45m"
}
file_policy {
  blocked_extensions = []
}
`)
	want := Default()
	want.Sessions.DetachTTL = 45 * time.Minute
	want.FilePolicy.BlockedExtensions = []string{}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.hcl"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file: got %v, want fs.ErrNotExist", err)
	}
}

func TestLoadReadsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.hcl")
	if err := os.WriteFile(path, []byte("log_level = \"debug\"\nlog_format = 42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + ":2,14-16: Invalid log_format"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load: got %v, want an error containing %q", err, want)
	}
}

func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg, err := Parse([]byte(`
tls {
  cert_file = "certs/gw.crt"
  key_file  = "/etc/parley/gw.key"
}
backend "gw" {
  plugin = "groupwise"
  server {
    host = "gw.example.com"
    tls { ca_file = "ca.pem" }
  }
}
`), "parley.hcl", WithDataDir("state"), WithPluginDir("plugins"))
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	got := map[string]string{
		"data_dir":    cfg.DataDir,
		"plugins.dir": cfg.Plugins.Dir,
		"cert_file":   cfg.TLS.CertFile,
		"key_file":    cfg.TLS.KeyFile,
		"token_file":  cfg.Admin.TokenFile,
		"dsn":         cfg.Database.DSN,
		"key":         cfg.Sessions.CredentialKeyFile,
		"ca_file":     cfg.Backends[0].Server.TLS.CAFile,
	}
	want := map[string]string{
		"data_dir":    state,
		"plugins.dir": filepath.Join(dir, "plugins"),
		"cert_file":   filepath.Join(state, "certs/gw.crt"),
		"key_file":    "/etc/parley/gw.key",
		"token_file":  filepath.Join(state, "admin.token"),
		"dsn":         filepath.Join(state, "parley.db"),
		"key":         filepath.Join(state, "credential.key"),
		"ca_file":     filepath.Join(state, "ca.pem"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	if cfg.TLS.SelfSigned {
		t.Error("SelfSigned is true although a certificate is configured")
	}
}

func TestAdminUnixSocket(t *testing.T) {
	cfg := mustParse(t, `
admin { address = "unix:run/admin.sock" }
`)
	if cfg.Admin.Network != "unix" || cfg.Admin.Address != "/var/lib/parley/run/admin.sock" {
		t.Errorf("admin = %+v, want unix socket /var/lib/parley/run/admin.sock", cfg.Admin)
	}
}

func TestBackendDefaults(t *testing.T) {
	cfg := mustParse(t, `
backend "groupwise" {
  server { host = "gw.example.com" }
}
backend "st" {
  plugin = "parley-backend-sametime"
  server { host = "10.1.2.3" }
}
backend "gw-custom" {
  plugin = "groupwise"
  server {
    host = "gw2.example.com"
    port = 9999
    tls { enabled = false }
  }
}
backend "vendor" {
  plugin = "acme-chat"
  server {
    host = "chat.example.com"
    port = 5222
  }
}
`)
	type brief struct {
		Plugin string
		Port   int
		TLS    bool
	}
	got := map[string]brief{}
	for _, b := range cfg.Backends {
		got[b.Name] = brief{b.Plugin, b.Server.Port, b.Server.TLS.Enabled}
	}
	want := map[string]brief{
		"groupwise": {"groupwise", 8300, true},
		"st":        {"sametime", 1533, false},
		"gw-custom": {"groupwise", 9999, false},
		"vendor":    {"acme-chat", 5222, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backends (-want +got):\n%s", diff)
	}
	if b, ok := cfg.Backend("st"); !ok || b.Server.Host != "10.1.2.3" {
		t.Errorf("Backend(\"st\") = %+v, %v", b, ok)
	}
	if _, ok := cfg.Backend("absent"); ok {
		t.Error("Backend(\"absent\") found a backend")
	}
}

func TestSettingsPassedOpaque(t *testing.T) {
	cfg := mustParse(t, `
backend "gw" {
  plugin = "groupwise"
  server { host = "gw.example.com" }
  settings {
    host        = "not the server host: the core must not read this"
    retries     = 3
    ratio       = 0.25
    big         = 12345678901234567890
    verbose     = true
    nothing     = null
    odd-key     = "x"
    tags        = ["a", "b"]
    mixed       = [1, "two", false]
    nested      = { depth = { level = 2 }, list = [] }
  }
}
`)
	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(cfg.Backends[0].Settings))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("settings %s are not JSON: %v", cfg.Backends[0].Settings, err)
	}
	want := map[string]any{
		"host":    "not the server host: the core must not read this",
		"retries": json.Number("3"),
		"ratio":   json.Number("0.25"),
		"big":     json.Number("12345678901234567890"),
		"verbose": true,
		"nothing": nil,
		"odd-key": "x",
		"tags":    []any{"a", "b"},
		"mixed":   []any{json.Number("1"), "two", false},
		"nested": map[string]any{
			"depth": map[string]any{"level": json.Number("2")},
			"list":  []any{},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if cfg.Backends[0].Server.Host != "gw.example.com" {
		t.Errorf("server host = %q: a setting leaked into the server block", cfg.Backends[0].Server.Host)
	}
}

func TestSettingsAbsentIsEmptyObject(t *testing.T) {
	cfg := mustParse(t, "backend \"groupwise\" {\n  server { host = \"gw\" }\n}\n")
	if string(cfg.Backends[0].Settings) != "{}" {
		t.Errorf("settings = %s, want {}", cfg.Backends[0].Settings)
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{`"90s"`, 90 * time.Second},
		{`"1h30m"`, 90 * time.Minute},
		{`"2m0.5s"`, 2*time.Minute + 500*time.Millisecond},
		{`"250ms"`, 250 * time.Millisecond},
		{`"0s"`, 0},
		{`"0"`, 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			cfg := mustParse(t, "sessions {\n  inactivity_timeout = "+tc.in+"\n}\n")
			if cfg.Sessions.InactivityTimeout != tc.want {
				t.Errorf("inactivity_timeout = %s, want %s", cfg.Sessions.InactivityTimeout, tc.want)
			}
		})
	}
	for _, in := range []string{`"30"`, `"30x"`, `"-5s"`, `""`, `"1 h"`, `30`} {
		t.Run("invalid "+in, func(t *testing.T) {
			_, err := Parse([]byte("sessions {\n  detach_ttl = "+in+"\n}\n"), "d.hcl")
			if err == nil || !strings.Contains(err.Error(), "d.hcl:2,16-") || !strings.Contains(err.Error(), "Invalid sessions.detach_ttl") {
				t.Errorf("detach_ttl = %s: got %v, want an error at d.hcl:2,16", in, err)
			}
		})
	}
}

func TestBlockedExtensionsNormalised(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`[".EXE", "exe", "Tar.GZ", " js "]`, []string{"exe", "js", "tar.gz"}},
		{`["exe", "*"]`, []string{"*"}},
		{`[]`, []string{}},
	} {
		cfg := mustParse(t, "file_policy {\n  blocked_extensions = "+tc.in+"\n}\n")
		if diff := cmp.Diff(tc.want, cfg.FilePolicy.BlockedExtensions); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestPins(t *testing.T) {
	cfg := mustParse(t, `
plugins {
  pin "groupwise" {
    sha256 = "9F2C5A0D4B1E8C7F6A3D2E1B0C9F8E7D6C5B4A3F2E1D0C9B8A7F6E5D4C3B2A19"
  }
  pin "parley-backend-sametime" {
    sha256 = "0000000000000000000000000000000000000000000000000000000000000001"
  }
}
`)
	if len(cfg.Plugins.Pins) != 2 || cfg.Plugins.Pins["groupwise"][0] != 0x9f || cfg.Plugins.Pins["sametime"][31] != 1 {
		t.Errorf("pins = %x", cfg.Plugins.Pins)
	}
}

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("examples/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d examples, want at least 5", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f)
			if err != nil {
				t.Fatalf("example does not load:\n%v", err)
			}
			for _, b := range cfg.Backends {
				if !json.Valid(b.Settings) {
					t.Errorf("backend %q settings are not JSON: %s", b.Name, b.Settings)
				}
			}
		})
	}
}

// TestExamplesSayWhatTheyShow pins the point of each named example, so an
// edit cannot quietly turn it into something else.
func TestExamplesSayWhatTheyShow(t *testing.T) {
	load := func(name string) *Config {
		t.Helper()
		cfg, err := Load(filepath.Join("examples", name))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if b := load("minimal.hcl").Backends; len(b) != 1 || b[0].Server.Port != 8300 || !b[0].Server.TLS.Enabled {
		t.Errorf("minimal.hcl: backends %+v, want one GroupWise backend on 8300 with TLS", b)
	}
	if b := load("groupwise-custom-port.hcl").Backends; len(b) != 1 || b[0].Plugin != "groupwise" || b[0].Server.Port == 8300 {
		t.Errorf("groupwise-custom-port.hcl: backends %+v, want GroupWise on a port other than 8300", b)
	}
	if b := load("sametime.hcl").Backends; len(b) != 1 || b[0].Plugin != "sametime" || b[0].Server.Port != 1533 || b[0].Server.TLS.Enabled {
		t.Errorf("sametime.hcl: backends %+v, want Sametime on 1533 without TLS", b)
	}
	if cfg := load("production-postgres.hcl"); cfg.Database.Driver != DriverPostgres || cfg.TLS.SelfSigned ||
		cfg.Admin.Network != "unix" || !cfg.Sessions.CacheCredentials || len(cfg.Plugins.Pins) == 0 {
		t.Errorf("production-postgres.hcl: %+v", cfg)
	}
	if b := load("two-backends.hcl").Backends; len(b) != 2 || b[0].Plugin == b[1].Plugin {
		t.Errorf("two-backends.hcl: backends %+v, want two different plugins", b)
	}
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(src), "test.hcl")
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return cfg
}
