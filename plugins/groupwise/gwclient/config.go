package gwclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults applied by Dial to zero Config fields.
const (
	DefaultPort              = 8300
	DefaultDialTimeout       = 30 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
	DefaultKeepaliveInterval = 30 * time.Second
	DefaultEventBuffer       = 256
	DefaultUserAgent         = "Parley/1 (gwclient)"
)

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("gwclient: invalid config")

// Config describes one connection to a GroupWise Messenger server. The zero
// value of every field except Server selects the documented default.
type Config struct {
	// Server is the host name or IP address of the server. It is also sent
	// verbatim in the Host header of the login request.
	Server string
	// Port is the TCP port; 0 means DefaultPort (8300).
	Port int

	// RootCAs verifies the server certificate; nil means the host's roots.
	RootCAs *x509.CertPool
	// ServerName is the name expected in the certificate; empty means Server.
	ServerName string
	// InsecureSkipVerify disables certificate verification. Only for tests.
	InsecureSkipVerify bool

	// DialTimeout bounds the TCP connect plus the TLS handshake.
	DialTimeout time.Duration
	// RequestTimeout bounds each request from its write to its response.
	// A request that exceeds it ends the connection with ErrTimeout.
	RequestTimeout time.Duration
	// WriteTimeout bounds each write; 0 means RequestTimeout.
	WriteTimeout time.Duration
	// KeepaliveInterval is the period of the ping request sent after
	// login (libpurple uses 30 s); 0 means the default, negative disables it.
	KeepaliveInterval time.Duration

	// EventBuffer is the number of events held for a slow consumer before
	// the connection is closed with ErrEventOverflow; 0 means the default.
	EventBuffer int

	// UserAgent is sent in the login request.
	UserAgent string

	// Logger receives diagnostics; nil discards them. Passwords and message
	// bodies are never logged.
	Logger hclog.Logger
}

// withDefaults returns a copy of c with defaults filled in, or an error
// wrapping ErrConfig.
func (c Config) withDefaults() (Config, error) {
	if c.Server == "" {
		return c, fmt.Errorf("%w: Server is empty", ErrConfig)
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("%w: Port %d out of range", ErrConfig, c.Port)
	}
	if c.ServerName == "" {
		c.ServerName = c.Server
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = c.RequestTimeout
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c, nil
}
