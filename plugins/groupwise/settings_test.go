package groupwise

import (
	"errors"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sdk"
)

// FuzzParseSettings checks that any settings JSON is either refused with
// invalid_argument or gives settings within their documented bounds.
func FuzzParseSettings(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"request_timeout": "10s"}`,
		`{"dial_timeout": "5s", "request_timeout": "10s", "keepalive_interval": "30s", "user_agent": "Parley", "root_folder_name": "Contacts"}`,
		`{"keepalive": "30s"}`, `{"request_timeout": 10}`, `{"request_timeout": "-1s"}`, `{"user_agent": ""}`,
		`{"user_agent": "a\u0000b"}`, `{"root_folder_name": null}`, `{"request_timeout": "10s", "request_timeout": "2h"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := parseSettings(raw)
		if err != nil {
			var e *sdk.Error
			if !errors.As(err, &e) || e.Reason != sdk.ReasonInvalidArgument {
				t.Fatalf("error %v is not invalid_argument", err)
			}
			return
		}
		for _, d := range []Duration{s.DialTimeout, s.RequestTimeout, s.KeepaliveInterval} {
			if d != 0 && (time.Duration(d) < minDuration || time.Duration(d) > maxDuration) {
				t.Fatalf("duration %v accepted", time.Duration(d))
			}
		}
		if len(s.UserAgent) > maxUserAgent || s.RootFolderName == "" || len(s.RootFolderName) > maxFolderName {
			t.Fatalf("settings %+v accepted", s)
		}
	})
}
