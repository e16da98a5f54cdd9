package gwclient

import (
	"context"
	"crypto/x509"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

// TestHelperIdleServer is not a test: BenchmarkIdleConnections runs the
// test binary with it to keep the fake server, and its memory, in another
// process.
func TestHelperIdleServer(t *testing.T) {
	served, err := gwtest.ServeChild()
	if !served {
		t.Skip("helper process for BenchmarkIdleConnections")
	}
	if err != nil {
		t.Fatal(err)
	}
}

// startIdleServer runs the fake server with n accounts in a child process
// and returns the configuration to reach it.
func startIdleServer(b *testing.B, n int) Config {
	b.Helper()
	addr, caPEM := gwtest.StartChild(b, "TestHelperIdleServer", n)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		b.Fatal("helper server: no PEM certificate")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		b.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return Config{Server: host, Port: p, RootCAs: pool, RequestTimeout: 10 * time.Second}
}

// footprint is the memory the process holds after two collections: heap
// in use plus goroutine stacks.
func footprint() (bytes uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, runtime.NumGoroutine()
}

// BenchmarkIdleConnections logs in b.N×100 users (the fake server runs in
// a child process) and reports what each idle, logged-in connection costs
// this process: heap and stack bytes, and goroutines. The keepalive is on
// (its default period) as in the plugin. Run with -benchtime=1x or more.
func BenchmarkIdleConnections(b *testing.B) {
	n := 100 * b.N
	cfg := startIdleServer(b, n)
	ctx := context.Background()
	clients := make([]*Client, 0, n)
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	before, goBefore := footprint()
	b.ResetTimer()
	for i := range n {
		c, err := Dial(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
		if _, err := c.Login(ctx, gwtest.ChildUser(i), gwtest.ChildPassword); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after, goAfter := footprint()
	b.ReportMetric(float64(after-before)/float64(n), "B/conn")
	b.ReportMetric(float64(goAfter-goBefore)/float64(n), "goroutines/conn")
	for _, c := range clients {
		if err := c.Err(); err != nil {
			b.Fatalf("connection ended while idle: %v", err)
		}
	}
}
