package sametime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleygw/parley/plugins/sametime"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

func TestSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		settings string
		wantErr  string // "" means valid
	}{
		{``, ""},
		{`{}`, ""},
		{`{"max_file_bytes": 1048576, "login_type": "0x1700", "request_timeout": "10s", "offer_timeout": "2m", "keepalive": "20s", "disable_encryption": true, "force_login": true}`, ""},
		{`{"login_type": 4096}`, ""},
		{`{"max_file_byte": 5}`, `unknown field "max_file_byte"`},
		{`{"request_timeout": "soon"}`, `field "request_timeout"`},
		{`{"request_timeout": 10}`, `field "request_timeout"`},
		{`{"keepalive": "-1s"}`, `field "keepalive"`},
		{`{"login_type": "0x10000"}`, `field "login_type"`},
		{`{"max_file_bytes": -1}`, `field "max_file_bytes"`},
		{`{"max_file_bytes": 4294967296}`, `field "max_file_bytes"`},
		{`[1, 2]`, "want a JSON object"},
	} {
		_, err := sametime.ParseSettings([]byte(tc.settings))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.settings, err)
			}
			continue
		}
		if !sdktest.IsReason(err, sdk.ReasonInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: got %v, want invalid_argument mentioning %s", tc.settings, err, tc.wantErr)
		}
	}
}

func TestSettingsDefaults(t *testing.T) {
	s, err := sametime.ParseSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sametime.Settings{MaxFileBytes: sametime.DefaultMaxFileBytes, LoginType: sametime.LoginType(stproto.LoginTypeMeanwhile),
		RequestTimeout: sametime.Duration(sametime.DefaultRequestTimeout), OfferTimeout: sametime.Duration(sametime.DefaultOfferTimeout),
		Keepalive: sametime.Duration(sametime.DefaultKeepalive)}
	if s != want {
		t.Fatalf("defaults %+v, want %+v", s, want)
	}
}

// FuzzParseSettings: settings come from the operator's configuration;
// whatever they hold, ParseSettings returns valid settings or an
// invalid_argument error, never a panic.
func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"max_file_bytes": 1048576}`, `{"login_type": "0x1700"}`, `{"login_type": 4096}`,
		`{"request_timeout": "10s", "offer_timeout": "5m", "keepalive": "30s"}`,
		`{"disable_encryption": true, "force_login": false}`, `{"max_file_bytes": 1e3}`, `{"unknown": 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := sametime.ParseSettings(raw)
		if err != nil {
			var e *sdk.Error
			if !errors.As(err, &e) || e.Reason != sdk.ReasonInvalidArgument {
				t.Fatalf("error %v is not invalid_argument", err)
			}
			return
		}
		if s.MaxFileBytes == 0 || s.MaxFileBytes > 1<<32-1 || s.LoginType == 0 ||
			s.RequestTimeout <= 0 || s.OfferTimeout <= 0 || s.Keepalive <= 0 {
			t.Fatalf("accepted settings out of range: %+v", s)
		}
	})
}
