package gwproto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/parleygw/parley/internal/captures"
)

// captureFiles returns the shared interop captures whose names match
// pattern, or nothing when ../shared is absent.
func captureFiles(tb testing.TB, pattern string) [][]byte {
	tb.Helper()
	files, err := captures.Read(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// splitServerStream cuts a captured server stream into its messages.
func splitServerStream(stream []byte) (responses, events [][]byte) {
	br := bytes.NewReader(stream)
	r := NewReader(br, Limits{})
	start := 0
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		end := len(stream) - br.Len() - len(r.buffered())
		if m.Response != nil {
			responses = append(responses, stream[start:end])
		} else {
			events = append(events, stream[start:end])
		}
		start = end
	}
}

// splitRequestStream cuts a captured client stream into its requests.
func splitRequestStream(stream []byte) [][]byte {
	var out [][]byte
	for len(stream) > 0 {
		next := bytes.Index(stream[1:], []byte("POST /"))
		if next < 0 {
			return append(out, stream)
		}
		out = append(out, stream[:next+1])
		stream = stream[next+1:]
	}
	return out
}

func FuzzParseRequest(f *testing.F) {
	for _, v := range [][]byte{vecLoginRequest, vecCreateConfRequest, vecSendMessageRequest} {
		f.Add(v)
	}
	for _, c := range captureFiles(f, "groupwise-*.c2s.bin") {
		f.Add(c)
		for _, req := range splitRequestStream(c) {
			f.Add(req)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseRequest(data)
		if err != nil {
			return
		}
		wire, err := req.AppendTo(nil)
		if err != nil || hasType(req.Fields, TypeBinary) {
			return
		}
		again, err := ParseRequest(wire)
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v\n%q", err, wire)
		}
		if diff := cmp.Diff(req, again); diff != "" {
			t.Fatalf("request changed in a round trip (-first +second):\n%s", diff)
		}
	})
}

func hasType(fs Fields, typ Type) bool {
	for i := range fs {
		if fs[i].Type == typ || hasType(fs[i].Children, typ) {
			return true
		}
	}
	return false
}

func FuzzParseResponse(f *testing.F) {
	for _, v := range [][]byte{vecLoginResponse, vecResultResponse, vecLoginFailed, vecCreateConfResponse} {
		f.Add(v)
	}
	for _, c := range captureFiles(f, "groupwise-*.s2c.bin") {
		f.Add(c)
		responses, _ := splitServerStream(c)
		for _, r := range responses {
			f.Add(r)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := ParseResponse(data)
		if err != nil {
			return
		}
		_ = resp.Err()
		wire, err := resp.AppendTo(nil)
		if err != nil {
			return
		}
		again, err := ParseResponse(wire)
		if err != nil {
			t.Fatalf("re-encoded response does not parse: %v\n% x", err, wire)
		}
		if diff := cmp.Diff(resp, again); diff != "" {
			t.Fatalf("response changed in a round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, v := range [][]byte{vecEvent108, vecEvent103, vecEvent112} {
		f.Add(v)
	}
	for _, c := range captureFiles(f, "groupwise-*.s2c.bin") {
		_, events := splitServerStream(c)
		for _, e := range events {
			f.Add(e)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvent(data)
		if err != nil {
			var ue *UnknownEventError
			if errors.Is(err, ErrUnknownEvent) && !errors.As(err, &ue) {
				t.Fatalf("ErrUnknownEvent without *UnknownEventError: %v", err)
			}
			return
		}
		wire, err := ev.AppendTo(nil)
		if err != nil {
			return
		}
		again, err := ParseEvent(wire)
		if err != nil {
			t.Fatalf("re-encoded event does not parse: %v\n% x", err, wire)
		}
		if diff := cmp.Diff(ev, again); diff != "" {
			t.Fatalf("event changed in a round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzRTFStrip(f *testing.F) {
	f.Add(event108().Text)
	f.Add(RTFWrap("a\nb {x} \\y é € 😀"))
	f.Add("{\\rtf1\\ansi{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}}\\f0 from carol \\'e9 tab\\tab end\\line L2\\par}")
	f.Add("{\\rtf1{\\fonttbl{\\f0 A;}{\\f1\\fcharset204 B;}}\\f1 \\'c0\\'c1 \\f0 x \\u128512? z}")
	f.Add("{\\rtf1{\\fonttbl{\\f0\\fcharset128 A;}}\\f0 \\'82\\'a0\\uc2\\u-10179??\\u-8704??\\bin2 xy}")
	// message bodies the real client sent, and the ones the stubs pushed
	for _, c := range captureFiles(f, "groupwise-*.c2s.bin") {
		for _, raw := range splitRequestStream(c) {
			if req, err := ParseRequest(raw); err == nil {
				if msg, ok := req.Fields.List(TagFaMessage); ok {
					if body, ok := msg.String(TagSzMessageBody); ok {
						f.Add(body)
					}
				}
			}
		}
	}
	for _, c := range captureFiles(f, "groupwise-*.s2c.bin") {
		_, events := splitServerStream(c)
		for _, raw := range events {
			if ev, err := ParseEvent(raw); err == nil && ev.Text != "" {
				f.Add(ev.Text)
			}
		}
	}
	f.Fuzz(func(t *testing.T, rtf string) {
		if _, err := RTFStrip(rtf); err != nil && !errors.Is(err, ErrRTFUnbalanced) && !errors.Is(err, ErrRTFTooDeep) {
			t.Fatalf("RTFStrip(%q): untyped error %v", rtf, err)
		}
		// What libpurple's wrapper produces must come back unchanged
		// (raw CR is dropped by every RTF reader).
		if utf8.ValidString(rtf) && !strings.ContainsAny(rtf, "\r\x00") {
			got, err := RTFStrip(RTFWrap(rtf))
			if err != nil || got != rtf {
				t.Fatalf("RTFStrip(RTFWrap(%q)) = %q, %v", rtf, got, err)
			}
		}
	})
}
