package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/tlsterm"
)

// startTimeout bounds how long a child process may take to listen.
const startTimeout = 60 * time.Second

// imUser is an account of an IM server (the memory backend's directory or
// the fake GroupWise server's) and, with the same login, of the gateway.
type imUser struct {
	ID       string   `json:"id"`
	Password string   `json:"password"`
	FullName string   `json:"full_name"`
	Contacts []string `json:"contacts"`
	// Folders are contact-list folders below the root (GroupWise only).
	Folders []imFolder `json:"folders,omitempty"`
}

// imFolder is a contact-list folder of the fake GroupWise server.
type imFolder struct {
	Name     string   `json:"name"`
	Contacts []string `json:"contacts"`
}

const password = "secret"

// numbered returns n users prefix0 … prefix(n-1) without contacts.
func numbered(prefix string, n int) []imUser {
	users := make([]imUser, n)
	for i := range users {
		users[i] = imUser{ID: fmt.Sprintf("%s%d", prefix, i), Password: password, Contacts: []string{}}
	}
	return users
}

// freePort returns a loopback port nothing listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// fakeGroupWise is a parley-fake-groupwise process.
type fakeGroupWise struct {
	*proc
	port   int
	caFile string
}

// startFakeGroupWise writes a certificate and the accounts file and starts
// the fake server on a free loopback port.
func startFakeGroupWise(ctx context.Context, binDir, work string, users []imUser) (*fakeGroupWise, error) {
	dir := filepath.Join(work, "groupwise")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := writeServerCert(certFile, keyFile); err != nil {
		return nil, fmt.Errorf("fake groupwise certificate: %w", err)
	}
	usersFile := filepath.Join(dir, "users.json")
	data, err := json.Marshal(map[string]any{"users": users})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(usersFile, data, 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := startProc("parley-fake-groupwise", filepath.Join(binDir, "parley-fake-groupwise"),
		[]string{"-addr", "127.0.0.1:" + strconv.Itoa(port), "-cert", certFile, "-key", keyFile, "-users", usersFile, "-log-level", "warn"}, nil)
	if err != nil {
		return nil, err
	}
	if err := waitListening(ctx, port); err != nil {
		p.stop(time.Second)
		return nil, fmt.Errorf("parley-fake-groupwise: %w; log:\n%s", err, tail(p.Log(), 20))
	}
	return &fakeGroupWise{proc: p, port: port, caFile: certFile}, nil
}

// waitListening polls until something accepts on the loopback port.
func waitListening(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %d: %w", port, ctx.Err())
		case <-tick.C:
		}
	}
}

// writeServerCert writes a self-signed ECDSA P-256 certificate for
// 127.0.0.1 and localhost.
func writeServerCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "parley-bench fake IM server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// gatewayLogLevel is parleyd's log_level (-gateway-log-level); it must
// log at info or finer, since the bench waits for its "listening" line.
var gatewayLogLevel = "info"

// gatewayGOGC is the GOGC parleyd runs with (-gateway-gogc): the value
// conf/parleyd.service sets, so that memory per session is measured as it
// is deployed.
var gatewayGOGC = "50"

// gatewaySpec is what a parleyd run is configured with.
type gatewaySpec struct {
	memoryUsers []imUser // memory backend directory; nil: no memory backend
	// memoryShard, when set, spreads memoryUsers over backends of at most
	// that many users each ("memory", "memory-2", …), each its own plugin
	// process: the memory test backend announces every login to each of
	// its online users, which makes filling one backend with 100,000
	// sessions quadratic in the plugin, not in the gateway.
	memoryShard int
	groupwise   *fakeGroupWise // nil: no groupwise backend
	gwUsers     []string       // gateway users on the groupwise backend
	// maxSessions, heartbeat, idleTimeout: the sessions block.
	maxSessions int
	heartbeat   time.Duration
	idleTimeout time.Duration
	// compressThreshold is frame.compress_threshold; 0 keeps the default.
	compressThreshold int
	maxFileBytes      int64 // file_policy and memory backend max_file_bytes; 0 keeps the defaults
	// gogc overrides -gateway-gogc for this parleyd (the file scenario's
	// live-heap pass).
	gogc string
}

// gateway is a running parleyd with its plugins.
type gateway struct {
	*proc
	dir         string
	addr        string
	metricsAddr string
	tls         *tls.Config
	plugins     map[string][]int // backend plugin executable → pids
	setupTime   time.Duration    // adding the users to the configuration database
}

// startGateway writes a configuration and a configuration database under
// work/name and runs parleyd on them.
func startGateway(ctx context.Context, binDir, work, name string, spec gatewaySpec) (*gateway, error) {
	dir := filepath.Join(work, name)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := addGatewayUsers(ctx, filepath.Join(data, "parley.db"), spec); err != nil {
		return nil, err
	}
	setup := time.Since(t0)
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "parley.hcl")
	if err := os.WriteFile(cfgFile, []byte(gatewayConfig(binDir, data, metricsPort, spec)), 0o600); err != nil {
		return nil, err
	}
	var env []string
	if gogc := cmp.Or(spec.gogc, gatewayGOGC); gogc != "" {
		env = append(env, "GOGC="+gogc)
	}
	p, err := startProc("parleyd", filepath.Join(binDir, "parleyd"), []string{"-config", cfgFile}, env)
	if err != nil {
		return nil, err
	}
	g := &gateway{proc: p, dir: dir, metricsAddr: "127.0.0.1:" + strconv.Itoa(metricsPort), plugins: map[string][]int{}, setupTime: setup}
	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	m, err := p.waitLog(wctx, regexp.MustCompile(`listening: devices=(\S+)`))
	if err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	g.addr = m[1]
	caPEM, err := os.ReadFile(filepath.Join(data, "tls", "self-signed.crt"))
	if err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	if g.tls, err = tlsterm.ClientConfig(caPEM); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	g.tls.ServerName, _, _ = net.SplitHostPort(g.addr)
	for _, exe := range []string{"parley-backend-memory", "parley-backend-groupwise"} {
		g.plugins[exe] = childrenByExe(p.PID(), exe)
	}
	return g, nil
}

