package sdk

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// Handshake is the go-plugin handshake shared by parleyd and every backend.
// The cookie only keeps people from running a plugin by hand; it is not a
// security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PARLEY_BACKEND_PLUGIN",
	MagicCookieValue: "7c1d4e0f9a2b6358e4f1c0d7b9a86e2f5c3d1b0a",
}

// PluginName is the name under which the backend is dispensed.
const PluginName = "backend"

// MaxMessageBytes bounds every gRPC message in both directions. Files move
// in FileChunkSize pieces, so nothing legitimate comes near it.
const MaxMessageBytes = 8 << 20

// Environment variables the host sets for a plugin.
const (
	EnvLogLevel   = "PARLEY_PLUGIN_LOG_LEVEL"   // trace, debug, info, warn, error
	EnvEventQueue = "PARLEY_PLUGIN_EVENT_QUEUE" // events buffered before resync
)

// grpcPlugin is the go-plugin glue for both sides.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *grpcServer // plugin side only
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterBackendServer(s, p.server)
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return NewClient(conn), nil
}

// HostPlugins is the VersionedPlugins map the host gives go-plugin.
func HostPlugins() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{APIVersion: {PluginName: &grpcPlugin{}}}
}

// Flow-control windows of the plugin connection, fixed on both sides. A
// fixed window turns off gRPC's bandwidth-delay estimation, which grows
// every stream's window to megabytes on a fast link and lets that much file
// data pile up in the receiver's buffers. A stream may have streamWindow
// bytes in flight (two file messages); the connection, connWindow for all
// its streams together.
const (
	streamWindow = 2 * FileChunkSize
	connWindow   = 1 << 20
)

// fileMessageBuffer is a buffer that holds one file data message with its
// protobuf framing (FileChunkSize of data and a few bytes of tags).
const fileMessageBuffer = FileChunkSize + 1<<10

// gRPC marshals every message over 1 KiB, and assembles every received one
// that spans several HTTP/2 frames, in a buffer from its default pool,
// zeroed on each Get. The default pool's size classes jump from 32 KiB to
// 1 MiB, so each 64 KiB file message took, and cleared, a 1 MiB buffer:
// a fifth of the gateway's CPU while relaying files, and a megabyte per
// queued message. A class that fits a file message ends both. gRPC allows
// this only at initialisation.
func init() {
	experimental.SetDefaultBufferPool(mem.NewTieredBufferPool(256, 4<<10, 16<<10, 32<<10, fileMessageBuffer, 1<<20))
}

// HostDialOptions bound what a plugin can make the host receive (go-plugin
// otherwise allows 2 GiB per message) and fix the flow-control windows.
func HostDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
	}
}

// ServerOptions are the plugin side's counterpart of HostDialOptions:
// bounded message sizes and the same fixed windows. Serve uses them; so
// can tests that serve a backend over a real connection.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.InitialWindowSize(streamWindow), grpc.InitialConnWindowSize(connWindow),
	}
}

// Dispense returns the Client of a started go-plugin client.
func Dispense(rpc plugin.ClientProtocol) (*Client, error) {
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return nil, fmt.Errorf("sdk: dispense: %w", err)
	}
	c, ok := raw.(*Client)
	if !ok {
		return nil, fmt.Errorf("sdk: dispense: unexpected client type %T", raw)
	}
	return c, nil
}

// ServeOption changes how Serve runs.
type ServeOption func(*serveConfig)

type serveConfig struct {
	logger      hclog.Logger
	queueLen    int
	watchParent bool
}

// WithLogger replaces the default JSON logger on stderr.
func WithLogger(l hclog.Logger) ServeOption { return func(c *serveConfig) { c.logger = l } }

// WithEventQueue sets how many events are buffered while the gateway is not
// reading before sessions are marked for resync (default 65536).
func WithEventQueue(n int) ServeOption { return func(c *serveConfig) { c.queueLen = n } }

// Serve runs a backend as a plugin process. Call it from main; it returns
// when the gateway stops the plugin. It sets up everything the gateway
// expects: the handshake, gRPC with bounded message sizes, JSON logs on
// stderr at the level the gateway asks for, and a watchdog that exits if
// the gateway process dies.
func Serve(impl Backend, opts ...ServeOption) {
	cfg := serveConfig{queueLen: 65536, watchParent: true}
	if v, err := strconv.Atoi(os.Getenv(EnvEventQueue)); err == nil && v > 0 {
		cfg.queueLen = v
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = hclog.New(&hclog.LoggerOptions{
			Name:       impl.Info().Name,
			Level:      hclog.LevelFromString(os.Getenv(EnvLogLevel)),
			JSONFormat: true,
			Output:     os.Stderr,
		})
	}
	if cfg.watchParent {
		go watchParent(os.Getppid(), time.Second, func() {
			cfg.logger.Error("gateway process is gone; exiting")
			os.Exit(2)
		})
	}
	server := newGRPCServer(impl, cfg.queueLen, cfg.logger)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{APIVersion: {PluginName: &grpcPlugin{server: server}}},
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(o, ServerOptions()...)...)
		},
		Logger: cfg.logger,
	})
}

// watchParent calls gone when the parent process changes (the gateway died
// and the plugin was re-parented). Pdeathsig covers Linux already; this
// covers the rest and the thread caveat of Pdeathsig.
func watchParent(parent int, every time.Duration, gone func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != parent {
			gone()
			return
		}
	}
}

// ServerPlugins is the plugin-side plugin set for impl. Serve uses it; so
// do in-process tests (sdktest.Connect) with plugin.TestPluginGRPCConn.
func ServerPlugins(impl Backend, logger hclog.Logger) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &grpcPlugin{server: newGRPCServer(impl, 65536, logger)}}
}
