package stclient

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// Defaults applied by Dial to zero Config fields.
const (
	DefaultDialTimeout    = 15 * time.Second
	DefaultLoginTimeout   = 30 * time.Second
	DefaultIOTimeout      = 30 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	DefaultOfferTimeout   = 5 * time.Minute
	DefaultKeepalive      = 30 * time.Second
	DefaultEventBuffer    = 256
	DefaultEventTimeout   = 30 * time.Second
	DefaultMaxMessageSize = 1 << 20
)

const (
	maxRedirects        = 3              // LOGIN_REDIRECTs followed before forcing the login
	protocolMaxFileSize = math.MaxUint32 // the offer's size field is a u32
	writeFailureGrace   = time.Second    // how long the reader drains after a failed write
)

// Config describes one Sametime login. Host, User and Password are
// required; every other zero field takes the default named beside it.
type Config struct {
	// Host is the server's host name or IP address.
	Host string
	// Port is the server's TCP port; 0 means stproto.DefaultPort (1533).
	Port int
	// User and Password are the login credentials. The password is only
	// ever sent encrypted and never logged.
	User     string
	Password string
	// LoginType is the client type announced to the server; 0 means
	// meanwhile's 0x1700.
	LoginType stproto.LoginType

	// DialTimeout bounds each TCP connect (DefaultDialTimeout).
	DialTimeout time.Duration
	// LoginTimeout bounds the whole handshake and login, redirects
	// included (DefaultLoginTimeout).
	LoginTimeout time.Duration
	// IOTimeout bounds every write to the server (DefaultIOTimeout).
	IOTimeout time.Duration
	// RequestTimeout bounds every wait for a server reply: a channel being
	// opened, a storage or resolve answer, a file-transfer acknowledgement
	// or data chunk (DefaultRequestTimeout).
	RequestTimeout time.Duration
	// OfferTimeout bounds how long SendFile waits for the recipient to
	// accept or decline (DefaultOfferTimeout), since a person decides.
	OfferTimeout time.Duration
	// KeepaliveInterval is how often a keepalive byte is sent
	// (DefaultKeepalive); negative disables keepalives.
	KeepaliveInterval time.Duration

	// ForceLogin answers every LOGIN_REDIRECT with LOGIN_CONTINUE on the
	// current connection instead of moving to the named server.
	ForceLogin bool
	// DisableEncryption offers no cipher on channels this client opens and
	// accepts incoming channels unencrypted. By default RC2/40 and RC2/128
	// are offered, and RC2/128 is preferred when accepting.
	DisableEncryption bool

	// EventBuffer is the capacity of the Events channel (DefaultEventBuffer).
	EventBuffer int
	// EventTimeout is how long the reader waits for room in a full event
	// queue before it ends the session with ErrSlowConsumer
	// (DefaultEventTimeout).
	EventTimeout time.Duration
	// MaxFileSize is the largest file SendFile offers; 0 means only the
	// protocol's limit (4 GiB - 1).
	MaxFileSize int64
	// MaxMessageSize bounds a reassembled multi-part IM (DefaultMaxMessageSize).
	MaxMessageSize int
	// MaxFrameSize bounds incoming frames (stproto.DefaultMaxFrameSize).
	MaxFrameSize int

	// Logger receives the client's logs (a null logger if nil).
	Logger hclog.Logger
	// DialContext opens TCP connections; nil means a net.Dialer. Tests and
	// proxies may substitute their own.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Rand is the source of key material; nil means crypto/rand.
	Rand io.Reader
}

// withDefaults validates cfg and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.Host == "":
		return cfg, fmt.Errorf("stclient: config: %w: host is empty", ErrInvalidConfig)
	case cfg.User == "":
		return cfg, fmt.Errorf("stclient: config: %w: user is empty", ErrInvalidConfig)
	case cfg.Port < 0 || cfg.Port > 65535:
		return cfg, fmt.Errorf("stclient: config: %w: port %d", ErrInvalidConfig, cfg.Port)
	case cfg.MaxFileSize < 0:
		return cfg, fmt.Errorf("stclient: config: %w: negative MaxFileSize", ErrInvalidConfig)
	}
	if cfg.Port == 0 {
		cfg.Port = stproto.DefaultPort
	}
	if cfg.LoginType == 0 {
		cfg.LoginType = stproto.LoginTypeMeanwhile
	}
	setDuration(&cfg.DialTimeout, DefaultDialTimeout)
	setDuration(&cfg.LoginTimeout, DefaultLoginTimeout)
	setDuration(&cfg.IOTimeout, DefaultIOTimeout)
	setDuration(&cfg.RequestTimeout, DefaultRequestTimeout)
	setDuration(&cfg.OfferTimeout, DefaultOfferTimeout)
	setDuration(&cfg.KeepaliveInterval, DefaultKeepalive)
	setDuration(&cfg.EventTimeout, DefaultEventTimeout)
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = DefaultEventBuffer
	}
	if cfg.MaxFileSize == 0 || cfg.MaxFileSize > protocolMaxFileSize {
		cfg.MaxFileSize = protocolMaxFileSize
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = stproto.DefaultMaxFrameSize
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.DialContext == nil {
		cfg.DialContext = (&net.Dialer{}).DialContext
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return cfg, nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
