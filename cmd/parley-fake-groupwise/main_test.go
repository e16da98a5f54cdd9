package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettingsPrecedence(t *testing.T) {
	harness := map[string]string{"SERVER_PORT": "18300", "SERVER_CERT": "/c.pem", "SERVER_KEY": "/k.pem", "SERVER_USERS": "/u.json"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want settings
	}{
		{"defaults", nil, nil, settings{addr: defaultAddr, logLevel: "info"}},
		{"harness environment", nil, harness,
			settings{addr: "127.0.0.1:18300", cert: "/c.pem", key: "/k.pem", users: "/u.json", logLevel: "info"}},
		{"flags win", []string{"-addr", "127.0.0.1:9", "-cert", "a", "-key", "b", "-users", "c"}, harness,
			settings{addr: "127.0.0.1:9", cert: "a", key: "b", users: "c", logLevel: "info"}},
	}
	for _, tt := range tests {
		got, err := parseSettings(tt.args, env(tt.env), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	for _, args := range [][]string{{"-cert", "a"}, {"extra"}, {"-nope"}} {
		if _, err := parseSettings(args, env(nil), &bytes.Buffer{}); err == nil {
			t.Errorf("parseSettings(%q) accepted", args)
		}
	}
}

// TestRunServesAndStops runs the command with an accounts file, logs in
// over TLS and stops it by cancelling its context (as SIGTERM does).
func TestRunServesAndStops(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`{"users": [{"id": "dana", "password": "s3cr3t-Zq", "full_name": "Dana D", "contacts": []}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan *gwtest.Server, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, env(map[string]string{"SERVER_USERS": users}), &syncWriter{w: &logs},
			func(s *gwtest.Server) { started <- s })
	}()
	var srv *gwtest.Server
	select {
	case srv = <-started:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}

	conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := (&gwproto.Request{Command: gwproto.CmdLogin, TID: "1", Fields: gwproto.Fields{
		gwproto.NewString(gwproto.TagSzUserID, "dana"), gwproto.NewString(gwproto.TagSzCredentials, "s3cr3t-Zq")}}).AppendTo(nil)
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := gwproto.NewReader(conn, gwproto.Limits{}).ReadMessage()
	if err != nil || m.Response == nil || m.Response.Err() != nil {
		t.Fatalf("login: %+v, %v", m, err)
	}
	if name, _ := m.Response.Fields.String(gwproto.AttrFullName); name != "Dana D" {
		t.Errorf("user from the accounts file not served: full name %q", name)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if strings.Contains(logs.String(), "s3cr3t-Zq") {
		t.Error("the log contains the password")
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"users": [{"id": "a=b"}]}`), 0o600)
	tests := []struct {
		name string
		args []string
		want error
	}{
		{"bad users file", []string{"-users", bad}, gwtest.ErrBadUsers},
		{"missing certificate", []string{"-cert", filepath.Join(dir, "no.pem"), "-key", filepath.Join(dir, "no.key")}, os.ErrNotExist},
		{"bad log level", []string{"-log-level", "loud"}, errUsage},
		{"echo of an unknown user", []string{"-echo", "zed"}, errUsage},
	}
	for _, tt := range tests {
		err := run(context.Background(), append(tt.args, "-addr", "127.0.0.1:0"), env(nil), &bytes.Buffer{}, nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
