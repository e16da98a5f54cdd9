package pluginhost

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// outputFor returns a pluginOutput logging JSON into a sink at trace
// level, with a clock the test moves.
func outputFor(limit LogLimit) (*pluginOutput, *logSink, *time.Time) {
	sink := newLogSink()
	log := hclog.New(&hclog.LoggerOptions{Name: "p", Level: hclog.Trace, JSONFormat: true, Output: sink})
	now := time.Unix(1000, 0)
	o := newPluginOutput(log, limit, nil)
	o.bucket.now = func() time.Time { return now }
	return o, sink, &now
}

var roomy = LogLimit{LinesPerSecond: 1, Burst: 1000, MaxLineBytes: 8 << 10}

func TestLineWriterParsesDefensively(t *testing.T) {
	for _, tc := range []struct {
		line, level, msg string
		fields           map[string]any
	}{
		{`{"@level":"debug","@message":"hello","@timestamp":"2026-01-02T03:04:05.000000Z","@module":"memory","session":"s1"}`,
			"debug", "hello", map[string]any{"session": "s1", "module": "memory", "plugin_time": "2026-01-02T03:04:05.000000Z"}},
		{`{"@level":"ERROR","@message":"boom","n":3,"ok":true,"list":[1,"a"],"obj":{"k":null}}`,
			"error", "boom", map[string]any{"n": "3", "ok": "true", "list": `[1,"a"]`, "obj": `{"k":null}`}},
		{`{"@message":"no level"}`, "info", "no level", nil},
		{`{"@level":"shouting","@message":"odd level"}`, "info", "odd level", nil},
		{`{"@message":"ctl\u001b[2Jchars","k\u0007":"v\u0000"}`, "info", "ctl\uFFFD[2Jchars", map[string]any{"k\uFFFD": "v\uFFFD"}},
		{`{"@message":"forged @ keys","@caller":1,"@level":"warn","@evil":{"x":1}}`, "warn", "forged @ keys", nil},
		// Malformed: logged as the raw line at warn.
		{`{"@message": 42}`, "warn", "malformed plugin log line", map[string]any{"line": `{"@message": 42}`}},
		{`{"@message": "m", "@level": 5}`, "warn", "malformed plugin log line", nil},
		{`{"@message": "m", "@timestamp": []}`, "warn", "malformed plugin log line", nil},
		{`{"@message": "m", "@module": {}}`, "warn", "malformed plugin log line", nil},
		{`{"@message": null}`, "warn", "malformed plugin log line", nil},
		{`{"@level": "info"}`, "warn", "malformed plugin log line", nil},
		{`{"@message": "cut`, "warn", "malformed plugin log line", nil},
		{`{}`, "warn", "malformed plugin log line", nil},
		// Plain text.
		{`plain words`, "info", "plain words", nil},
		{`[WARN] careful`, "warn", "[WARN] careful", nil},
		{`[DEBUG] detail`, "debug", "[DEBUG] detail", nil},
		{`null`, "info", "null", nil},
		{"bad utf-8 \xff\xfe here", "info", "bad utf-8 \uFFFD here", nil},
	} {
		o, sink, _ := outputFor(roomy)
		w := o.writer(logLines)
		if _, err := io.WriteString(w, tc.line+"\n"); err != nil {
			t.Fatal(err)
		}
		if len(sink.entries) != 1 {
			t.Errorf("%s: %d log lines, want 1", tc.line, len(sink.entries))
			continue
		}
		e := sink.entries[0]
		if e["@level"] != tc.level || e["@message"] != tc.msg {
			t.Errorf("%s: logged at %v %q, want %s %q", tc.line, e["@level"], e["@message"], tc.level, tc.msg)
		}
		for k, v := range tc.fields {
			if e[k] != v {
				t.Errorf("%s: field %s = %#v, want %#v", tc.line, k, e[k], v)
			}
		}
		if tc.msg == "forged @ keys" {
			if e["@caller"] != nil || e["@evil"] != nil {
				t.Errorf("plugin's @ keys reached the log: %v", e)
			}
		}
	}
}

