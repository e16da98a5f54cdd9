package main

import (
	"bytes"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSettingsPrecedence(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		addr     string
		users    string
		maxBytes int64
	}{
		{"defaults", nil, nil, "127.0.0.1:1533", "", -1},
		{"environment", nil, map[string]string{"SERVER_PORT": "11533", "SERVER_USERS": "/u.json", "SERVER_CERT": "/c.pem"}, "127.0.0.1:11533", "/u.json", -1},
		{"flags win", []string{"-addr", "127.0.0.1:9999", "-users", "/f.json", "-max-file-bytes", "10"},
			map[string]string{"SERVER_PORT": "11533", "SERVER_USERS": "/u.json"}, "127.0.0.1:9999", "/f.json", 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := parseSettings(c.args, env(c.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if s.addr != c.addr || s.users != c.users || s.maxFileBytes != c.maxBytes {
				t.Fatalf("settings %+v", s)
			}
		})
	}
	if _, err := parseSettings([]string{"stray"}, env(nil), &bytes.Buffer{}); err == nil {
		t.Fatal("stray argument accepted")
	}
}

// TestRunServesAndStopsOnSIGTERM runs the command with the harness's
// environment, logs in with the accounts file and stops it with SIGTERM.
func TestRunServesAndStopsOnSIGTERM(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`{"users": [{"id": "dora", "password": "pw", "full_name": "Dora"}], "max_file_bytes": 10}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	started := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"-addr", "127.0.0.1:0"}, env(map[string]string{"SERVER_USERS": users}), &syncWriter{w: &logs}, started)
	}()
	var addr string
	select {
	case addr = <-started:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fr := stproto.NewFrameReader(conn, 0)
	if err := stproto.WriteMessage(conn, &stproto.Message{Body: stproto.NewHandshake()}); err != nil {
		t.Fatal(err)
	}
	m, err := fr.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	l, err := stproto.NewLogin(m.Body.(*stproto.HandshakeAck), "dora", "pw", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stproto.WriteMessage(conn, &stproto.Message{Body: l})
	if m, err = fr.ReadMessage(); err != nil || m.Type() != stproto.TypeLoginAck {
		t.Fatalf("login answer %v, %v", m, err)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop on SIGTERM")
	}
	out := logs.String()
	if !strings.Contains(out, "max_file_bytes=10") || strings.Contains(out, "pw") {
		t.Fatalf("log output:\n%s", out)
	}
}
