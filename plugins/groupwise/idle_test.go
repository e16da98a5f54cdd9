package groupwise_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	"github.com/parleygw/parley/plugins/sdk"
)

// idleServerEnv makes TestHelperIdleServer serve instead of skipping; its
// value is the number of accounts.
const idleServerEnv = "GROUPWISE_IDLE_SERVER_USERS"

// TestHelperIdleServer is not a test: BenchmarkIdleSessions runs the test
// binary with it to keep the fake server, and its memory, in another
// process. It prints the address and the CA certificate, then serves
// until its standard input closes.
func TestHelperIdleServer(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv(idleServerEnv))
	if err != nil {
		t.Skip("helper process for BenchmarkIdleSessions")
	}
	users := make([]gwtest.User, n)
	for i := range users {
		users[i] = gwtest.User{ID: idleUser(i), Password: "secret", FullName: "Idle " + strconv.Itoa(i)}
	}
	srv, err := gwtest.Start(gwtest.WithUsers(users), gwtest.WithIdleTimeout(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fmt.Printf("%s\n%s", srv.Addr(), srv.CACertPEM())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func idleUser(i int) string { return "idle" + strconv.Itoa(i) }

// startIdleServer runs the fake server with n accounts in a child process
// and returns its address as the gateway would pass it.
func startIdleServer(b *testing.B, n int) sdk.ServerAddress {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIdleServer$")
	cmd.Env = append(os.Environ(), idleServerEnv+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	r := bufio.NewReader(stdout)
	addr, err := r.ReadString('\n')
	if err != nil {
		b.Fatalf("helper server: %v", err)
	}
	var certPEM strings.Builder
	for !strings.Contains(certPEM.String(), "-----END CERTIFICATE-----") {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("helper server certificate: %v", err)
		}
		certPEM.WriteString(line)
	}
	host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		b.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		b.Fatal(err)
	}
	return sdk.ServerAddress{Host: host, Port: uint16(p), TLS: true, CAPEM: []byte(certPEM.String())}
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
		if _, err := be.OpenSession(ctx, sdk.Credentials{SessionID: "s" + strconv.Itoa(i), Login: idleUser(i), Password: "secret"}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after, goAfter := footprint()
	b.ReportMetric(float64(after-before)/float64(n), "B/session")
	b.ReportMetric(float64(goAfter-goBefore)/float64(n), "goroutines/session")
}
