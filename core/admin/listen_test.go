package admin_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/parleygw/parley/core/admin"
	"github.com/parleygw/parley/core/admin/admintest"
)

func TestListenRefusesNonLoopbackTCP(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.10:0", "example.com:0", "10.0.0.1:4102"} {
		ln, err := admin.Listen("tcp", addr)
		if !errors.Is(err, admin.ErrNotLoopback) {
			t.Errorf("Listen(tcp, %q) error %v, want ErrNotLoopback", addr, err)
		}
		if ln != nil {
			ln.Close()
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := admin.Listen("tcp", addr)
		if err != nil {
			t.Errorf("Listen(tcp, %q): %v", addr, err)
			continue
		}
		ln.Close()
	}
	if _, err := admin.Listen("udp", "127.0.0.1:0"); err == nil {
		t.Error("Listen(udp) worked")
	}
}

func TestListenUnixSocketIsPrivate(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "run", "admin.sock")
	ln, err := admin.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", info.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %v, want the socket only", entries)
	}

	// A second daemon does not take over a live socket.
	if _, err := admin.Listen("unix", path); !errors.Is(err, admin.ErrSocketInUse) {
		t.Errorf("second Listen: %v, want ErrSocketInUse", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file still there after Close: %v", err)
	}
}

func TestListenUnixRefusesOverLongPath(t *testing.T) {
	path := filepath.Join(shortTempDir(t), strings.Repeat("s", 100)+".sock")
	if _, err := admin.Listen("unix", path); err == nil || !strings.Contains(err.Error(), "longer than 107 bytes") {
		t.Errorf("Listen with a %d-byte path: %v", len(path), err)
	}
}

func TestListenUnixRemovesStaleSocket(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "admin.sock")
	// A socket file nobody listens on, as a crashed daemon leaves it.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	ln, err := admin.Listen("unix", path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestListenUnixLeavesOtherFilesAlone(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "admin.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Listen("unix", path); !errors.Is(err, admin.ErrNotSocket) {
		t.Errorf("Listen over a regular file: %v, want ErrNotSocket", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Error("the file was changed")
	}
}

// TestUnixPeerIsTheAuditActor serves the API over a unix socket and checks
// that the audit log names the connecting user.
func TestUnixPeerIsTheAuditActor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are read on Linux only")
	}
	db := admintest.NewServer(t).Store
	h, err := admin.New(admin.Options{Store: db, Token: admintest.Token})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(shortTempDir(t), "admin.sock")
	ln, err := admin.Listen("unix", path)
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

	c, err := admin.NewClient("unix:"+path, admintest.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.AddGroup(ctx, admin.NewGroup{Name: "staff"}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Audit(ctx, admin.AuditQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := "admin-api uid=" + strconv.Itoa(os.Getuid())
	if len(list.Entries) != 1 || list.Entries[0].Actor != want {
		t.Errorf("audit = %+v, want actor %q", list.Entries, want)
	}
}

// shortTempDir is a temporary directory with a path short enough for a
// unix socket (t.TempDir can exceed the 108-byte limit).
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "adm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