func TestLineWriterPanicTraceAtError(t *testing.T) {
	o, sink, _ := outputFor(roomy)
	w := o.writer(logLines)
	fmt.Fprint(w, "before\npanic: runtime error\n\ngoroutine 1 [running]:\nmain.main()\n")
	levels := []string{}
	for _, e := range sink.entries {
		levels = append(levels, e["@level"].(string))
	}
	if got := strings.Join(levels, " "); got != "info error error error" {
		t.Errorf("levels %s, want info then error for the whole trace", got)
	}
}

func TestLineWriterSplitsAndTruncates(t *testing.T) {
	o, sink, _ := outputFor(LogLimit{LinesPerSecond: 1, Burst: 100, MaxLineBytes: 16})
	w := o.writer(logLines)
	input := "one\r\ntw" + "o\n\n   \n" + strings.Repeat("x", 40) + "\nlast without newline"
	// Byte by byte: the split must not depend on how writes are chunked.
	for i := range len(input) {
		if n, err := w.Write([]byte{input[i]}); n != 1 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if len(w.buf) > 16 {
			t.Fatalf("buffered %d bytes with a 16-byte line limit", len(w.buf))
		}
	}
	w.Flush()
	var got []string
	for _, e := range sink.entries {
		m := e["@message"].(string)
		if e["truncated"] == true {
			m += "…"
		}
		got = append(got, m)
	}
	want := []string{"one", "two", strings.Repeat("x", 16) + "…", "last without new…"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestStrayStdoutAtInfo(t *testing.T) {
	o, sink, _ := outputFor(roomy)
	fmt.Fprintln(o.writer(strayLines), `{"@level":"error","@message":"not parsed"}`)
	e := sink.entries[0]
	if e["@level"] != "info" || e["@message"] != "plugin wrote to stdout" || e["line"] != `{"@level":"error","@message":"not parsed"}` {
		t.Errorf("stdout line logged as %v", e)
	}
}

func TestPluginOutputRateLimit(t *testing.T) {
	dropped := 0
	o, sink, now := outputFor(LogLimit{LinesPerSecond: 2, Burst: 3, MaxLineBytes: 100})
	o.dropped = func() { dropped++ }
	w := o.writer(logLines)
	for i := range 10 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if len(sink.entries) != 3 || dropped != 7 {
		t.Fatalf("%d lines logged, %d dropped; want 3 and 7", len(sink.entries), dropped)
	}
	*now = now.Add(time.Second) // two more tokens
	fmt.Fprintln(w, "line 10")
	fmt.Fprintln(w, "line 11")
	fmt.Fprintln(w, "line 12")
	got := []string{}
	for _, e := range sink.entries[3:] {
		got = append(got, fmt.Sprintf("%v %v", e["@message"], e["dropped"]))
	}
	want := []string{"plugin log lines dropped: too many lines 7", "line 10 <nil>", "line 11 <nil>"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("after refill: %q, want %q", got, want)
	}
	o.flush()
	if last := sink.entries[len(sink.entries)-1]; last["dropped"] != 1.0 {
		t.Errorf("flush logged %v, want the one dropped line reported", last)
	}
	// Lines below the logger's level cost no tokens.
	*now = now.Add(time.Hour)
	o.log.SetLevel(hclog.Warn)
	for range 10 {
		fmt.Fprintln(w, `{"@level":"debug","@message":"quiet"}`)
	}
	fmt.Fprintln(w, `{"@level":"warn","@message":"loud"}`)
	if last := sink.entries[len(sink.entries)-1]; last["@message"] != "loud" {
		t.Errorf("a warning after filtered debug lines was dropped: %v", last)
	}
}

func TestGoPluginLoggerMutesOnlyThePluginsSublogger(t *testing.T) {
	base := hclog.New(&hclog.LoggerOptions{Name: "plugins", Level: hclog.Debug, Output: io.Discard})
	l := goPluginLogger{Logger: base, mute: "parley-backend-x_v1.0.0"}
	if got := l.Named("parley-backend-x_v1.0.0").GetLevel(); got != hclog.Off {
		t.Errorf("the plugin's sub-logger is at %v, want off (go-plugin then skips parsing)", got)
	}
	if got := l.With("k", "v").Named("parley-backend-x_v1.0.0").GetLevel(); got != hclog.Off {
		t.Errorf("after With: %v, want off", got)
	}
	if got := l.ResetNamed("parley-backend-x_v1.0.0").GetLevel(); got != hclog.Off {
		t.Errorf("ResetNamed: %v, want off", got)
	}
	stdio := l.Named("stdio")
	if stdio.GetLevel() != hclog.Debug || stdio.Name() != "plugins.stdio" {
		t.Errorf("other sub-loggers changed: %v %q", stdio.GetLevel(), stdio.Name())
	}
}

func TestSanitizeAndTruncate(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttab":        "plain\ttab",
		"nl\nret\r":         "nl\uFFFDret\uFFFD",
		"\x1b[1m\x7f\u0085": "\uFFFD[1m\uFFFD\uFFFD",
		"\xc3":              "\uFFFD",
		"ok é ∑":            "ok é ∑",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := truncate("aé", 2); got != "a" {
		t.Errorf("truncate split a rune: %q", got)
	}
}

// checkClean fails on text that could forge log lines or drive a
// terminal.
func checkClean(t *testing.T, what, s string) {
	if !utf8.ValidString(s) {
		t.Fatalf("%s is not valid UTF-8: %q", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' {
			t.Fatalf("%s has control character %U: %q", what, r, s)
		}
	}
}

func FuzzParseLogLine(f *testing.F) {
	for _, s := range []string{
		`{"@level":"info","@message":"m","@timestamp":"2026-01-02T03:04:05.000000Z","k":"v"}`,
		`{"@message": 42}`, `{"@message": null}`, `{"@level": ["x"], "@message": "m"}`,
		`{"@message":"x","a":{"b":[1,2,{"c":"\u001b"}]}}`, `{"@message":"\ud800"}`, `{`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok := parseLogLine(line)
		if !ok {
			return
		}
		checkClean(t, "message", e.message)
		if len(e.fields)%2 != 0 || len(e.fields) > 2*(maxLogFields+3) {
			t.Fatalf("%d field values", len(e.fields))
		}
		for i, v := range e.fields {
			if s, ok := v.(string); ok {
				checkClean(t, "field", s)
				if len(s) > maxLogValueBytes {
					t.Fatalf("field %d has %d bytes", i, len(s))
				}
			}
		}
	})
}

func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("{\"@message\": 42}\nplain\n"), uint8(3))
	f.Add([]byte("panic: x\n\tgoroutine\r\n"+strings.Repeat("y", 300)), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		o := newPluginOutput(hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, JSONFormat: true, Output: io.Discard}),
			LogLimit{LinesPerSecond: 1e9, Burst: 1 << 20, MaxLineBytes: 64}, nil)
		for _, kind := range []lineKind{logLines, strayLines} {
			w := o.writer(kind)
			step := int(chunk)%16 + 1
			for rest := data; len(rest) > 0; {
				n := min(step, len(rest))
				if m, err := w.Write(rest[:n]); m != n || err != nil {
					t.Fatalf("Write = %d, %v", m, err)
				}
				if len(w.buf) > 64 {
					t.Fatalf("buffered %d bytes over the limit", len(w.buf))
				}
				rest = rest[n:]
			}
			w.Flush()
		}
	})
}

