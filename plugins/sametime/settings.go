package sametime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sdk"
)

// Defaults of the settings.
const (
	// DefaultMaxFileBytes is the file size limit assumed for the server:
	// 1 MB as the Sametime documentation gives the default, taken as 1 MiB.
	DefaultMaxFileBytes = 1 << 20
	// DefaultRequestTimeout bounds each wait for the server's answer.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultOfferTimeout bounds the wait for a recipient to accept a file.
	DefaultOfferTimeout = 5 * time.Minute
	// DefaultKeepalive is how often a keepalive byte is sent, as libpurple does.
	DefaultKeepalive = 30 * time.Second
)

// maxProtocolFileBytes is the largest size a file offer can carry (u32).
const maxProtocolFileBytes = math.MaxUint32

// Settings are the backend block's settings, given to Configure as a JSON
// object whose keys are named beside each field. Missing keys take the
// defaults above; unknown keys are an error.
type Settings struct {
	// MaxFileBytes ("max_file_bytes") is the server's file-transfer limit.
	// Sametime refuses a larger offer without telling its limit, so this
	// value is what the gateway and devices are told: set it to the
	// server's configured limit. Offers above it are refused before they
	// reach the server.
	MaxFileBytes uint64
	// LoginType ("login_type") is the client type announced at login, a
	// number or a string such as "0x1700" (meanwhile's type, the default).
	LoginType LoginType
	// RequestTimeout ("request_timeout") bounds every wait for a reply.
	RequestTimeout Duration
	// OfferTimeout ("offer_timeout") bounds how long a file offer waits
	// for the recipient to answer.
	OfferTimeout Duration
	// Keepalive ("keepalive") is the interval of keepalive bytes.
	Keepalive Duration
	// DisableEncryption ("disable_encryption") opens and accepts IM
	// channels without RC2 encryption.
	DisableEncryption bool
	// ForceLogin ("force_login") answers a login redirect by staying on
	// the server first contacted.
	ForceLogin bool
}

// Duration is a time.Duration written in JSON as a string ("10s", "5m").
type Duration time.Duration

// UnmarshalJSON parses a duration string; it must be positive.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"10s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", s)
	}
	*d = Duration(v)
	return nil
}

// LoginType is the Sametime client type, written as a number or a string
// holding a decimal or 0x-prefixed hexadecimal number.
type LoginType stproto.LoginType

// UnmarshalJSON parses a login type.
func (l *LoginType) UnmarshalJSON(b []byte) error {
	text := string(bytes.Trim(b, `"`))
	v, err := strconv.ParseUint(text, 0, 16)
	if err != nil {
		return fmt.Errorf("login type %s is not a 16-bit number", b)
	}
	*l = LoginType(v)
	return nil
}

// ParseSettings decodes and validates settings JSON and fills in defaults.
// Errors are *sdk.Error with ReasonInvalidArgument naming the bad key.
func ParseSettings(raw []byte) (Settings, error) {
	var s Settings
	var fields map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return Settings{}, invalidSettings("want a JSON object: %v", err)
		}
	}
	targets := map[string]any{
		"max_file_bytes":     &s.MaxFileBytes,
		"login_type":         &s.LoginType,
		"request_timeout":    &s.RequestTimeout,
		"offer_timeout":      &s.OfferTimeout,
		"keepalive":          &s.Keepalive,
		"disable_encryption": &s.DisableEncryption,
		"force_login":        &s.ForceLogin,
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		target, known := targets[name]
		if !known {
			return Settings{}, invalidSettings("unknown field %q", name)
		}
		if err := json.Unmarshal(fields[name], target); err != nil {
			return Settings{}, invalidSettings("field %q: %v", name, err)
		}
	}
	if s.MaxFileBytes > maxProtocolFileBytes {
		return Settings{}, invalidSettings("field \"max_file_bytes\": %d exceeds the protocol's limit of %d",
			s.MaxFileBytes, uint64(maxProtocolFileBytes))
	}
	if s.MaxFileBytes == 0 {
		s.MaxFileBytes = DefaultMaxFileBytes
	}
	if s.LoginType == 0 {
		s.LoginType = LoginType(stproto.LoginTypeMeanwhile)
	}
	setDefault(&s.RequestTimeout, DefaultRequestTimeout)
	setDefault(&s.OfferTimeout, DefaultOfferTimeout)
	setDefault(&s.Keepalive, DefaultKeepalive)
	return s, nil
}

func invalidSettings(format string, args ...any) error {
	return sdk.Errorf(sdk.ReasonInvalidArgument, "sametime: settings: "+format, args...)
}

func setDefault(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}
