package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/admin/admintest"
	"github.com/parleygw/parley/core/configdb"
)

// ctl runs parleyctl against the server with a token file holding the
// server's token.
func ctl(t *testing.T, srv *admintest.Server, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte(admintest.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return runCtl(t, append([]string{"-admin", srv.Addr(), "-token-file", tokenFile}, args...)...)
}

func runCtl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// mustCtl runs parleyctl and fails the test unless it succeeds.
func mustCtl(t *testing.T, srv *admintest.Server, args ...string) string {
	t.Helper()
	out, errOut, code := ctl(t, srv, args...)
	if code != 0 {
		t.Fatalf("parleyctl %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// column returns the cell of a table line under the header's column name.
func column(t *testing.T, table, name string, row int) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if row+1 >= len(lines) {
		t.Fatalf("table has no row %d:\n%s", row, table)
	}
	head := lines[0]
	start := strings.Index(head, name)
	if start < 0 {
		t.Fatalf("no column %q in %q", name, head)
	}
	// The column ends where the next header name starts.
	end := len(lines[row+1])
	if gap := strings.Index(head[start+len(name):], "  "); gap >= 0 {
		if next := strings.IndexFunc(head[start+len(name)+gap:], func(r rune) bool { return r != ' ' }); next >= 0 {
			end = start + len(name) + gap + next
		}
	}
	line := lines[row+1]
	if start > len(line) {
		return ""
	}
	return strings.TrimSpace(line[start:min(end, len(line))])
}

func TestUserCommands(t *testing.T) {
	t.Setenv(tokenEnv, "")
	srv := admintest.NewServer(t)
	mustCtl(t, srv, "group", "add", "staff", "-description", "all staff")
	out := mustCtl(t, srv, "user", "add", "alice", "-backend", "groupwise", "-login", "asmith", "-group", "staff", "-name", "Alice Smith")
	if !strings.Contains(out, "added user alice") || !strings.Contains(out, "asmith") {
		t.Errorf("user add printed:\n%s", out)
	}
	mustCtl(t, srv, "user", "add", "-backend", "sametime", "-disabled", "bob")

	out = mustCtl(t, srv, "user", "list")
	for _, want := range []struct{ col, alice, bob string }{
		{"ID", "alice", "bob"}, {"ENABLED", "yes", "no"}, {"BACKEND", "groupwise", "sametime"},
		{"BACKEND LOGIN", "asmith", "bob"}, {"GROUP", "staff", "-"}, {"NAME", "Alice Smith", ""},
	} {
		if got := column(t, out, want.col, 0); got != want.alice {
			t.Errorf("alice's %s = %q, want %q\n%s", want.col, got, want.alice, out)
		}
		if got := column(t, out, want.col, 1); got != want.bob {
			t.Errorf("bob's %s = %q, want %q\n%s", want.col, got, want.bob, out)
		}
	}

	out = mustCtl(t, srv, "user", "show", "ALICE")
	for _, want := range []string{"id:            alice", "backend login: asmith", "group:         staff", "display name:  Alice Smith"} {
		if !strings.Contains(out, want) {
			t.Errorf("user show lacks %q:\n%s", want, out)
		}
	}

	srv.Sessions.Add(admin.SessionInfo{ID: "s1", User: "alice", Backend: "groupwise"})
	out = mustCtl(t, srv, "user", "disable", "alice")
	if out != "disabled alice; ended 1 live session\n" {
		t.Errorf("user disable printed %q", out)
	}
	if k := srv.Sessions.Kicks(); len(k) != 1 || k[0].User != "alice" {
		t.Errorf("kicks = %+v", k)
	}
	if u, _ := srv.Store.GetUser(context.Background(), "alice"); u.Enabled {
		t.Error("alice is still enabled")
	}
	if out := mustCtl(t, srv, "user", "enable", "alice"); out != "enabled alice\n" {
		t.Errorf("user enable printed %q", out)
	}
	if out := mustCtl(t, srv, "user", "set-group", "bob", "staff"); out != "bob is in group staff now\n" {
		t.Errorf("user set-group printed %q", out)
	}
	if out := mustCtl(t, srv, "user", "set-group", "bob", ""); out != "bob is in no group now\n" {
		t.Errorf("user set-group \"\" printed %q", out)
	}
	if out := mustCtl(t, srv, "user", "delete", "bob"); out != "deleted bob; no live sessions\n" {
		t.Errorf("user delete printed %q", out)
	}
	if users, _ := srv.Store.ListUsers(context.Background()); len(users) != 1 {
		t.Errorf("users left: %+v", users)
	}
}

func TestGroupCommands(t *testing.T) {
	t.Setenv(tokenEnv, "")
	srv := admintest.NewServer(t)
	if out := mustCtl(t, srv, "group", "add", "staff"); out != "added group staff\n" {
		t.Errorf("group add printed %q", out)
	}
	mustCtl(t, srv, "group", "add", "interns", "-description", "summer")
	mustCtl(t, srv, "user", "add", "alice", "-backend", "gw", "-group", "staff")
	out := mustCtl(t, srv, "group", "list")
	if column(t, out, "NAME", 1) != "staff" || column(t, out, "USERS", 1) != "1" || column(t, out, "DESCRIPTION", 0) != "summer" {
		t.Errorf("group list:\n%s", out)
	}
	_, errOut, code := ctl(t, srv, "group", "delete", "staff")
	if code != 1 || !strings.Contains(errOut, "(in_use)") {
		t.Errorf("deleting a group in use: exit %d, %q", code, errOut)
	}
	if out := mustCtl(t, srv, "group", "delete", "interns"); out != "deleted group interns\n" {
		t.Errorf("group delete printed %q", out)
	}
}

func TestPolicyCommands(t *testing.T) {
	t.Setenv(tokenEnv, "")
	srv := admintest.NewServer(t)
	mustCtl(t, srv, "group", "add", "staff")
	mustCtl(t, srv, "user", "add", "alice", "-backend", "gw", "-group", "staff")

	out := mustCtl(t, srv, "policy", "show", "staff")
	if !strings.Contains(out, "the default policy") || !strings.Contains(out, "max file size: 10MB") {
		t.Errorf("policy show before set:\n%s", out)
	}
	out = mustCtl(t, srv, "policy", "set", "staff", "-max-size", "512KB", "-block", "EXE, bat", "-file-transfer", "on", "-optimize", "off")
	for _, want := range []string{"the group's own policy", "file transfer: on", "max file size: 512KB", "blocked:       bat,exe", "optimize:      off"} {
		if !strings.Contains(out, want) {
			t.Errorf("policy set output lacks %q:\n%s", want, out)
		}
	}
	p, err := srv.Store.GetPolicy(context.Background(), "staff")
	if err != nil || p.MaxFileBytes != 512<<10 || p.OptimizeAllowed || len(p.BlockedExtensions) != 2 {
		t.Errorf("stored policy %+v, %v", p, err)
	}

	// Only the flags given change.
	mustCtl(t, srv, "policy", "set", "staff", "-block", "*")
	out = mustCtl(t, srv, "policy", "show", "-user", "alice")
	for _, want := range []string{"user:          alice", "blocked:       * (every file)", "max file size: 512KB", "optimize:      off"} {
		if !strings.Contains(out, want) {
			t.Errorf("policy show -user lacks %q:\n%s", want, out)
		}
	}
	mustCtl(t, srv, "policy", "set", "staff", "-max-size", "0", "-block", "")
	out = mustCtl(t, srv, "policy", "list")
	if column(t, out, "MAX SIZE", 0) != "no limit" || column(t, out, "BLOCKED", 0) != "none" || column(t, out, "GROUP", 1) != "(default)" {
		t.Errorf("policy list:\n%s", out)
	}
	out = mustCtl(t, srv, "policy", "delete", "staff")
	if !strings.Contains(out, "default") {
		t.Errorf("policy delete printed %q", out)
	}
	if _, err := srv.Store.GetPolicy(context.Background(), "staff"); err == nil {
		t.Error("the policy is still there")
	}
}

func TestSessionsPluginsAuditHealth(t *testing.T) {
	t.Setenv(tokenEnv, "")
	srv := admintest.NewServer(t)
	srv.Sessions.Add(admin.SessionInfo{ID: "0123abcd", User: "alice", Backend: "groupwise", Login: "asmith",
		DevicesAttached: 1, DevicesTotal: 2, PendingEvents: 5})
	out := mustCtl(t, srv, "sessions", "list")
	if column(t, out, "USER", 0) != "alice" || column(t, out, "DEVICES", 0) != "1/2 attached" || column(t, out, "PENDING", 0) != "5" {
		t.Errorf("sessions list:\n%s", out)
	}
	if out := mustCtl(t, srv, "sessions", "kick", "alice"); out != "alice: ended 1 live session\n" {
		t.Errorf("sessions kick printed %q", out)
	}
	if out := mustCtl(t, srv, "sessions", "list"); out != "no live sessions\n" {
		t.Errorf("sessions list after the kick: %q", out)
	}

	srv.Plugins.Set(admin.PluginStatus{Backend: "groupwise", Name: "groupwise", Version: "1.0.0", State: "failed",
		LastError: "exited\nwith status 2"})
	out = mustCtl(t, srv, "plugins", "list")
	if column(t, out, "STATE", 0) != "failed" || column(t, out, "LAST ERROR", 0) != "exited with status 2" {
		t.Errorf("plugins list:\n%s", out)
	}
	out = mustCtl(t, srv, "plugins", "reload")
	if srv.Plugins.Reloads() != 1 || !strings.HasPrefix(out, "reloaded plugins\n") || column(t, strings.TrimPrefix(out, "reloaded plugins\n"), "STATE", 0) != "up" {
		t.Errorf("plugins reload (%d reloads):\n%s", srv.Plugins.Reloads(), out)
	}

	for _, g := range []string{"a", "b", "c"} {
		mustCtl(t, srv, "group", "add", g)
	}
	out = mustCtl(t, srv, "audit", "-n", "2")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 ||
		column(t, out, "ACTION", 0) != "group.add" || column(t, out, "TARGET", 0) != "c" || column(t, out, "ACTOR", 1) != "admin-api" {
		t.Errorf("audit -n 2:\n%s", out)
	}
	out = mustCtl(t, srv, "audit", "-target", "a")
	if strings.Count(out, "\n") != 2 || column(t, out, "TARGET", 0) != "a" {
		t.Errorf("audit -target a:\n%s", out)
	}

	out = mustCtl(t, srv, "health")
	for _, want := range []string{"status:   ok", "groups:   3", "plugins:  1 (1 up)"} {
		if !strings.Contains(out, want) {
			t.Errorf("health lacks %q:\n%s", want, out)
		}
	}
}

func TestJSONOutputIsTheAPIsJSON(t *testing.T) {
	t.Setenv(tokenEnv, "")
	srv := admintest.NewServer(t)
	mustCtl(t, srv, "user", "add", "alice", "-backend", "groupwise")
	for _, args := range [][]string{{"-json", "user", "list"}, {"user", "list", "-json"}} {
		out := mustCtl(t, srv, args...)
		var list admin.UserList
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&list); err != nil || len(list.Users) != 1 || list.Users[0].ID != "alice" {
			t.Errorf("%v: %+v, %v\n%s", args, list, err, out)
		}
	}
	out := mustCtl(t, srv, "-json", "health")
	var h admin.Health
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.Users != 1 {
		t.Errorf("-json health: %+v, %v", h, err)
	}

	// Errors are JSON too, on stderr.
	out, errOut, code := ctl(t, srv, "-json", "user", "show", "nobody")
	var e struct {
		Error struct{ Code, Message string }
	}
	if code != 1 || out != "" || json.Unmarshal([]byte(errOut), &e) != nil || e.Error.Code != admin.CodeNotFound {
		t.Errorf("-json error: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestAPIErrorsExitOne(t *testing.T) {
	t.Setenv(tokenEnv, "")
	srv := admintest.NewServer(t, admintest.WithBackends("groupwise"))
	mustCtl(t, srv, "user", "add", "alice", "-backend", "groupwise")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "show", "nobody"}, `parleyctl: user show: no user "nobody" (not_found)`},
		{[]string{"user", "add", "alice", "-backend", "lotus"}, `no backend "lotus" is configured (backends: groupwise) (invalid_argument)`},
		{[]string{"user", "set-group", "nobody", "x"}, `no user "nobody" (not_found)`},
		{[]string{"user", "set-group", "alice", "nogroup"}, `no group "nogroup" (not_found)`},
		{[]string{"policy", "set", "nogroup", "-optimize", "on"}, `(not_found)`},
		{[]string{"policy", "set", "x", "-block", "e x e"}, `(invalid_argument)`},
	} {
		mustCtl(t, srv, "group", "add", "x")
		out, errOut, code := ctl(t, srv, tc.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.args, code, out, errOut, tc.want)
		}
		runCtlIgnore(t, srv, "group", "delete", "x")
	}
	if _, errOut, code := ctl(t, srv, "user", "add", "alice", "-backend", "groupwise"); code != 1 || !strings.Contains(errOut, "(already_exists)") {
		t.Errorf("duplicate user: exit %d, %q", code, errOut)
	}
}

