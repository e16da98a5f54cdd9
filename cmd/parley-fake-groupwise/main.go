// Command parley-fake-groupwise runs the fake GroupWise Messenger server of
// package gwtest as a standalone process, for interop runs against real
// clients (libpurple in BitlBee) and for manual testing.
//
// Settings come from flags, else from the environment of the interop
// harness (interop/CONTRACT.md §1), else from defaults:
//
//	-addr   SERVER_PORT → 127.0.0.1:$SERVER_PORT   default 127.0.0.1:8300
//	-cert   SERVER_CERT  PEM chain (leaf first)    default: self-signed, generated
//	-key    SERVER_KEY   PEM private key
//	-users  SERVER_USERS accounts file (JSON)       default: alice, bob, carol / "secret"
//	-echo   ids of users that are always online and echo every message back
//
// It logs to stderr and stops cleanly on SIGTERM or SIGINT.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

const defaultAddr = "127.0.0.1:8300"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "parley-fake-groupwise:", err)
		stop()
		os.Exit(1)
	}
}

// settings are the resolved command-line and environment settings.
type settings struct {
	addr, cert, key, users, echo, logLevel string
}

var errUsage = errors.New("usage")

func parseSettings(args []string, getenv func(string) string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("parley-fake-groupwise", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s settings
	fs.StringVar(&s.addr, "addr", "", "listen address host:port (default $SERVER_PORT on 127.0.0.1, else "+defaultAddr+")")
	fs.StringVar(&s.cert, "cert", "", "TLS certificate chain, PEM (default $SERVER_CERT, else self-signed)")
	fs.StringVar(&s.key, "key", "", "TLS private key, PEM (default $SERVER_KEY)")
	fs.StringVar(&s.users, "users", "", "accounts file, JSON (default $SERVER_USERS, else demo users)")
	fs.StringVar(&s.echo, "echo", "", "comma-separated user ids that are always online and echo every message back")
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
	if s.cert == "" {
		s.cert = getenv("SERVER_CERT")
	}
	if s.key == "" {
		s.key = getenv("SERVER_KEY")
	}
	if s.users == "" {
		s.users = getenv("SERVER_USERS")
	}
	if (s.cert == "") != (s.key == "") {
		return s, fmt.Errorf("a certificate needs its key and a key its certificate: %w", errUsage)
	}
	return s, nil
}

// options turns settings into server options.
func (s settings) options(log hclog.Logger) ([]gwtest.Option, error) {
	opts := []gwtest.Option{gwtest.WithAddr(s.addr), gwtest.WithLogger(log)}
	if s.cert != "" {
		cert, err := tls.LoadX509KeyPair(s.cert, s.key)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		opts = append(opts, gwtest.WithCertificate(cert))
	}
	users := gwtest.DemoUsers()
	if s.users != "" {
		var err error
		if users, err = gwtest.LoadUsersFile(s.users); err != nil {
			return nil, err
		}
	}
	if s.echo != "" {
	next:
		for _, id := range strings.Split(s.echo, ",") {
			for i := range users {
				if strings.EqualFold(users[i].ID, strings.TrimSpace(id)) {
					users[i].Echo = true
					continue next
				}
			}
			return nil, fmt.Errorf("-echo: no user %q: %w", id, errUsage)
		}
	}
	return append(opts, gwtest.WithUsers(users)), nil
}

// run serves until ctx ends. ready, if set, gets the server once it
// listens.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(*gwtest.Server)) error {
	s, err := parseSettings(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	level := hclog.LevelFromString(s.logLevel)
	if level == hclog.NoLevel {
		return fmt.Errorf("log level %q: %w", s.logLevel, errUsage)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "parley-fake-groupwise", Output: stderr, Level: level})
	opts, err := s.options(log)
	if err != nil {
		return err
	}
	srv, err := gwtest.Start(opts...)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(srv)
	}
	<-ctx.Done()
	log.Info("stopping", "cause", context.Cause(ctx))
	srv.Close()
	return nil
}
