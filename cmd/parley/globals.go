package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/parleygw/parley/client"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

type globals struct {
	server  string
	caFile  string
	state   string
	json    bool
	timeout time.Duration
	width   uint
	height  uint
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.server, "server", envOr("PARLEY_SERVER", "127.0.0.1:4101"), "gateway address host:port ($PARLEY_SERVER)")
	fs.StringVar(&g.caFile, "ca", os.Getenv("PARLEY_CA"), "PEM file of the CA (or self-signed certificate) to trust ($PARLEY_CA); default: system roots")
	fs.StringVar(&g.state, "state", envOr("PARLEY_STATE", defaultStatePath()), "file that remembers the session between commands ($PARLEY_STATE)")
	fs.BoolVar(&g.json, "json", false, "print one JSON object per line")
	fs.DurationVar(&g.timeout, "timeout", 15*time.Second, "deadline for connecting and each request")
	fs.UintVar(&g.width, "screen-width", 1080, "device screen width in pixels (for optimised images)")
	fs.UintVar(&g.height, "screen-height", 1920, "device screen height in pixels")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultStatePath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ".parley-state.json"
	}
	return filepath.Join(dir, "parley", "state.json")
}

// state is what the CLI remembers between commands. The resume token is a
// credential: the file is written 0600.
type state struct {
	Server      string `json:"server"`
	DeviceID    string `json:"device_id"`
	User        string `json:"user,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
	ResumeToken []byte `json:"resume_token,omitempty"`
	LastSeq     uint64 `json:"last_seq,omitempty"`
	// Invitations are the file offers 'listen' showed and no command
	// has answered yet.
	Invitations []invitation `json:"invitations,omitempty"`
}

func (g *globals) load() (*state, error) {
	b, err := os.ReadFile(g.state)
	if errors.Is(err, os.ErrNotExist) {
		var id [8]byte
		rand.Read(id[:])
		return &state{Server: g.server, DeviceID: "cli-" + hex.EncodeToString(id[:])}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading state %s: %w", g.state, err)
	}
	return &s, nil
}

func (g *globals) save(s *state) error {
	if err := os.MkdirAll(filepath.Dir(g.state), 0o700); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := g.state + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return os.Rename(tmp, g.state)
}

func (g *globals) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.caFile != "" {
		pem, err := os.ReadFile(g.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", g.caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func (g *globals) clientConfig(s *state) (client.Config, error) {
	tlsCfg, err := g.tlsConfig()
	if err != nil {
		return client.Config{}, err
	}
	return client.Config{Addr: g.server, TLS: tlsCfg, ClientName: "parley-cli", DeviceID: s.DeviceID, ManualAck: true,
		Screen: &devicev1.Screen{Width: uint32(g.width), Height: uint32(g.height)}}, nil
}

func (g *globals) dial(ctx context.Context, s *state) (*client.Conn, error) {
	cfg, err := g.clientConfig(s)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	return client.Dial(ctx, cfg)
}

// resume dials and resumes the remembered session; the new resume token
// is saved at once (the old one is spent).
func (g *globals) resume(ctx context.Context) (*client.Conn, *state, error) {
	s, err := g.load()
	if err != nil {
		return nil, nil, err
	}
	if s.SessionID == "" {
		return nil, nil, errors.New("not logged in: run 'parley login' first")
	}
	conn, err := g.dial(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	opened, err := conn.Resume(rctx, s.SessionID, s.ResumeToken, s.LastSeq)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	s.ResumeToken = opened.ResumeToken
	if err := g.save(s); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, s, nil
}

// finish closes the link without logging out and remembers the state
// (the events this command printed and acknowledged).
func (g *globals) finish(conn *client.Conn, s *state) error {
	conn.Close()
	return g.save(s)
}
