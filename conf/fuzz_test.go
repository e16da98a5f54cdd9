package conf

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// return either a Config or an *Error, and any Config it returns must keep
// the promises documented on Config.
func FuzzParse(f *testing.F) {
	f.Add(defaultHCL)
	examples, _ := filepath.Glob("examples/*.hcl")
	for _, name := range examples {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	for _, s := range []string{
		"",
		"backend \"groupwise\" {\n  server { host = \"gw\" }\n  settings {\n    a = { b = [1, \"c\", null] }\n  }\n}\n",
		"sessions {\n  heartbeat = \"10m\"\n  idle_timeout = \"10m1s\"\n}\n",
		"admin { address = \"unix:admin.sock\" }\n",
		"plugins {\n  pin \"x\" { sha256 = \"00\" }\n}\n",
		"data_dir = \"${1}\"\nlog_level = <<EOT\ninfo\nEOT\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse(src, "fuzz.hcl")
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Diagnostics) == 0 {
				t.Fatalf("error %v (%T) is not an *Error with diagnostics", err, err)
			}
			return
		}
		for _, p := range []string{cfg.DataDir, cfg.Admin.TokenFile, cfg.TLS.CertFile, cfg.TLS.KeyFile,
			cfg.Plugins.Dir, cfg.Database.DSN, cfg.Sessions.CredentialKeyFile} {
			if cfg.Database.Driver == DriverPostgres && p == cfg.Database.DSN {
				continue
			}
			if !filepath.IsAbs(p) {
				t.Errorf("path %q is not absolute", p)
			}
		}
		if cfg.Sessions.IdleTimeout <= cfg.Sessions.Heartbeat {
			t.Errorf("idle_timeout %s <= heartbeat %s", cfg.Sessions.IdleTimeout, cfg.Sessions.Heartbeat)
		}
		for _, b := range cfg.Backends {
			if !json.Valid(b.Settings) {
				t.Errorf("backend %q settings are not JSON: %q", b.Name, b.Settings)
			}
			if b.Server.Port < 1 || b.Server.Port > 65535 || b.Server.Host == "" {
				t.Errorf("backend %q server %+v", b.Name, b.Server)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	src, err := os.ReadFile("examples/production-postgres.hcl")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src, "production-postgres.hcl"); err != nil {
			b.Fatal(err)
		}
	}
}
