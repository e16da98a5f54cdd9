package pluginhost

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// logSink collects a logger's JSON lines and lets a test wait for one.
type logSink struct {
	mu      sync.Mutex
	entries []map[string]any
	changed chan struct{}
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte{'\n'}) {
		var e map[string]any
		if json.Unmarshal(line, &e) != nil {
			e = map[string]any{"@message": string(line), "@unparsed": true}
		}
		l.entries = append(l.entries, e)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logSink) find(pred func(map[string]any) bool) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, e := range l.entries {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitFor returns the first entry pred accepts, waiting for it to be
// logged.
func (l *logSink) waitFor(t testing.TB, what string, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(logWaitLimit)
	for {
		l.mu.Lock()
		changed := l.changed
		for _, e := range l.entries {
			if pred(e) {
				l.mu.Unlock()
				return e
			}
		}
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log line %s within %v", what, logWaitLimit)
		}
	}
}

func (l *logSink) dump(t testing.TB) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.entries {
		b, _ := json.Marshal(e)
		t.Log(truncate(string(b), 300))
	}
}

func message(msg string) func(map[string]any) bool {
	return func(e map[string]any) bool { return e["@message"] == msg }
}

// logWaitLimit bounds waiting for a log line.
const logWaitLimit = 30 * time.Second
