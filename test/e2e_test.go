package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"crypto/tls"

	"github.com/golang/snappy"
	"github.com/parleygw/parley/client"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

var memoryUsers = []user{{"alice", "memory", true}, {"bob", "memory", true}, {"mallory", "memory", false}}

func TestTwoDevicesExchangeMessages(t *testing.T) {
	d := startDaemon(t, memoryUsers...)
	alice, bob := d.login(t, "alice"), d.login(t, "bob")
	ctx := context.Background()
	if _, err := alice.SendMessage(ctx, "bob", "", "hello bob ünïcödé ✓", "a1"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, bob, "alice", "hello bob ünïcödé ✓")
	if _, err := bob.SendMessage(ctx, "alice", "", "hi alice, bob here ✓ ßüñ", "b1"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, alice, "bob", "hi alice, bob here ✓ ßüñ")
}

func TestDisabledUserIsDeniedBeforeAnyBackendCall(t *testing.T) {
	d := startDaemon(t, memoryUsers...)
	c := d.dial(t, "mallory-phone")
	_, err := c.Login(context.Background(), "mallory", "secret")
	if client.Code(err) != devicev1.ErrorCode_PERMISSION_DENIED {
		t.Fatalf("disabled user: got %v, want PERMISSION_DENIED", err)
	}
	_, err = c.Login(context.Background(), "nobody", "secret")
	if client.Code(err) != devicev1.ErrorCode_PERMISSION_DENIED {
		t.Fatalf("unknown user: got %v, want PERMISSION_DENIED", err)
	}
	// The plugin logs every session it opens; a successful login proves
	// the log is flowing, and mallory's never reached it.
	d.login(t, "alice")
	d.waitLog(regexp.MustCompile(`session opened: .*login=alice`))
	if strings.Contains(d.logText(), "login=mallory") || strings.Contains(d.logText(), "login=nobody") {
		t.Fatalf("the plugin was called for a refused user:\n%s", d.logText())
	}
}

func TestKilledPluginIsRestartedAndNewLoginsWork(t *testing.T) {
	d := startDaemon(t, memoryUsers...)
	alice := d.login(t, "alice")
	pid := d.pluginPID(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// alice's session went with the plugin: she is told so.
	timeout := time.After(30 * time.Second)
	for ended := false; !ended; {
		select {
		case e, ok := <-alice.Events():
			if !ok {
				t.Fatalf("link closed without a session_ended event: %v", alice.Err())
			}
			if se := e.GetSessionEnded(); se != nil {
				if se.Reason != devicev1.ErrorCode_RELOGIN_REQUIRED && se.Reason != devicev1.ErrorCode_BACKEND_UNAVAILABLE {
					t.Fatalf("session ended with %v", se.Reason)
				}
				ended = true
			}
		case <-timeout:
			t.Fatal("no session_ended event after the plugin died")
		}
	}
	// The plugin comes back as a new process; logins work again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := d.dial(t, "alice-tablet")
		_, err := c.Login(context.Background(), "alice", "secret")
		if err == nil {
			break
		}
		if client.Code(err) != devicev1.ErrorCode_BACKEND_UNAVAILABLE || time.Now().After(deadline) {
			t.Fatalf("login after the plugin restart: %v", err)
		}
		d.waitLog(regexp.MustCompile(`(?s)plugin.*(started|up).*`)) // wait for progress before retrying
	}
	bob := d.login(t, "bob")
	if newPID := d.pluginPID(t); newPID == pid {
		t.Fatalf("plugin pid unchanged (%d): not restarted", pid)
	}
	alice2 := d.login(t, "alice")
	if _, err := bob.SendMessage(context.Background(), "alice", "", "after the restart", "b-restart"); err != nil {
		t.Fatal(err)
	}
	waitMessage(t, alice2, "bob", "after the restart")
}

