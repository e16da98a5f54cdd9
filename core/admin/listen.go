package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Networks accepted by Listen (conf.Admin.Network).
const (
	NetworkTCP  = "tcp"
	NetworkUnix = "unix"
)

// maxSocketPath is the longest unix socket path Linux takes (sun_path
// holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// Listen opens the admin API's listener. For "tcp" the host must be a
// loopback address or "localhost" (ErrNotLoopback otherwise). For "unix"
// the socket is created with mode 0600, and its directory (0700) if
// missing; a socket file left by a process that is gone is removed first,
// one a live process answers on is not (ErrSocketInUse), and neither is a
// path that is not a socket (ErrNotSocket). Closing the listener removes
// the socket file.
func Listen(network, address string) (net.Listener, error) {
	switch network {
	case NetworkTCP:
		if err := checkLoopback(address); err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", address)
		if err != nil {
			return nil, fmt.Errorf("admin: listen: %w", err)
		}
		return ln, nil
	case NetworkUnix:
		return listenUnix(address)
	}
	return nil, fmt.Errorf("admin: listen: network %q is neither %q nor %q", network, NetworkTCP, NetworkUnix)
}

func checkLoopback(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("admin: listen: %q: %w", address, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q (use 127.0.0.1, [::1], localhost or unix:/path)", ErrNotLoopback, address)
	}
	return nil
}

func listenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, fmt.Errorf("admin: listen: empty unix socket path")
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("admin: listen: unix socket path %q is longer than %d bytes", path, maxSocketPath)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	// The socket is made in a private directory, given mode 0600 there and
	// only then renamed into place, so that no other user can ever connect
	// to it; changing the process-wide umask instead would race with every
	// other goroutine creating files.
	private, err := os.MkdirTemp(dir, ".a")
	if err != nil {
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, "s")
	if len(tmp) > maxSocketPath {
		return nil, fmt.Errorf("admin: listen: unix socket directory %q is too long for the temporary socket made in it (%d bytes at most)",
			dir, maxSocketPath)
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ul.Close()
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

// removeStaleSocket removes a socket file nobody answers on.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin: listen: %w", err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%w: %s", ErrNotSocket, path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("%w: %s", ErrSocketInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin: listen: checking %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin: listen: removing stale socket: %w", err)
	}
	return nil
}

// unixListener removes its socket file, at its final path, on Close.
type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("admin: removing socket: %w", rmErr)
		}
	})
	return err
}
