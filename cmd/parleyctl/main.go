// Command parleyctl administers a running parleyd through its admin API:
// users, groups, file transfer policies, live sessions, plugins, the audit
// log and health. It reads the admin token from the daemon's token file
// (or $PARLEY_ADMIN_TOKEN) and talks to the loopback address or unix
// socket the daemon's admin block names. Output is aligned tables for
// people and, with -json, the API's JSON for scripts.
//
// Exit status: 0 on success, 1 when the daemon refuses or cannot be
// reached, 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/parleygw/parley/core/admin"
)

const (
	defaultAdmin     = "127.0.0.1:4102"
	defaultTokenFile = "/var/lib/parley/admin.token"
	tokenEnv         = "PARLEY_ADMIN_TOKEN"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli is one invocation's settings and output.
type cli struct {
	stdout, stderr io.Writer
	adminAddr      string
	tokenFile      string
	json           bool
}

// command is one parleyctl command.
type command struct {
	name  string // "user add"
	args  string // argument synopsis
	about string
	run   func(ctx context.Context, c *cli, cmd *command, args []string) error
}

// usageError is a command line mistake: exit status 2.
type usageError struct {
	cmd *command
	msg string
}

func (e *usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("parleyctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.adminAddr, "admin", defaultAdmin, "admin API address: loopback host:port or unix:/path/to/socket")
	fs.StringVar(&c.tokenFile, "token-file", defaultTokenFile, "file holding the admin token ($"+tokenEnv+" overrides it with the token itself)")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON instead of tables")
	fs.Usage = func() { printUsage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	cmd, cmdArgs := findCommand(rest)
	if cmd == nil {
		if subs := subcommands(rest[0]); len(subs) > 0 {
			fmt.Fprintf(stderr, "parleyctl: %s: want one of: %s\n", rest[0], strings.Join(subs, ", "))
		} else {
			fmt.Fprintf(stderr, "parleyctl: unknown command %q (parleyctl -h lists them)\n", rest[0])
		}
		return 2
	}
	err := cmd.run(ctx, c, cmd, cmdArgs)
	switch ue, isUsage := errors.AsType[*usageError](err); {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case isUsage:
		// Without a message the flag package has already printed the
		// mistake and the command's usage.
		if ue.msg != "" {
			fmt.Fprintf(stderr, "parleyctl: %s: %s\nusage: parleyctl %s %s\n", cmd.name, ue.msg, cmd.name, cmd.args)
		}
		return 2
	}
	c.reportError(cmd, err)
	return 1
}

// reportError prints an error the daemon returned, or why it could not be
// asked; as JSON with -json.
func (c *cli) reportError(cmd *command, err error) {
	ae, isAPI := errors.AsType[*admin.APIError](err)
	if c.json {
		code, msg := "", err.Error()
		if isAPI {
			code, msg = ae.Code, ae.Message
		}
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
		fmt.Fprintf(c.stderr, "%s\n", b)
		return
	}
	if isAPI {
		fmt.Fprintf(c.stderr, "parleyctl: %s: %s (%s)\n", cmd.name, ae.Message, ae.Code)
		return
	}
	if _, isNet := errors.AsType[*net.OpError](err); isNet {
		fmt.Fprintf(c.stderr, "parleyctl: %s: cannot reach parleyd's admin API at %s (is parleyd running, is -admin right?): %v\n",
			cmd.name, c.adminAddr, err)
		return
	}
	fmt.Fprintf(c.stderr, "parleyctl: %s: %v\n", cmd.name, err)
}

// client connects to the admin API with the token from $PARLEY_ADMIN_TOKEN
// or the token file.
func (c *cli) client() (*admin.Client, error) {
	tok := strings.TrimSpace(os.Getenv(tokenEnv))
	if tok == "" {
		var err error
		if tok, err = admin.ReadToken(c.tokenFile); err != nil {
			return nil, fmt.Errorf("%w\n(parleyctl needs the admin token: run it as a user who may read %s, pass -token-file, or set $%s)",
				err, c.tokenFile, tokenEnv)
		}
	}
	cl, err := admin.NewClient(c.adminAddr, tok)
	if err != nil {
		return nil, fmt.Errorf("-admin %s: %w", c.adminAddr, err)
	}
	return cl, nil
}

// flags returns a flag set for a command; every command takes -json too.
func (c *cli) flags(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.BoolVar(&c.json, "json", c.json, "print the API's JSON instead of tables")
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: parleyctl %s %s\n  %s\n", cmd.name, cmd.args, cmd.about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a command's flags and checks that it has want positional
// arguments (any number if want < 0).
func (c *cli) parse(fs *flag.FlagSet, cmd *command, args []string, want int) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		return nil, &usageError{cmd: cmd} // the flag package has said what is wrong
	}
	switch {
	case want < 0:
	case len(pos) < want:
		return nil, &usageError{cmd: cmd, msg: "missing arguments"}
	case len(pos) > want:
		return nil, &usageError{cmd: cmd, msg: fmt.Sprintf("unexpected argument %q", pos[want])}
	}
	return pos, nil
}

// output prints v as JSON with -json, or calls human.
func (c *cli) output(v any, human func()) error {
	if !c.json {
		human()
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", b)
	return err
}

func findCommand(args []string) (*command, []string) {
	if len(args) >= 2 {
		if cmd := commandsByName[args[0]+" "+args[1]]; cmd != nil {
			return cmd, args[2:]
		}
	}
	if cmd := commandsByName[args[0]]; cmd != nil {
		return cmd, args[1:]
	}
	return nil, nil
}

func subcommands(group string) []string {
	var subs []string
	for name := range commandsByName {
		if sub, ok := strings.CutPrefix(name, group+" "); ok {
			subs = append(subs, sub)
		}
	}
	sort.Strings(subs)
	return subs
}

var commandsByName = map[string]*command{}

func init() {
	for _, cmd := range commands {
		commandsByName[cmd.name] = cmd
	}
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "usage: parleyctl [-admin ADDR] [-token-file FILE] [-json] <command> [arguments]\n\ncommands:\n")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %s %s\n        %s\n", cmd.name, cmd.args, cmd.about)
	}
	fmt.Fprint(w, "\nglobal flags:\n")
	fs.PrintDefaults()
}
