package gwclient

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/pem"
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

	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

// idleServerEnv makes TestHelperIdleServer serve instead of skipping; its
// value is the number of accounts.
const idleServerEnv = "GWCLIENT_IDLE_SERVER_USERS"

// TestHelperIdleServer is not a test: BenchmarkIdleConnections runs the
// test binary with it to keep the fake server, and its memory, in another
// process. It prints the address and the CA certificate, then serves
// until its standard input closes.
func TestHelperIdleServer(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv(idleServerEnv))
	if err != nil {
		t.Skip("helper process for BenchmarkIdleConnections")
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
// and returns the configuration to reach it.
func startIdleServer(b *testing.B, n int) Config {
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
	block, _ := pem.Decode([]byte(certPEM.String()))
	if block == nil {
		b.Fatal("helper server: no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
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
		if _, err := c.Login(ctx, idleUser(i), "secret"); err != nil {
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