var benchLine = []byte(`{"@level":"info","@message":"session opened","@module":"groupwise","@timestamp":"2026-01-02T03:04:05.123456Z","session":"0f3c9a","user":"alice"}` + "\n")

func BenchmarkParseLogLine(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if _, ok := parseLogLine(benchLine[:len(benchLine)-1]); !ok {
			b.Fatal("not parsed")
		}
	}
}

func BenchmarkLineWriter(b *testing.B) {
	o := newPluginOutput(hclog.New(&hclog.LoggerOptions{Level: hclog.Info, JSONFormat: true, Output: io.Discard}),
		LogLimit{LinesPerSecond: 1e12, Burst: 1 << 30, MaxLineBytes: 8 << 10}, nil)
	w := o.writer(logLines)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if _, err := w.Write(benchLine); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLineWriterFlood is a plugin flooding its log: lines are
// dropped before they are parsed.
func BenchmarkLineWriterFlood(b *testing.B) {
	o := newPluginOutput(hclog.New(&hclog.LoggerOptions{Level: hclog.Info, JSONFormat: true, Output: io.Discard}),
		LogLimit{LinesPerSecond: 1e-9, Burst: 1, MaxLineBytes: 8 << 10}, nil)
	w := o.writer(logLines)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if _, err := w.Write(benchLine); err != nil {
			b.Fatal(err)
		}
	}
}
