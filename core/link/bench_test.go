package link_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/link"
	"github.com/parleygw/parley/core/session"
	"github.com/parleygw/parley/core/tlsterm"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// benchGateway is the gateway core in one process: TLS device links on
// loopback, the router and session cache, and the memory backend served
// over in-memory gRPC, as its plugin would be.
type benchGateway struct {
	addr  string
	caPEM []byte
}

// quietPeriod is how long a link of a benchmark gateway waits without work
// before it gives up its writer goroutine: short, so that
// BenchmarkIdleSession measures idle links, not links that just logged in.
const quietPeriod = 20 * time.Millisecond

// startBenchGateway is the test gateway of link_test.go with the memory
// backend behind real gRPC (serveBackend) and links that park quickly.
func startBenchGateway(b *testing.B, users ...string) *benchGateway {
	b.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: "bench", Level: hclog.Error, Output: io.Discard})
	settings := `{"users":[`
	for i, u := range users {
		if i > 0 {
			settings += ","
		}
		settings += fmt.Sprintf(`{"id":%q,"password":"secret","contacts":[]}`, u)
	}
	g := startGatewayOpts(b, gatewayOptions{
		backend:  serveBackend(b, memory.New(), logger),
		settings: []byte(settings + "]}"),
		session:  session.Config{MaxSessions: len(users) + 1},
		link:     link.Config{Heartbeat: time.Minute, QuietPeriod: quietPeriod},
	}, users...)
	return &benchGateway{addr: g.addr, caPEM: g.caPEM}
}

// serveBackend serves impl over gRPC on a unix socket, as its plugin
// process would (without go-plugin's process handling and its logs).
func serveBackend(b *testing.B, impl sdk.Backend, logger hclog.Logger) *sdk.Client {
	b.Helper()
	sock := filepath.Join(b.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	if err := sdk.ServerPlugins(impl, logger)[sdk.PluginName].(plugin.GRPCPlugin).GRPCServer(nil, srv); err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+sock, append(sdk.HostDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return sdk.NewClient(conn)
}

// login logs a device in; its client buffers up to 64Ki events, so that
// no benchmark measures a client that stopped reading.
func (g *benchGateway) login(b *testing.B, user string) *client.Conn {
	return g.loginBuffered(b, user, 1<<16)
}

func (g *benchGateway) loginBuffered(b *testing.B, user string, events int) *client.Conn {
	b.Helper()
	tlsCfg, err := tlsterm.ClientConfig(g.caPEM)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Addr: g.addr, TLS: tlsCfg, ClientName: "bench", DeviceID: user + "-phone", EventBuffer: events})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if _, err := c.Login(ctx, user, "secret"); err != nil {
		b.Fatal(err)
	}
	return c
}

// benchText is a 100-byte chat message numbered i.
func benchText(i int) string {
	s := strconv.Itoa(i) + " "
	return s + strings.Repeat("x", 100-len(s))
}

// BenchmarkRelay is one chat message from a device through its link, the
// router and the backend over gRPC, back through the session's event log
// and the recipient's link, until the recipient's client has it: the
// gateway's whole relay path in one process (ns/op is the round trip).
func BenchmarkRelay(b *testing.B) {
	g := startBenchGateway(b, "alice", "bob")
	alice, bob := g.login(b, "alice"), g.login(b, "bob")
	ctx := context.Background()
	sent, err := alice.SendMessage(ctx, "bob", "", "warm-up", "w")
	if err != nil {
		b.Fatal(err)
	}
	<-bob.Events()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := alice.SendMessage(ctx, "", sent.ConversationId, benchText(i), "m"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
		if e := <-bob.Events(); e.GetMessage() == nil {
			b.Fatalf("unexpected event %v", e)
		}
	}
}

// BenchmarkRelayParallel keeps pairs of devices sending concurrently, as
// a loaded gateway sees them; ns/op is per message delivered.
func BenchmarkRelayParallel(b *testing.B) {
	for _, pairs := range []int{1, 16} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) {
			var users []string
			for p := range pairs {
				users = append(users, fmt.Sprintf("a%d", p), fmt.Sprintf("b%d", p))
			}
			g := startBenchGateway(b, users...)
			senders, receivers := make([]*client.Conn, pairs), make([]*client.Conn, pairs)
			for p := range pairs {
				senders[p], receivers[p] = g.login(b, users[2*p]), g.login(b, users[2*p+1])
			}
			const inflight = 8
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/pairs + 1
			for p := range pairs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range per {
						if e := <-receivers[p].Events(); e.GetMessage() == nil {
							b.Errorf("unexpected event %v", e)
						}
					}
				}()
				wg.Add(1)
				go func() {
					defer wg.Done()
					sendAll(ctx, b, senders[p], users[2*p+1], p, per, inflight)
				}()
			}
			wg.Wait()
		})
	}
}

// sendAll sends n messages to the recipient, inflight at a time, and
// returns when every one has been answered.
func sendAll(ctx context.Context, b *testing.B, c *client.Conn, to string, p, n, inflight int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, inflight)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := c.SendMessage(ctx, to, "", benchText(i), fmt.Sprintf("m%d-%d", p, i)); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkIdleSession logs in one more device per op and leaves it idle;
// it reports what each idle session holds in the gateway core (its link,
// session and device, and the TLS connection), after a collection. The
// client side of the links lives in the same process and is measured
// too, so the figures are an upper bound; docs/performance.md has the
// gateway alone, from parley-bench.
func BenchmarkIdleSession(b *testing.B) {
	users := make([]string, b.N)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	g := startBenchGateway(b, users...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	b.ResetTimer()
	for i := range b.N {
		g.loginBuffered(b, users[i], 1)
	}
	b.StopTimer()
	// Wait for the links to give up their writers: each idle session
	// keeps the gateway's reader and the client's.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > goroutines+2*b.N+b.N/100+1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := float64(b.N)
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-B/session")
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-B/session")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/n, "goroutines/session")
}
