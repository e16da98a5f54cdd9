package pluginhost

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// Bounds on the structured fields of one plugin log line.
const (
	maxLogFields     = 32
	maxLogKeyBytes   = 64
	maxLogValueBytes = 1024
)

// pluginOutput re-logs what one plugin process writes to stderr and
// stdout through the gateway's logger. Its streams share one token bucket,
// so a plugin cannot flood the log through any of them.
type pluginOutput struct {
	log     hclog.Logger
	maxLine int
	dropped func() // counts a dropped line (metrics); may be nil

	mu         sync.Mutex
	bucket     tokenBucket
	suppressed int
}

func newPluginOutput(log hclog.Logger, limit LogLimit, dropped func()) *pluginOutput {
	return &pluginOutput{log: log, maxLine: limit.MaxLineBytes, dropped: dropped,
		bucket: tokenBucket{rate: limit.LinesPerSecond, burst: float64(limit.Burst), tokens: float64(limit.Burst), now: time.Now}}
}

// admit drops a line before it is parsed when the bucket is empty, so a
// flooding plugin costs little more than reading its pipe.
func (o *pluginOutput) admit() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bucket.refill() >= 1 {
		return true
	}
	o.dropLocked()
	return false
}

func (o *pluginOutput) dropLocked() {
	o.suppressed++
	if o.dropped != nil {
		o.dropped()
	}
}

// emit logs one line if the level is enabled and the bucket allows it.
// Lines below the logger's level cost no token.
func (o *pluginOutput) emit(level hclog.Level, msg string, args ...any) {
	if level < o.log.GetLevel() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.bucket.allow() {
		o.dropLocked()
		return
	}
	o.reportSuppressedLocked()
	o.log.Log(level, msg, args...)
}

// flush reports dropped lines that no later line has reported.
func (o *pluginOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reportSuppressedLocked()
}

func (o *pluginOutput) reportSuppressedLocked() {
	if o.suppressed > 0 {
		o.log.Warn("plugin log lines dropped: too many lines", "dropped", o.suppressed)
		o.suppressed = 0
	}
}

// lineKind says how a stream's lines are read.
type lineKind int

const (
	// logLines may be hclog JSON (the SDK's format) or plain text.
	logLines lineKind = iota
	// strayLines are plain text a plugin printed to stdout.
	strayLines
)

// lineWriter splits a stream into lines for a pluginOutput. It keeps at
// most maxLine bytes of a line; the rest is dropped and the line marked
// truncated. It never fails, so the plugin's pipe is always drained.
type lineWriter struct {
	out  *pluginOutput
	kind lineKind

	mu        sync.Mutex
	buf       []byte
	truncated bool
	inPanic   bool // a Go panic started: following plain lines are its trace
}

func (o *pluginOutput) writer(kind lineKind) *lineWriter {
	return &lineWriter{out: o, kind: kind}
}

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		chunk, rest, complete := bytes.Cut(p, []byte{'\n'})
		if room := w.out.maxLine - len(w.buf); len(chunk) > room {
			chunk = chunk[:max(room, 0)]
			w.truncated = true
		}
		w.buf = append(w.buf, chunk...)
		if !complete {
			break
		}
		w.lineLocked()
		p = rest
	}
	return n, nil
}

// Flush logs a last line that had no newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 || w.truncated {
		w.lineLocked()
	}
}

func (w *lineWriter) lineLocked() {
	line := bytes.TrimSuffix(w.buf, []byte{'\r'})
	truncated := w.truncated
	w.buf, w.truncated = w.buf[:0], false
	if len(bytes.TrimSpace(line)) == 0 || !w.out.admit() {
		return
	}
	var extra []any
	if truncated {
		extra = []any{"truncated", true}
	}
	if w.kind == strayLines {
		w.out.emit(hclog.Info, "plugin wrote to stdout", append([]any{"line", sanitize(string(line))}, extra...)...)
		return
	}
	if line[0] == '{' {
		if e, ok := parseLogLine(line); ok {
			w.out.emit(e.level, e.message, append(e.fields, extra...)...)
			return
		}
		w.out.emit(hclog.Warn, "malformed plugin log line", append([]any{"line", sanitize(string(line))}, extra...)...)
		return
	}
	text := sanitize(string(line))
	level := hclog.Info
	switch {
	case strings.HasPrefix(text, "panic: "), strings.HasPrefix(text, "fatal error: "):
		w.inPanic = true
		level = hclog.Error
	case w.inPanic:
		level = hclog.Error
	default:
		for _, p := range textLevels {
			if strings.HasPrefix(text, p.prefix) {
				level = p.level
				break
			}
		}
	}
	w.out.emit(level, text, extra...)
}