func TestHostileFramesAreRefusedWhileOthersKeepWorking(t *testing.T) {
	d := startDaemon(t, memoryUsers...)
	alice, bob := d.login(t, "alice"), d.login(t, "bob")
	header := func(n uint32, flags byte) []byte { return append(binary.BigEndian.AppendUint32(nil, n), flags) }
	bomb := binary.AppendUvarint(nil, 1<<31) // a block claiming 2 GiB
	cases := map[string][]byte{
		"garbage":           []byte("GET / HTTP/1.1\r\nHost: parley\r\n\r\n"),
		"reserved flag bit": append(header(3, 0x80), 0, 0),
		"oversize length":   header(1<<30, 0),
		"snappy bomb":       append(header(uint32(len(bomb)+1), 0x01), bomb...),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := d.tlsConfig(t)
			tlsCfg := cfg.TLS.Clone()
			tlsCfg.NextProtos = []string{client.ALPN}
			conn, err := tls.Dial("tcp", d.addr, tlsCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write(payload)
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			answer, err := io.ReadAll(conn)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("the gateway did not close the link cleanly: %v", err)
			}
			if code := errorCode(t, answer); code != devicev1.ErrorCode_PROTOCOL_ERROR {
				t.Fatalf("answer code %v, want PROTOCOL_ERROR", code)
			}
			text := "still working after " + name
			if _, err := alice.SendMessage(context.Background(), "bob", "", text, name); err != nil {
				t.Fatal(err)
			}
			waitMessage(t, bob, "alice", text)
		})
	}
	if !strings.Contains(d.logText(), "protocol error") {
		t.Errorf("protocol errors were not logged")
	}
}

// errorCode decodes the single frame the gateway sends before closing.
func errorCode(t *testing.T, b []byte) devicev1.ErrorCode {
	t.Helper()
	if len(b) < 5 {
		t.Fatalf("no frame before close (%d bytes)", len(b))
	}
	n := binary.BigEndian.Uint32(b)
	body := b[5 : 4+n]
	if b[4]&1 != 0 {
		var err error
		if body, err = snappy.Decode(nil, body); err != nil {
			t.Fatal(err)
		}
	}
	var f devicev1.Frame
	if err := proto.Unmarshal(body, &f); err != nil || len(f.Messages) == 0 || f.Messages[0].GetError() == nil {
		t.Fatalf("not an Error frame: %x", b)
	}
	return f.Messages[0].GetError().Code
}

func TestCLIScriptsAConversation(t *testing.T) {
	d := startDaemon(t, memoryUsers...)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := writeFile(ca, d.caPEM); err != nil {
		t.Fatal(err)
	}
	cli := func(state string, args ...string) string {
		t.Helper()
		full := append([]string{"-server", d.addr, "-ca", ca, "-state", state, "-json"}, args...)
		cmd := exec.Command(filepath.Join(binDir, "parley"), full...)
		cmd.Env = append(cmd.Environ(), "PARLEY_PASSWORD=secret")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("parley %v: %v\n%s%s", args, err, out, stderr.String())
		}
		return string(out)
	}
	aliceState, bobState := filepath.Join(t.TempDir(), "alice.json"), filepath.Join(t.TempDir(), "bob.json")
	if out := cli(aliceState, "login", "-user", "alice"); !strings.Contains(out, `"type":"logged_in"`) {
		t.Fatalf("login output: %s", out)
	}
	cli(bobState, "login", "-user", "bob")
	cli(aliceState, "send", "-to", "bob", "hello from a script ✓")
	out := cli(bobState, "listen", "-count", "1", "-for", "20s")
	if !strings.Contains(out, `"text":"hello from a script ✓"`) || !strings.Contains(out, `"from":"alice"`) {
		t.Fatalf("bob's listen output: %s", out)
	}
	// The message was acknowledged: listening again does not repeat it.
	if again := cli(bobState, "listen", "-for", "1s"); strings.Contains(again, "hello from a script") {
		t.Fatalf("an acknowledged message was delivered again: %s", again)
	}
	if out := cli(aliceState, "logout"); !strings.Contains(out, "logged_out") {
		t.Fatalf("logout output: %s", out)
	}
}
