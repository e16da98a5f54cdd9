package groupwise

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// Settings are the backend block's settings. Every field is optional.
type Settings struct {
	// DialTimeout bounds the TCP connect plus the TLS handshake
	// (default 30s).
	DialTimeout Duration `json:"dial_timeout"`
	// RequestTimeout bounds every request to the server; a server that
	// does not answer in time ends the session (default 30s).
	RequestTimeout Duration `json:"request_timeout"`
	// KeepaliveInterval is the period of the keepalive ping (default 30s,
	// as libpurple).
	KeepaliveInterval Duration `json:"keepalive_interval"`
	// UserAgent is sent in the login request.
	UserAgent string `json:"user_agent"`
	// RootFolderName names the contact list's root folder (id "0"), which
	// has no name on the server (default "GroupWise Messenger", as Pidgin
	// shows it).
	RootFolderName string `json:"root_folder_name"`
}

// Defaults of the settings the client does not default itself.
const (
	DefaultRootFolderName = "GroupWise Messenger"
	maxUserAgent          = 256
	maxFolderName         = 256
	minDuration           = 100 * time.Millisecond
	maxDuration           = time.Hour
)

// eventBuffer bounds the server pushes a session's connection holds before
// its delivery goroutine has taken them. The adapter's handler only hands
// each event on to the SDK's queue, which bounds the backlog itself (with
// resynchronisation), so this needs to cover scheduling delays only: on a
// loaded machine the delivery goroutine can wait milliseconds for a CPU
// while the reader goes on, and gwclient's default of 256 events ended
// sessions in a burst of one busy conversation. Storage grows only while
// events wait.
const eventBuffer = 8192

// settingNames are the JSON names of the Settings fields, for the error
// about an unknown field.
var settingNames = []string{"dial_timeout", "keepalive_interval", "request_timeout", "root_folder_name", "user_agent"}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errNotDuration
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errNotDuration
	}
	*d = Duration(v)
	return nil
}

var errNotDuration = errors.New(`want a duration string such as "30s"`)

// parseSettings decodes and checks the settings JSON. Errors are
// sdk.ReasonInvalidArgument and name the offending field.
func parseSettings(raw []byte) (Settings, error) {
	s := Settings{RootFolderName: DefaultRootFolderName}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return s, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return s, invalidSetting("settings are not a JSON object: %v", err)
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(settingNames, name) {
			return s, invalidSetting("unknown field %q (known: %s)", name, strings.Join(settingNames, ", "))
		}
	}
	for _, name := range names {
		if err := decodeSetting(&s, name, fields[name]); err != nil {
			return s, invalidSetting("%s: %v", name, err)
		}
	}
	return s, nil
}

func decodeSetting(s *Settings, name string, raw json.RawMessage) error {
	switch name {
	case "dial_timeout":
		return decodeDuration(&s.DialTimeout, raw)
	case "request_timeout":
		return decodeDuration(&s.RequestTimeout, raw)
	case "keepalive_interval":
		return decodeDuration(&s.KeepaliveInterval, raw)
	case "user_agent":
		return decodeText(&s.UserAgent, raw, maxUserAgent)
	case "root_folder_name":
		return decodeText(&s.RootFolderName, raw, maxFolderName)
	}
	return nil
}

func decodeDuration(d *Duration, raw json.RawMessage) error {
	if err := json.Unmarshal(raw, d); err != nil {
		return err
	}
	if v := time.Duration(*d); v < minDuration || v > maxDuration {
		return fmt.Errorf("%v is outside %v to %v", v, minDuration, maxDuration)
	}
	return nil
}

func decodeText(dst *string, raw json.RawMessage, limit int) error {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return errors.New("want a string")
	}
	if v == "" || len(v) > limit {
		return fmt.Errorf("want 1 to %d bytes", limit)
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return errors.New("control characters are not allowed")
	}
	*dst = v
	return nil
}

func invalidSetting(format string, args ...any) error {
	return &sdk.Error{Reason: sdk.ReasonInvalidArgument, Message: "groupwise: settings: " + fmt.Sprintf(format, args...)}
}

// clientConfig is the gwclient configuration of one session on server;
// pools parses its CA bundle. Errors are sdk.ReasonInvalidArgument.
func (s Settings) clientConfig(server sdk.ServerAddress, pools *certPools) (gwclient.Config, error) {
	if server.Host == "" {
		return gwclient.Config{}, &sdk.Error{Reason: sdk.ReasonInvalidArgument, Message: "groupwise: no server host configured"}
	}
	if !server.TLS {
		return gwclient.Config{}, &sdk.Error{Reason: sdk.ReasonInvalidArgument,
			Message: "groupwise: the server must be reached over TLS (GroupWise Messenger has no plain-text mode); set tls { enabled = true }"}
	}
	cfg := gwclient.Config{
		Server:             server.Host,
		Port:               int(server.Port),
		ServerName:         server.ServerName,
		InsecureSkipVerify: server.InsecureSkipVerify,
		DialTimeout:        time.Duration(s.DialTimeout),
		RequestTimeout:     time.Duration(s.RequestTimeout),
		KeepaliveInterval:  time.Duration(s.KeepaliveInterval),
		UserAgent:          s.UserAgent,
		EventBuffer:        eventBuffer,
	}
	if cfg.Port == 0 {
		cfg.Port = gwclient.DefaultPort
	}
	if len(server.CAPEM) > 0 {
		pool, err := pools.get(server.CAPEM)
		if err != nil {
			return gwclient.Config{}, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