// addGatewayUsers enables every user of spec in a new configuration
// database, as an admin would with parleyctl user add.
func addGatewayUsers(ctx context.Context, path string, spec gatewaySpec) error {
	db, err := configdb.Open(ctx, "sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	add := func(login, backend string) error {
		_, err := db.AddUser(ctx, "parley-bench", configdb.User{Login: login, Backend: backend, Enabled: true})
		return err
	}
	for i, u := range spec.memoryUsers {
		if err := add(u.ID, spec.memoryBackend(i)); err != nil {
			return fmt.Errorf("adding user %s: %w", u.ID, err)
		}
	}
	for _, u := range spec.gwUsers {
		if err := add(u, "groupwise"); err != nil {
			return fmt.Errorf("adding user %s: %w", u, err)
		}
	}
	return nil
}

func gatewayConfig(binDir, data string, metricsPort int, spec gatewaySpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, `data_dir  = %q
log_level = %q
listener "device" { address = "127.0.0.1:0" }
admin { address = "127.0.0.1:0" }
metrics { address = "127.0.0.1:%d" }
plugins {
  dir          = %q
  call_timeout = "30s"
  start_timeout = "60s"
}
`, data, gatewayLogLevel, metricsPort, filepath.Join(binDir, "plugins"))
	maxSessions := max(spec.maxSessions, len(spec.memoryUsers)+len(spec.gwUsers)+16)
	heartbeat, idle := spec.heartbeat, spec.idleTimeout
	if heartbeat == 0 {
		heartbeat = 30 * time.Second
	}
	if idle <= heartbeat {
		idle = 3 * heartbeat
	}
	fmt.Fprintf(&b, "sessions {\n  max_sessions = %d\n  heartbeat = %q\n  idle_timeout = %q\n  detach_ttl = \"2h\"\n}\n",
		maxSessions, heartbeat.String(), idle.String())
	if spec.maxFileBytes > 0 {
		fmt.Fprintf(&b, "file_policy { max_file_bytes = %d }\n", spec.maxFileBytes)
	}
	if spec.compressThreshold != 0 {
		fmt.Fprintf(&b, "frame { compress_threshold = %d }\n", spec.compressThreshold)
	}
	for i, u := range spec.memoryUsers {
		if i == 0 || spec.memoryBackend(i) != spec.memoryBackend(i-1) {
			if i > 0 {
				b.WriteString("    ]\n  }\n}\n")
			}
			fmt.Fprintf(&b, "backend %q {\n  plugin = \"parley-backend-memory\"\n  server {\n    host = \"localhost\"\n    port = 1\n  }\n  settings {\n", spec.memoryBackend(i))
			if spec.maxFileBytes > 0 {
				fmt.Fprintf(&b, "    max_file_bytes = %d\n", spec.maxFileBytes)
			}
			b.WriteString("    users = [\n")
		}
		fmt.Fprintf(&b, "      { id = %q, password = %q, full_name = %q, contacts = [", u.ID, u.Password, u.FullName)
		for i, c := range u.Contacts {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q", c)
		}
		b.WriteString("] },\n")
	}
	if len(spec.memoryUsers) > 0 {
		b.WriteString("    ]\n  }\n}\n")
	}
	if gw := spec.groupwise; gw != nil {
		fmt.Fprintf(&b, `backend "groupwise" {
  plugin = "parley-backend-groupwise"
  server {
    host = "127.0.0.1"
    port = %d
    tls {
      enabled = true
      ca_file = %q
    }
  }
  settings {
    request_timeout = "30s"
  }
}
`, gw.port, gw.caFile)
	}
	return b.String()
}

// memoryBackend is the name of the memory backend memoryUsers[i] is on.
func (s gatewaySpec) memoryBackend(i int) string {
	if s.memoryShard <= 0 || i < s.memoryShard {
		return "memory"
	}
	return fmt.Sprintf("memory-%d", i/s.memoryShard+1)
}

// plugin returns the pid of a backend plugin process of the gateway (the
// first, when the backend is sharded).
func (g *gateway) plugin(exe string) int {
	if pids := g.plugins[exe]; len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// pluginRSS is the resident set size of all of the gateway's processes
// running exe.
func (g *gateway) pluginRSS(exe string) int64 {
	var sum int64
	for _, pid := range g.plugins[exe] {
		sum += rss(pid)
	}
	return sum
}

// failure wraps err with the end of parleyd's log.
func (g *gateway) failure(what string, err error) error {
	return fmt.Errorf("%s: %w; parleyd log:\n%s", what, err, tail(g.Log(), 30))
}

// stop shuts parleyd down (gracefully, as an operator would).
func (g *gateway) stop() {
	if g != nil {
		g.proc.stop(30 * time.Second)
	}
}