func runCtlIgnore(t *testing.T, srv *admintest.Server, args ...string) { ctl(t, srv, args...) }

func TestUsageErrorsExitTwoWithoutAsking(t *testing.T) {
	t.Setenv(tokenEnv, "")
	srv := admintest.NewServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: parleyctl"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"user"}, "want one of: add, delete, disable, enable, list, set-group, show"},
		{[]string{"user", "add", "alice"}, "-backend is required"},
		{[]string{"user", "add", "-backend", "gw"}, "missing arguments"},
		{[]string{"user", "show", "alice", "bob"}, `unexpected argument "bob"`},
		{[]string{"user", "list", "-color"}, "flag provided but not defined: -color"},
		{[]string{"policy", "set", "staff"}, "nothing to set"},
		{[]string{"policy", "set", "staff", "-max-size", "10XB"}, "not a size"},
		{[]string{"policy", "set", "staff", "-file-transfer", "maybe"}, "want on or off"},
		{[]string{"policy", "show"}, "name a group, or a user with -user"},
		{[]string{"policy", "show", "staff", "-user", "alice"}, "not both"},
		{[]string{"audit", "-n", "0"}, "want 1 to 1000"},
		{[]string{"audit", "-n", "many"}, "invalid value"},
	} {
		out, errOut, code := ctl(t, srv, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if audit, _ := srv.Store.ListAudit(context.Background(), configdb.AuditQuery{}); len(audit) != 0 {
		t.Errorf("usage errors changed the database: %+v", audit)
	}
	if _, errOut, code := ctl(t, srv, "-h"); code != 0 || !strings.Contains(errOut, "policy set <group>") {
		t.Errorf("-h: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := ctl(t, srv, "user", "add", "-h"); code != 0 || !strings.Contains(errOut, "-backend") {
		t.Errorf("user add -h: exit %d\n%s", code, errOut)
	}
}

func TestTokenFromTheEnvironment(t *testing.T) {
	srv := admintest.NewServer(t)
	missing := filepath.Join(t.TempDir(), "no.token")

	t.Setenv(tokenEnv, admintest.Token)
	if _, errOut, code := runCtl(t, "-admin", srv.Addr(), "-token-file", missing, "health"); code != 0 {
		t.Errorf("with $%s: exit %d, %s", tokenEnv, code, errOut)
	}

	t.Setenv(tokenEnv, "some-other-token-0123456789")
	_, errOut, code := runCtl(t, "-admin", srv.Addr(), "-token-file", missing, "health")
	if code != 1 || !strings.Contains(errOut, "(unauthorized)") {
		t.Errorf("wrong token: exit %d, %q", code, errOut)
	}

	t.Setenv(tokenEnv, "")
	_, errOut, code = runCtl(t, "-admin", srv.Addr(), "-token-file", missing, "health")
	if code != 1 || !strings.Contains(errOut, "-token-file") || !strings.Contains(errOut, tokenEnv) {
		t.Errorf("no token: exit %d, %q", code, errOut)
	}
}

func TestDaemonNotReachable(t *testing.T) {
	t.Setenv(tokenEnv, admintest.Token)
	srv := admintest.NewServer(t)
	addr := srv.Addr()
	srv.Close()
	_, errOut, code := runCtl(t, "-admin", addr, "health")
	if code != 1 || !strings.Contains(errOut, "cannot reach parleyd's admin API at "+addr) || !strings.Contains(errOut, "connection refused") {
		t.Errorf("closed port: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCtl(t, "-admin", "192.0.2.7:4102", "health")
	if code != 1 || !strings.Contains(errOut, "loopback") {
		t.Errorf("remote address: exit %d, %q", code, errOut)
	}
}

func TestOverUnixSocket(t *testing.T) {
	t.Setenv(tokenEnv, admintest.Token)
	store := admintest.NewServer(t).Store
	h, err := admin.New(admin.Options{Store: store, Token: admintest.Token})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "admin.sock")
	ln, err := admin.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := admin.NewHTTPServer(h, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	if _, errOut, code := runCtl(t, "-admin", "unix:"+sock, "group", "add", "staff"); code != 0 {
		t.Fatalf("group add over the socket: exit %d, %s", code, errOut)
	}
	out, _, _ := runCtl(t, "-admin", "unix:"+sock, "audit")
	if !strings.Contains(out, "admin-api uid=") {
		t.Errorf("audit over the socket does not name the peer:\n%s", out)
	}
}
