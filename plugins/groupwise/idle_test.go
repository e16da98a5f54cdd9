package groupwise_test

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"testing"

	"github.com/parleygw/parley/plugins/groupwise"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	"github.com/parleygw/parley/plugins/sdk"
)

// TestHelperIdleServer is not a test: BenchmarkIdleSessions runs the test
// binary with it to keep the fake server, and its memory, in another
// process.
func TestHelperIdleServer(t *testing.T) {
	served, err := gwtest.ServeChild()
	if !served {
		t.Skip("helper process for BenchmarkIdleSessions")
	}
	if err != nil {
		t.Fatal(err)
	}
}

// startIdleServer runs the fake server with n accounts in a child process
// and returns its address as the gateway would pass it.
func startIdleServer(b *testing.B, n int) sdk.ServerAddress {
	b.Helper()
	addr, caPEM := gwtest.StartChild(b, "TestHelperIdleServer", n)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		b.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		b.Fatal(err)
	}
	return sdk.ServerAddress{Host: host, Port: uint16(p), TLS: true, CAPEM: caPEM}
}

type discardEvents struct{}

func (discardEvents) Emit(sdk.Event) {}

// footprint is the memory the process holds after two collections: heap
// in use plus goroutine stacks.
func footprint() (bytes uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, runtime.NumGoroutine()
}

// BenchmarkIdleSessions opens b.N×100 sessions on the backend itself (no
// gRPC, the fake server in a child process) and reports what each idle
// session costs the plugin: heap and stack bytes, and goroutines. Run with
// -benchtime=1x or more.
func BenchmarkIdleSessions(b *testing.B) {
	n := 100 * b.N
	addr := startIdleServer(b, n)
	ctx := context.Background()
	be := groupwise.New()
	if err := be.Configure(ctx, sdk.Config{DefaultServer: addr, Events: discardEvents{}}); err != nil {
		b.Fatal(err)
	}
	defer func() {
		for i := range n {
			_ = be.CloseSession(ctx, "s"+strconv.Itoa(i))
		}
	}()
	before, goBefore := footprint()
	b.ResetTimer()
	for i := range n {
		if _, err := be.OpenSession(ctx, sdk.Credentials{SessionID: "s" + strconv.Itoa(i), Login: gwtest.ChildUser(i), Password: gwtest.ChildPassword}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after, goAfter := footprint()
	b.ReportMetric(float64(after-before)/float64(n), "B/session")
	b.ReportMetric(float64(goAfter-goBefore)/float64(n), "goroutines/session")
}
