// Command parleyd is the Parley collaboration gateway daemon.
//
//	parleyd [-config FILE] [-data-dir DIR] [-plugin-dir DIR] [-listen ADDR] [-admin-listen ADDR]
//
// Without -config it runs on the embedded default configuration. SIGHUP
// reloads the TLS certificate and rescans the plugin directory; SIGTERM and
// SIGINT shut down gracefully: sessions are logged out of their backends
// and plugins stopped within -shutdown-timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/parleygw/parley/conf"
	"github.com/parleygw/parley/core"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("parleyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "configuration file (HCL); default: the embedded configuration")
	dataDir := fs.String("data-dir", "", "data directory (overrides data_dir)")
	pluginDir := fs.String("plugin-dir", "", "plugin directory (overrides plugins.dir)")
	listen := fs.String("listen", "", "device listener address host:port (overrides listener \"device\")")
	adminListen := fs.String("admin-listen", "", "admin API address: loopback host:port or unix:/path (overrides admin.address)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 20*time.Second, "deadline for a graceful shutdown")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, "parleyd", version)
		return 0
	}
	var opts []conf.Option
	if *dataDir != "" {
		opts = append(opts, conf.WithDataDir(*dataDir))
	}
	if *pluginDir != "" {
		opts = append(opts, conf.WithPluginDir(*pluginDir))
	}
	cfg, err := conf.Load(*configFile, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "parleyd: %v\n", err)
		return 2
	}
	if *listen != "" {
		cfg.Device.Address = *listen
	}
	if *adminListen != "" {
		if path, ok := strings.CutPrefix(*adminListen, "unix:"); ok {
			cfg.Admin.Network, cfg.Admin.Address = "unix", path
		} else {
			cfg.Admin.Network, cfg.Admin.Address = "tcp", *adminListen
		}
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "parleyd", Level: hclog.LevelFromString(cfg.LogLevel),
		JSONFormat: cfg.LogFormat == "json", Output: stderr})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gw, err := core.New(ctx, cfg, core.Options{Version: version, Logger: logger})
	if err != nil {
		logger.Error("cannot start", "error", err)
		return 1
	}
	if err := gw.Start(ctx); err != nil {
		logger.Error("cannot start", "error", err)
		shutdown(gw, *shutdownTimeout, logger)
		return 1
	}
	logger.Info("parleyd started", "version", version, "data_dir", cfg.DataDir, "plugins", cfg.Plugins.Dir)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ctx) }()
	for {
		select {
		case err := <-served:
			if err != nil {
				logger.Error("device listener failed", "error", err)
			}
			shutdown(gw, *shutdownTimeout, logger)
			return 1
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				logger.Info("reloading")
				if err := gw.Reload(ctx); err != nil {
					logger.Error("reload", "error", err)
				}
				continue
			}
			logger.Info("shutting down", "signal", sig.String())
			cancel()
			if err := shutdown(gw, *shutdownTimeout, logger); err != nil {
				return 1
			}
			return 0
		}
	}
}

func shutdown(gw *core.Gateway, timeout time.Duration, logger hclog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := gw.Shutdown(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("shutdown", "error", err)
		return err
	}
	logger.Info("stopped")
	return nil
}
