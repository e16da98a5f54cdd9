// Package tlsterm terminates TLS for the device listener (DESIGN §3): TLS 1.3
// by default, 1.2 when configured, ALPN "parley/1", an ECDSA P-256
// certificate generated on first start when none is configured, and
// certificate reload without dropping connections.
//
// ALPN: a client that offers protocols must include "parley/1" or the
// handshake fails with no_application_protocol; a client that offers none is
// accepted, so generic TLS tools such as openssl s_client can still connect
// for diagnostics. The frame layer rejects anything that is not Parley.
package tlsterm

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ALPN is the application protocol negotiated on the device link.
const ALPN = "parley/1"

var (
	// ErrMinVersion: Config.MinVersion is neither "1.2" nor "1.3".
	ErrMinVersion = errors.New("tlsterm: min version must be \"1.2\" or \"1.3\"")
	// ErrIncompleteKeyPair: only one of CertFile and KeyFile is set.
	ErrIncompleteKeyPair = errors.New("tlsterm: cert file and key file must be set together")
	// ErrNoCertificate: no certificate is configured and there is no data
	// directory to keep a self-signed one in.
	ErrNoCertificate = errors.New("tlsterm: no certificate configured and no data dir for a self-signed one")
	// ErrCertificateExpired: the certificate's validity has ended.
	ErrCertificateExpired = errors.New("tlsterm: certificate expired")
	// ErrNoCAPEM: the PEM handed to ClientConfig holds no certificate.
	ErrNoCAPEM = errors.New("tlsterm: no certificate in CA PEM")
)

// Config says where the certificate comes from and which TLS versions to
// accept.
type Config struct {
	// CertFile and KeyFile are PEM files (certificate chain, private key).
	// When both are empty a self-signed certificate is kept in DataDir.
	CertFile string
	KeyFile  string
	// DataDir holds tls/self-signed.crt and tls/self-signed.key.
	DataDir string
	// MinVersion is "1.3" (the default when empty) or "1.2".
	MinVersion string
	// Logger receives certificate loads; nil discards them.
	Logger hclog.Logger
}

// Terminator hands out TLS configurations that always serve the most
// recently loaded certificate.
type Terminator struct {
	log        hclog.Logger
	certFile   string
	keyFile    string
	minVersion uint16
	current    atomic.Pointer[keyPair]
}

// keyPair is one loaded certificate with its PEM, swapped atomically.
type keyPair struct {
	cert *tls.Certificate
	pem  []byte
}

// New loads (or, with no certificate configured, creates) the certificate.
func New(cfg Config) (*Terminator, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("tls")
	minVersion, err := parseMinVersion(cfg.MinVersion)
	if err != nil {
		return nil, err
	}
	certFile, keyFile := cfg.CertFile, cfg.KeyFile
	switch {
	case certFile == "" && keyFile == "":
		if cfg.DataDir == "" {
			return nil, ErrNoCertificate
		}
		certFile, keyFile, err = ensureSelfSigned(cfg.DataDir, time.Now(), log)
		if err != nil {
			return nil, err
		}
	case certFile == "" || keyFile == "":
		return nil, ErrIncompleteKeyPair
	}
	t := &Terminator{log: log, certFile: certFile, keyFile: keyFile, minVersion: minVersion}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

func parseMinVersion(v string) (uint16, error) {
	switch v {
	case "", "1.3":
		return tls.VersionTLS13, nil
	case "1.2":
		return tls.VersionTLS12, nil
	}
	return 0, fmt.Errorf("%w, got %q", ErrMinVersion, v)
}

// Reload re-reads the certificate and key from disk (parleyd calls it on
// SIGHUP). If they cannot be loaded the current certificate stays in service
// and the error is returned. Handshakes already under way finish with the
// certificate they started with.
func (t *Terminator) Reload() error {
	kp, err := loadKeyPair(t.certFile, t.keyFile, time.Now())
	if err != nil {
		return fmt.Errorf("tlsterm: loading certificate: %w", err)
	}
	t.current.Store(kp)
	leaf := kp.cert.Leaf
	sum := sha256.Sum256(leaf.Raw)
	t.log.Info("certificate loaded", "file", t.certFile, "subject", leaf.Subject.String(),
		"sha256", hex.EncodeToString(sum[:]), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// loadKeyPair reads a PEM certificate chain and key and checks that they
// match and that the leaf has not expired.
func loadKeyPair(certFile, keyFile string, now time.Time) (*keyPair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
	}
	if now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("%w: %s on %s", ErrCertificateExpired, certFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return &keyPair{cert: &cert, pem: chain}, nil
}

// CertificatePEM returns the certificate chain now being served, for clients
// that pin it (the self-signed case).
func (t *Terminator) CertificatePEM() []byte {
	return append([]byte(nil), t.current.Load().pem...)
}

// tls12Suites are the TLS 1.2 suites allowed when MinVersion is "1.2":
// forward-secret AEAD only (Mozilla "intermediate"). TLS 1.3 suites are
// fixed by crypto/tls.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSConfig returns a new server configuration that serves the current
// certificate, including after later reloads.
func (t *Terminator) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   t.minVersion,
		CipherSuites: tls12Suites,
		NextProtos:   []string{ALPN},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return t.current.Load().cert, nil
		},
	}
}

// Listen listens on addr and terminates TLS on every accepted connection.
// The handshake runs on the first Read or Write; callers should bound it
// with a deadline (or call HandshakeContext) before reading frames.
func (t *Terminator) Listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("tlsterm: %w", err)
	}
	return tls.NewListener(ln, t.TLSConfig()), nil
}

// ClientConfig returns a client configuration for the device link that
// trusts the certificates in caPEM (for example a pinned self-signed
// certificate from CertificatePEM), or the system roots when caPEM is empty.
func ClientConfig(caPEM []byte) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{ALPN}}
	if len(caPEM) == 0 {
		return cfg, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, ErrNoCAPEM
	}
	cfg.RootCAs = pool
	return cfg, nil
}
