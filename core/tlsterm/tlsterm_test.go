package tlsterm_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parleygw/parley/core/tlsterm"
)

// handshake is what the server side of one connection saw.
type handshake struct {
	state tls.ConnectionState
	err   error
}

// serve listens on loopback with term and reports every server-side
// handshake on the returned channel.
func serve(t *testing.T, term *tlsterm.Terminator) (addr string, results <-chan handshake) {
	t.Helper()
	ln, err := term.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan handshake, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				err := tc.HandshakeContext(ctx)
				ch <- handshake{tc.ConnectionState(), err}
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// dial completes a client handshake and returns the negotiated state.
func dial(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

func clientConfig(t *testing.T, caPEM []byte) *tls.Config {
	t.Helper()
	cfg, err := tlsterm.ClientConfig(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func fingerprint(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.Raw) }

func pemFingerprint(t *testing.T, pemBytes []byte) [32]byte {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return fingerprint(cert)
}

// writeCert writes an ECDSA P-256 certificate for 127.0.0.1 and its key into
// dir as name.crt and name.key and returns the paths and the certificate PEM.
func writeCert(t *testing.T, dir, name string, notAfter time.Time) (certFile, keyFile string, certPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    notAfter.Add(-400 * 24 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, certPEM
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, b)
}

func TestSelfSignedGeneratedAndReused(t *testing.T) {
	dataDir := t.TempDir()
	first, err := tlsterm.New(tlsterm.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dataDir, "tls", "self-signed.crt")
	keyFile := filepath.Join(dataDir, "tls", "self-signed.key")
	onDisk, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, first.CertificatePEM()) {
		t.Error("served certificate differs from tls/self-signed.crt")
	}
	info, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600", perm)
	}

	second, err := tlsterm.New(tlsterm.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	if pemFingerprint(t, second.CertificatePEM()) != pemFingerprint(t, first.CertificatePEM()) {
		t.Fatal("restart generated a new certificate instead of reusing the stored one")
	}

	addr, _ := serve(t, second)
	state, err := dial(t, addr, clientConfig(t, first.CertificatePEM()))
	if err != nil {
		t.Fatalf("client pinning the first run's certificate: %v", err)
	}
	if fingerprint(state.PeerCertificates[0]) != pemFingerprint(t, first.CertificatePEM()) {
		t.Error("server presented a different certificate")
	}
}

func TestSelfSignedKeyAndNames(t *testing.T) {
	dataDir := t.TempDir()
	term, err := tlsterm.New(tlsterm.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dataDir, "tls", "self-signed.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("key file holds no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want an ECDSA P-256 key", key)
	}

	block, _ = pem.Decode(term.CertificatePEM())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("certificate key is %T, want ECDSA P-256", cert.PublicKey)
	}
	names := []string{"localhost", "127.0.0.1", "::1"}
	if host, err := os.Hostname(); err == nil && host != "" {
		names = append(names, host)
	}
	for _, name := range names {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("certificate not valid for %q: %v", name, err)
		}
	}
}

