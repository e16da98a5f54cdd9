// Command testplugin is a backend plugin for pluginhost's tests: the
// in-memory backend plus misbehaviour on demand, served without the SDK's
// parent watchdog. It takes its name and
// version from its file name (parley-backend-<name>[_v<version>]), so one
// binary serves under any name. OpenSession with these logins triggers:
//
//	hang          the call never returns
//	crash         the process exits with status 3
//	hostile       hostile lines on stderr and stdout, then "hostile-done"
//	flood         5000 log lines on stderr, then "flood-done"
//	wedge-health  every later Health call hangs
//	env           the call fails with the process's environment in its message
//
// SendMessage with these texts triggers:
//
//	hang          the call returns only when its context ends
//	crash         the process exits with status 3
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest/memory"
)

// stderr is the process's real stderr. go-plugin's Serve later points
// os.Stderr and os.Stdout at its stdio stream; lines written here reach
// the host's stderr reader (and so the parser that go-plugin would use).
var stderr = os.Stderr

type backend struct {
	*memory.Backend
	name, version string
	healthWedged  atomic.Bool
}

func (b *backend) Info() sdk.Info {
	info := b.Backend.Info()
	info.Name, info.Version = b.name, b.version
	return info
}

func (b *backend) Health(ctx context.Context) error {
	if b.healthWedged.Load() {
		select {}
	}
	return nil
}

func (b *backend) OpenSession(ctx context.Context, cred sdk.Credentials) (sdk.Snapshot, error) {
	switch cred.Login {
	case "hang":
		select {}
	case "crash":
		os.Exit(3)
	case "hostile":
		writeHostile()
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "hostile lines written")
	case "flood":
		for i := range 5000 {
			fmt.Fprintf(stderr, `{"@level":"info","@message":"flood line %d"}`+"\n", i)
		}
		fmt.Fprintln(stderr, `{"@level":"info","@message":"flood-done"}`)
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "flood written")
	case "wedge-health":
		b.healthWedged.Store(true)
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "health wedged")
	case "env":
		env := os.Environ()
		sort.Strings(env)
		return sdk.Snapshot{}, sdk.Errorf(sdk.ReasonInvalidArgument, "%s", strings.Join(env, "\n"))
	}
	return b.Backend.OpenSession(ctx, cred)
}

func (b *backend) SendMessage(ctx context.Context, msg sdk.OutgoingMessage) (string, error) {
	switch msg.Text {
	case "hang":
		<-ctx.Done()
		return "", ctx.Err()
	case "crash":
		os.Exit(3)
	}
	return b.Backend.SendMessage(ctx, msg)
}

// hostileLines are stderr lines that break a careless parser.
var hostileLines = []string{
	`{"@message": 42}`,
	`{"@message": "level is a list", "@level": ["error"]}`,
	`{"@message": "timestamp is an object", "@level": "info", "@timestamp": {}}`,
	`{"@message": null, "@level": "info"}`,
	`{"@level": "info"}`,
	`{"@message": "unterminated`,
	`[1, 2, 3]`,
	`null`,
	"\x1b[31mcolour\x1b[0m and a bell\a and invalid utf-8 \xff\xfe",
	`{"@message": "valid line", "@level": "warn", "@caller": 7, "nested": {"a": [1, 2]}, "n": 3}`,
	"panic: not really",
	strings.Repeat("A", 200<<10),
}

func writeHostile() {
	for _, l := range hostileLines {
		fmt.Fprintln(stderr, l)
	}
	// These go through go-plugin's stdio stream (SyncStdout/SyncStderr).
	fmt.Fprintln(os.Stdout, "stray stdout line")
	fmt.Fprintln(os.Stderr, `{"@message": 42}`)
	fmt.Fprintln(stderr, `{"@level":"info","@message":"hostile-done"}`)
}

func main() {
	// Every start begins with a line that panics go-plugin's own parser.
	fmt.Fprintln(stderr, `{"@message": 42}`)
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "parley-backend-")
	version := "0.0.1"
	if n, v, ok := strings.Cut(name, "_v"); ok {
		name, version = n, v
	}
	impl := &backend{Backend: memory.New(), name: name, version: version}
	logger := hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.LevelFromString(os.Getenv(sdk.EnvLogLevel)),
		JSONFormat: true, Output: stderr})
	// plugin.Serve rather than sdk.Serve: no parent watchdog, so the tests
	// see what the host's own defences do (a plugin written without this
	// SDK has no watchdog either).
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{sdk.APIVersion: sdk.ServerPlugins(impl, logger)},
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           logger,
	})
}