var textLevels = []struct {
	prefix string
	level  hclog.Level
}{{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info}, {"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}}

// logEntry is a parsed hclog JSON line.
type logEntry struct {
	level   hclog.Level
	message string
	fields  []any
}

// parseLogLine reads one hclog JSON line. The keys hclog itself writes
// must be strings: anything else (go-plugin's own parser panics on a
// number) makes the line malformed, and the caller logs it as text.
// Other keys become log fields: string values as strings, anything else
// as its JSON text, all sanitised and bounded.
func parseLogLine(line []byte) (logEntry, bool) {
	var raw map[string]json.RawMessage
	if json.Unmarshal(line, &raw) != nil {
		return logEntry{}, false
	}
	var e logEntry
	var level, ts, module string
	for _, f := range [...]struct {
		key string
		dst *string
	}{{"@message", &e.message}, {"@level", &level}, {"@timestamp", &ts}, {"@module", &module}} {
		v, ok := raw[f.key]
		if !ok {
			continue
		}
		// A string and nothing else: not even null.
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, f.dst) != nil {
			return logEntry{}, false
		}
	}
	if _, ok := raw["@message"]; !ok {
		return logEntry{}, false
	}
	e.message = sanitize(e.message)
	e.level = hclog.LevelFromString(level)
	if e.level == hclog.NoLevel || e.level == hclog.Off {
		e.level = hclog.Info
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) > maxLogFields {
		e.fields = append(e.fields, "fields_dropped", len(keys)-maxLogFields)
		keys = keys[:maxLogFields]
	}
	for _, k := range keys {
		e.fields = append(e.fields, truncate(sanitize(k), maxLogKeyBytes), fieldValue(raw[k]))
	}
	if module != "" {
		e.fields = append(e.fields, "module", truncate(sanitize(module), maxLogKeyBytes))
	}
	if ts != "" {
		e.fields = append(e.fields, "plugin_time", truncate(sanitize(ts), maxLogKeyBytes))
	}
	return e, true
}

func fieldValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	return truncate(sanitize(s), maxLogValueBytes)
}

// sanitize makes plugin text safe to log: invalid UTF-8 and control
// characters (which could forge log lines or drive a terminal) become
// U+FFFD. Tabs stay.
func sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\t') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\t' {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// tokenBucket allows rate events per second on average and burst at once.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
	now                 func() time.Time
}

// refill adds the tokens earned since the last call and returns how many
// there are.
func (b *tokenBucket) refill() float64 {
	now := b.now()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	return b.tokens
}

// allow takes a token if there is one.
func (b *tokenBucket) allow() bool {
	if b.refill() < 1 {
		return false
	}
	b.tokens--
	return true
}

// goPluginLogger is the logger handed to go-plugin. go-plugin parses a
// plugin's stderr itself, through the sub-logger Named(<binary name>),
// with unchecked type assertions: the line {"@message": 42} panics the
// whole gateway (go-plugin v1.8.0). It skips parsing when that sub-logger
// is at level Off, so this logger hands out an Off logger for exactly that
// name, like an hclog SubloggerHook would; the host's own lineWriter reads
// the lines instead (ClientConfig.Stderr). A hook proper can only be set
// when a logger is created, and the gateway's logger is created by
// parleyd, hence the wrapper.
type goPluginLogger struct {
	hclog.Logger
	mute string // the plugin binary's base name
}

var offLogger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})

func (l goPluginLogger) Named(name string) hclog.Logger {
	if name == l.mute {
		return offLogger
	}
	return goPluginLogger{Logger: l.Logger.Named(name), mute: l.mute}
}

func (l goPluginLogger) ResetNamed(name string) hclog.Logger {
	if name == l.mute {
		return offLogger
	}
	return goPluginLogger{Logger: l.Logger.ResetNamed(name), mute: l.mute}
}

func (l goPluginLogger) With(args ...any) hclog.Logger {
	return goPluginLogger{Logger: l.Logger.With(args...), mute: l.mute}
}