// A self-signed certificate that has expired is replaced at start-up.
func TestSelfSignedExpiredIsReplaced(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, _, oldPEM := writeCert(t, dir, "self-signed", time.Now().Add(-time.Hour))
	term, err := tlsterm.New(tlsterm.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(term.CertificatePEM(), oldPEM) {
		t.Fatal("expired self-signed certificate still served")
	}
}

// Unreadable self-signed files are reported, not overwritten: clients may
// have pinned them.
func TestSelfSignedBrokenIsNotOverwritten(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile, _, _ := writeCert(t, dir, "self-signed", time.Now().Add(time.Hour*24*365))
	copyFile(t, certFile, filepath.Join(dir, "self-signed.key")) // key file now holds a certificate
	if _, err := tlsterm.New(tlsterm.Config{DataDir: dataDir}); err == nil {
		t.Fatal("New accepted a key file that holds no key")
	}
	got, err := os.ReadFile(filepath.Join(dir, "self-signed.key"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(certFile)
	if !bytes.Equal(got, want) {
		t.Error("broken key file was replaced")
	}
}

func TestMinVersion(t *testing.T) {
	dataDir := t.TempDir()
	tests := []struct {
		name       string
		minVersion string
		clientMax  uint16
		want       uint16 // 0: the handshake must fail
	}{
		{"default rejects a 1.2-only client", "", tls.VersionTLS12, 0},
		{"1.3 rejects a 1.2-only client", "1.3", tls.VersionTLS12, 0},
		{"default negotiates 1.3", "", 0, tls.VersionTLS13},
		{"1.2 by config accepts a 1.2-only client", "1.2", tls.VersionTLS12, tls.VersionTLS12},
		{"1.2 by config still prefers 1.3", "1.2", 0, tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term, err := tlsterm.New(tlsterm.Config{DataDir: dataDir, MinVersion: tt.minVersion})
			if err != nil {
				t.Fatal(err)
			}
			addr, server := serve(t, term)
			cfg := clientConfig(t, term.CertificatePEM())
			cfg.MaxVersion = tt.clientMax
			state, err := dial(t, addr, cfg)
			srv := <-server
			if tt.want == 0 {
				if err == nil || srv.err == nil {
					t.Fatalf("handshake succeeded (client err %v, server err %v), want refused", err, srv.err)
				}
				return
			}
			if err != nil || srv.err != nil {
				t.Fatalf("client err %v, server err %v", err, srv.err)
			}
			if state.Version != tt.want {
				t.Errorf("negotiated %s, want %s", tls.VersionName(state.Version), tls.VersionName(tt.want))
			}
		})
	}
}

func TestALPN(t *testing.T) {
	term, err := tlsterm.New(tlsterm.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	addr, server := serve(t, term)
	tests := []struct {
		name   string
		protos []string
		want   string
		ok     bool
	}{
		{"parley client", []string{tlsterm.ALPN}, tlsterm.ALPN, true},
		{"client offering parley among others", []string{"h2", tlsterm.ALPN}, tlsterm.ALPN, true},
		{"client without ALPN", nil, "", true},
		{"client offering only another protocol", []string{"h2", "http/1.1"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientConfig(t, term.CertificatePEM())
			cfg.NextProtos = tt.protos
			state, err := dial(t, addr, cfg)
			srv := <-server
			if !tt.ok {
				if err == nil || srv.err == nil {
					t.Fatalf("handshake succeeded (client err %v, server err %v), want no_application_protocol", err, srv.err)
				}
				return
			}
			if err != nil || srv.err != nil {
				t.Fatalf("client err %v, server err %v", err, srv.err)
			}
			if state.NegotiatedProtocol != tt.want || srv.state.NegotiatedProtocol != tt.want {
				t.Errorf("negotiated %q (server %q), want %q", state.NegotiatedProtocol, srv.state.NegotiatedProtocol, tt.want)
			}
		})
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	year := time.Now().Add(365 * 24 * time.Hour)
	oldCert, oldKey, oldPEM := writeCert(t, dir, "old", year)
	newCert, newKey, newPEM := writeCert(t, dir, "new", year)
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	copyFile(t, oldCert, certFile)
	copyFile(t, oldKey, keyFile)

	term, err := tlsterm.New(tlsterm.Config{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serve(t, term)
	cfg := clientConfig(t, append(slices.Clone(oldPEM), newPEM...))
	served := func(t *testing.T) [32]byte {
		t.Helper()
		state, err := dial(t, addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return fingerprint(state.PeerCertificates[0])
	}
	if served(t) != pemFingerprint(t, oldPEM) {
		t.Fatal("initial certificate not served")
	}

	copyFile(t, newCert, certFile)
	copyFile(t, newKey, keyFile)
	if err := term.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if served(t) != pemFingerprint(t, newPEM) || !bytes.Equal(term.CertificatePEM(), newPEM) {
		t.Fatal("reloaded certificate not served")
	}

	broken := []struct {
		name  string
		setup func(t *testing.T)
		is    error
	}{
		{"garbage certificate", func(t *testing.T) { writeFile(t, certFile, []byte("not a certificate")) }, nil},
		{"key of another certificate", func(t *testing.T) { copyFile(t, oldCert, certFile); copyFile(t, newKey, keyFile) }, nil},
		{"missing key", func(t *testing.T) {
			copyFile(t, newCert, certFile)
			if err := os.Remove(keyFile); err != nil {
				t.Fatal(err)
			}
		}, os.ErrNotExist},
		{"expired certificate", func(t *testing.T) {
			expCert, expKey, _ := writeCert(t, dir, "expired", time.Now().Add(-time.Minute))
			copyFile(t, expCert, certFile)
			copyFile(t, expKey, keyFile)
		}, tlsterm.ErrCertificateExpired},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			b.setup(t)
			err := term.Reload()
			if err == nil || (b.is != nil && !errors.Is(err, b.is)) {
				t.Fatalf("Reload = %v, want an error matching %v", err, b.is)
			}
			if served(t) != pemFingerprint(t, newPEM) {
				t.Fatal("failed reload replaced the served certificate")
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeCert(t, dir, "c", time.Now().Add(time.Hour))
	writeCert(t, dir, "x", time.Now().Add(-time.Hour))
	tests := []struct {
		name string
		cfg  tlsterm.Config
		is   error
	}{
		{"unknown min version", tlsterm.Config{DataDir: dir, MinVersion: "1.1"}, tlsterm.ErrMinVersion},
		{"cert without key", tlsterm.Config{CertFile: certFile}, tlsterm.ErrIncompleteKeyPair},
		{"key without cert", tlsterm.Config{KeyFile: keyFile}, tlsterm.ErrIncompleteKeyPair},
		{"nothing configured, no data dir", tlsterm.Config{}, tlsterm.ErrNoCertificate},
		{"missing files", tlsterm.Config{CertFile: certFile + ".none", KeyFile: keyFile}, os.ErrNotExist},
		{"expired certificate", tlsterm.Config{CertFile: filepath.Join(dir, "x.crt"), KeyFile: filepath.Join(dir, "x.key")}, tlsterm.ErrCertificateExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tlsterm.New(tt.cfg); !errors.Is(err, tt.is) {
				t.Fatalf("New = %v, want %v", err, tt.is)
			}
		})
	}
}

func TestClientConfig(t *testing.T) {
	cfg, err := tlsterm.ClientConfig(nil)
	if err != nil || cfg.RootCAs != nil || !slices.Equal(cfg.NextProtos, []string{tlsterm.ALPN}) {
		t.Fatalf("ClientConfig(nil) = %+v, %v; want system roots and ALPN %s", cfg, err, tlsterm.ALPN)
	}
	if _, err := tlsterm.ClientConfig([]byte("not pem")); !errors.Is(err, tlsterm.ErrNoCAPEM) {
		t.Fatalf("ClientConfig(garbage) = %v, want ErrNoCAPEM", err)
	}
}
