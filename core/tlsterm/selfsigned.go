package tlsterm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
)

const (
	// selfSignedLifetime stays under the 825 days Apple platforms accept
	// for TLS server certificates.
	selfSignedLifetime = 825 * 24 * time.Hour
	// selfSignedRenewal: a self-signed certificate this close to expiry is
	// replaced at start-up rather than left to lapse while running.
	selfSignedRenewal = 30 * 24 * time.Hour
)

// ensureSelfSigned returns the paths of the self-signed certificate and key
// in dataDir, creating them when missing or about to expire. Files that exist
// but do not load are an error, not silently replaced: clients may have
// pinned them.
func ensureSelfSigned(dataDir string, now time.Time, log hclog.Logger) (certFile, keyFile string, err error) {
	dir := filepath.Join(dataDir, "tls")
	certFile = filepath.Join(dir, "self-signed.crt")
	keyFile = filepath.Join(dir, "self-signed.key")

	kp, err := loadKeyPair(certFile, keyFile, now)
	switch {
	case err == nil && now.Add(selfSignedRenewal).Before(kp.cert.Leaf.NotAfter):
		return certFile, keyFile, nil
	case err == nil || errors.Is(err, ErrCertificateExpired):
		log.Warn("self-signed certificate expired or about to; replacing it (clients that pinned it must pin the new one)",
			"file", certFile)
	case errors.Is(err, os.ErrNotExist):
		log.Info("no certificate configured; generating a self-signed one", "file", certFile)
	default:
		return "", "", fmt.Errorf("tlsterm: self-signed certificate (remove both files to regenerate): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("tlsterm: %w", err)
	}
	certPEM, keyPEM, err := generateSelfSigned(now)
	if err != nil {
		return "", "", fmt.Errorf("tlsterm: generating self-signed certificate: %w", err)
	}
	// Key first: a crash between the writes leaves no certificate, which
	// the next start treats as missing and regenerates.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("tlsterm: %w", err)
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("tlsterm: %w", err)
	}
	return certFile, keyFile, nil
}

// generateSelfSigned creates an ECDSA P-256 server certificate for
// localhost, the loopback addresses and this host's name.
func generateSelfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Parley"}, CommonName: "parley self-signed"},
		NotBefore:             now.Add(-time.Hour), // tolerate clients with a slow clock
		NotAfter:              now.Add(selfSignedLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, err := os.Hostname(); err == nil && host != "" && host != "localhost" {
		if ip := net.ParseIP(host); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeFileAtomic writes data to a temporary file in the same directory and
// renames it into place, so readers never see a half-written key.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
