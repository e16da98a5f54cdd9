package conf

import (
	"errors"
	"strings"
	"testing"
)

// TestErrorsNameFileAndLine checks, for each class of mistake, that the
// admin is told where it is: file:line,column-column and what is wrong.
func TestErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want string // a substring of the error, starting with its position
	}{
		{"syntax", "data_dir = \"/x\n", "parley.hcl:1,15-2,1: Unterminated template string"},
		{"unknown attribute", "colour = \"blue\"\n", `parley.hcl:1,1-7: Unsupported argument; An argument named "colour" is not expected here.`},
		{"unknown attribute in block", "sessions {\n  max_session = 5\n}\n", `parley.hcl:2,3-14: Unsupported argument; An argument named "max_session"`},
		{"unknown block", "cluster {\n}\n", `parley.hcl:1,1-8: Unsupported block type; Blocks of type "cluster" are not expected here.`},
		{"unknown block in backend", "backend \"gw\" {\n  plugin = \"groupwise\"\n  server { host = \"h\" }\n  auth {}\n}\n", `parley.hcl:4,3-7: Unsupported block type`},
		{"duplicate block", "sessions {}\nsessions {}\n", "parley.hcl:2,1-9: Duplicate sessions block"},
		{"wrong type", "sessions {\n  max_sessions = \"many\"\n}\n", "parley.hcl:2,18-24: Invalid sessions.max_sessions; a number is required"},
		{"fraction", "frame {\n  max_frame = 65536.5\n}\n", "parley.hcl:2,15-22: Invalid frame.max_frame; a whole number is required"},
		{"out of range", "sessions {\n  max_sessions = 0\n}\n", "parley.hcl:2,18-19: Invalid sessions.max_sessions; 0 is out of range: it must be from 1 to"},
		{"frame too small", "frame {\n  max_frame = 100\n}\n", "parley.hcl:2,15-18: Invalid frame.max_frame; 100 is out of range"},
		{"bad duration", "plugins {\n  call_timeout = \"5 seconds\"\n}\n", `parley.hcl:2,18-29: Invalid plugins.call_timeout; "5 seconds" is not a duration`},
		{"negative duration", "sessions {\n  detach_ttl = \"-1m\"\n}\n", `parley.hcl:2,16-21: Invalid sessions.detach_ttl; "-1m" is negative`},
		{"duration too short", "plugins {\n  start_timeout = \"10ms\"\n}\n", "parley.hcl:2,19-25: Invalid plugins.start_timeout; 10ms is out of range"},
		{"bad enum", "log_level = \"loud\"\n", `parley.hcl:1,13-19: Invalid log_level; "loud" is not one of "trace", "debug", "info", "warn", "error"`},
		{"tls version", "tls {\n  min_version = \"1.1\"\n}\n", `parley.hcl:2,17-22: Invalid tls.min_version; "1.1" is not one of "1.2", "1.3"`},
		{"driver", "database {\n  driver = \"mysql\"\n}\n", `parley.hcl:2,12-19: Invalid database.driver; "mysql" is not one of "sqlite", "postgres"`},
		{"relative data_dir", "data_dir = \"state\"\n", `parley.hcl:1,12-19: Invalid data_dir; "state" is not an absolute path`},
		{"variable", "data_dir = var.dir\n", "parley.hcl:1,12-15: Variables not allowed"},
		{"function", "log_level = lower(\"INFO\")\n", "parley.hcl:1,13-26: Function calls not allowed"},
		{"listen address", "listener \"device\" {\n  address = \"4101\"\n}\n", `parley.hcl:2,13-19: Invalid listener.device.address; "4101" is not host:port`},
		{"listen port", "listener \"device\" {\n  address = \":99999\"\n}\n", `parley.hcl:2,13-21: Invalid listener.device.address; ":99999": port "99999" is not a number`},
		{"unknown listener", "listener \"web\" {\n}\n", `parley.hcl:1,10-15: Unsupported listener; there is no listener "web"`},
		{"duplicate listener", "listener \"device\" {}\nlistener \"device\" {}\n", `parley.hcl:2,10-18: Duplicate listener; listener "device" is already defined at parley.hcl:1,10-18`},
		{"remote admin", "admin {\n  address = \"0.0.0.0:4102\"\n}\n", `parley.hcl:2,13-27: Invalid admin.address; "0.0.0.0:4102": the admin API listens only on a loopback address`},
		{"empty unix socket", "admin {\n  address = \"unix:\"\n}\n", `parley.hcl:2,13-20: Invalid admin.address; "unix:" needs a socket path`},
		{"port clash", "metrics {\n  address = \"127.0.0.1:4101\"\n}\n", `parley.hcl:2,13-29: Conflicting addresses; listener.device.address (":4101") and metrics.address ("127.0.0.1:4101") use the same port`},
		{"cert without key", "tls {\n  cert_file = \"gw.crt\"\n}\n", "parley.hcl:2,15-23: Incomplete tls; set both cert_file and key_file"},
		{"postgres without dsn", "database {\n  driver = \"postgres\"\n}\n", `parley.hcl:2,12-22: Missing database.dsn; driver "postgres" needs dsn`},
		{"idle not above heartbeat", "sessions {\n  heartbeat = \"2m\"\n}\n", "parley.hcl:2,15-19: Invalid sessions.idle_timeout; idle_timeout (1m30s) must be longer than heartbeat (2m0s)"},
		{"compress above frame", "frame {\n  compress_threshold = 2000000\n}\n", "parley.hcl:2,24-31: Invalid frame.compress_threshold; compress_threshold (2000000) must not exceed max_frame (1048576)"},
		{"bad extension", "file_policy {\n  blocked_extensions = [\"exe\", \"a/b\"]\n}\n", `parley.hcl:2,24-38: Invalid file_policy.blocked_extensions; "a/b" is not a file extension`},
		{"null extension", "file_policy {\n  blocked_extensions = [\"exe\", null]\n}\n", "parley.hcl:2,24-37: Invalid file_policy.blocked_extensions; the list must not contain null"},
		{"negative file size", "file_policy {\n  max_file_bytes = -1\n}\n", "parley.hcl:2,20-22: Invalid file_policy.max_file_bytes; -1 is out of range"},
		{"pin without digest", "plugins {\n  pin \"groupwise\" {\n  }\n}\n", `parley.hcl:2,3-18: Missing sha256; pin "groupwise" needs sha256`},
		{"pin bad digest", "plugins {\n  pin \"groupwise\" {\n    sha256 = \"abc\"\n  }\n}\n", `parley.hcl:3,14-19: Invalid plugins.pin.groupwise.sha256; "abc" is not a SHA-256 digest`},
		{"pin bad name", "plugins {\n  pin \"Group Wise\" {\n    sha256 = \"" + strings.Repeat("0", 64) + "\"\n  }\n}\n", `parley.hcl:2,7-19: Invalid plugins.pin; "Group Wise" is not a plugin name`},
		{"duplicate pin", "plugins {\n  pin \"groupwise\" { sha256 = \"" + strings.Repeat("0", 64) + "\" }\n  pin \"parley-backend-groupwise\" { sha256 = \"" + strings.Repeat("1", 64) + "\" }\n}\n", `parley.hcl:3,7-33: Duplicate pin; plugin "groupwise" is already pinned at parley.hcl:2,7-18`},
		{"backend without label", "backend {\n}\n", "parley.hcl:1,9-10: Missing name for backend"},
		{"backend name", "backend \"Corp GW\" {\n  plugin = \"groupwise\"\n  server { host = \"h\" }\n}\n", `parley.hcl:1,9-18: Invalid backend name; "Corp GW"`},
		{"duplicate backend", "backend \"gw\" {\n  plugin = \"groupwise\"\n  server { host = \"a\" }\n}\nbackend \"gw\" {\n  plugin = \"groupwise\"\n  server { host = \"b\" }\n}\n", `parley.hcl:5,9-13: Duplicate backend; backend "gw" is already defined at parley.hcl:1,9-13`},
		{"backend without server", "backend \"groupwise\" {\n}\n", `parley.hcl:1,1-20: Missing server block; backend "groupwise" needs a server block`},
		{"server without host", "backend \"groupwise\" {\n  server {\n    port = 8300\n  }\n}\n", `parley.hcl:2,3-9: Missing host; backend "groupwise": server needs host`},
		{"host with port", "backend \"groupwise\" {\n  server { host = \"gw:8300\" }\n}\n", `parley.hcl:2,19-28: Invalid backend.groupwise.server.host; "gw:8300": give the host alone and the port as port = ...`},
		{"server port range", "backend \"groupwise\" {\n  server {\n    host = \"gw\"\n    port = 70000\n  }\n}\n", "parley.hcl:4,12-17: Invalid backend.groupwise.server.port; 70000 is out of range: it must be from 1 to 65535"},
		{"unknown plugin without port", "backend \"chat\" {\n  plugin = \"acme\"\n  server { host = \"chat.example.com\" }\n}\n", `parley.hcl:3,3-9: Missing port; backend "chat": plugin "acme" has no well-known port`},
		{"bad plugin name", "backend \"gw\" {\n  plugin = \"parley-backend-\"\n  server { host = \"h\" }\n}\n", `parley.hcl:2,12-29: Invalid backend.gw.plugin; "parley-backend-" is not a plugin name`},
		{"backend name is no plugin name", "backend \"corp_gw\" {\n  server { host = \"h\" }\n}\n", `parley.hcl:1,9-18: Missing plugin; backend "corp_gw" needs plugin = "<name>"`},
		{"unknown server tls attribute", "backend \"groupwise\" {\n  server {\n    host = \"h\"\n    tls { verify = false }\n  }\n}\n", `parley.hcl:4,11-17: Unsupported argument; An argument named "verify"`},
		{"settings block inside", "backend \"groupwise\" {\n  server { host = \"h\" }\n  settings {\n    limits {\n    }\n  }\n}\n", `parley.hcl:4,5-11: Unexpected "limits" block; Blocks are not allowed here.`},
		{"settings variable", "backend \"groupwise\" {\n  server { host = \"h\" }\n  settings {\n    user = env.USER\n  }\n}\n", "parley.hcl:4,12-15: Variables not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "parley.hcl")
			if err == nil {
				t.Fatalf("no error for:\n%s", tc.src)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) is false for %v", err)
			}
		})
	}
}

func TestErrorReportsEveryProblemInOrder(t *testing.T) {
	src := `log_level = "loud"
sessions {
  detach_ttl = "soon"
  bogus      = 1
}
backend "groupwise" {
}
`
	_, err := Parse([]byte(src), "parley.hcl")
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	wantLines := []string{
		"conf: parley.hcl:1,13-19: Invalid log_level",
		"parley.hcl:3,16-22: Invalid sessions.detach_ttl",
		"parley.hcl:4,3-8: Unsupported argument",
		"parley.hcl:6,1-20: Missing server block",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(wantLines) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(wantLines), err)
	}
	for i, want := range wantLines {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], want)
		}
	}
	if len(cerr.Diagnostics) != len(wantLines) {
		t.Errorf("Diagnostics has %d entries, want %d", len(cerr.Diagnostics), len(wantLines))
	}
}
