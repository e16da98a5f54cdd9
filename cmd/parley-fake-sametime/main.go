// Command parley-fake-sametime runs the fake Sametime community server of
// package sttest as a standalone process, for interop runs against real
// clients (libpurple/meanwhile in BitlBee) and for manual testing.
//
// Settings come from flags, else from the environment of the interop
// harness (interop/CONTRACT.md §1), else from defaults:
//
//	-addr            SERVER_PORT → 127.0.0.1:$SERVER_PORT   default 127.0.0.1:1533
//	-users           SERVER_USERS accounts file (JSON)       default: alice, bob, carol / "secret"
//	-max-file-bytes  max_file_bytes of the accounts file     default 1048576
//
// SERVER_CERT and SERVER_KEY are ignored: Sametime has no TLS. The server
// logs to stderr (never message bodies or passwords) and stops cleanly on
// SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sametime/sttest"
)

var defaultAddr = "127.0.0.1:" + strconv.Itoa(stproto.DefaultPort)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "parley-fake-sametime:", err)
		os.Exit(1)
	}
}

// settings are the resolved command-line and environment settings.
type settings struct {
	addr, users, logLevel string
	maxFileBytes          int64 // < 0: not given on the command line
}

var errUsage = errors.New("usage")

func parseSettings(args []string, getenv func(string) string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("parley-fake-sametime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s settings
	fs.StringVar(&s.addr, "addr", "", "listen address host:port (default $SERVER_PORT on 127.0.0.1, else "+defaultAddr+")")
	fs.StringVar(&s.users, "users", "", "accounts file, JSON (default $SERVER_USERS, else demo users)")
	fs.Int64Var(&s.maxFileBytes, "max-file-bytes", -1, "largest file offer relayed, in bytes (default: the accounts file's max_file_bytes, else 1048576)")
	fs.StringVar(&s.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return s, fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	if s.addr == "" {
		s.addr = defaultAddr
		if port := getenv("SERVER_PORT"); port != "" {
			s.addr = "127.0.0.1:" + port
		}
	}
	if s.users == "" {
		s.users = getenv("SERVER_USERS")
	}
	return s, nil
}

// options turns settings into server options.
func (s settings) options(log hclog.Logger) ([]sttest.Option, error) {
	opts := []sttest.Option{sttest.WithAddr(s.addr), sttest.WithLogger(log)}
	if s.users != "" {
		acc, err := sttest.LoadUsersFile(s.users)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sttest.WithUsers(acc.Users), sttest.WithMaxFileBytes(acc.MaxFileBytes))
	}
	if s.maxFileBytes >= 0 {
		opts = append(opts, sttest.WithMaxFileBytes(s.maxFileBytes))
	}
	return opts, nil
}

// run starts the server and blocks until a signal arrives. If started is
// non-nil it receives the listening address once the server is up.
func run(args []string, getenv func(string) string, stderr io.Writer, started chan<- string) error {
	s, err := parseSettings(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:   "parley-fake-sametime",
		Output: stderr,
		Level:  hclog.LevelFromString(s.logLevel),
	})
	opts, err := s.options(log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := sttest.Start(opts...)
	if err != nil {
		return err
	}
	if started != nil {
		started <- srv.Addr()
	}
	<-ctx.Done()
	log.Info("stopping", "signal", context.Cause(ctx))
	srv.Close()
	return nil
}
