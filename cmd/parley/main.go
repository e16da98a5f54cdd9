// Command parley is the device CLI: it logs in to a Parley gateway, sends
// messages, lists contacts and prints events. Between commands it keeps the
// session id and resume token in a state file, so each command resumes the
// session instead of logging in again. Every command works without a
// terminal; --json prints one JSON object per line for scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/parleygw/parley/client"
)

const usage = `usage: parley [global flags] <command> [flags]

commands:
  login     log in and remember the session (password from --password-file or $PARLEY_PASSWORD)
  send      send a message:            parley send --to bob "hello"
  listen    print events:              parley listen [--count N] [--timeout 30s]
  contacts  print the contact list with presence
  send-file send a file:               parley send-file --to bob report.pdf
  accept    take an offered file:      parley accept [--optimize] [-o OUT] ID   (ID from 'listen')
  decline   refuse an offered file:    parley decline ID
  cancel    stop a transfer:           parley cancel ID
  status    print the remembered session
  logout    end the session on the gateway

global flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{}
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.register(fs)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &printer{w: stdout, errw: stderr, json: g.json}
	cmds := map[string]func(context.Context, *globals, *printer, []string) error{
		"login": cmdLogin, "send": cmdSend, "listen": cmdListen, "contacts": cmdContacts,
		"status": cmdStatus, "logout": cmdLogout,
		"send-file": cmdSendFile, "accept": cmdAccept, "decline": cmdDecline, "cancel": cmdCancel,
	}
	cmd, ok := cmds[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "parley: unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if err := cmd(ctx, g, out, fs.Args()[1:]); err != nil {
		out.error(stderr, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// exitCodeName is the gateway's error code for --json output.
func exitCodeName(err error) string {
	if code := client.Code(err); code != 0 {
		return code.String()
	}
	return ""
}
