package gwproto

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReaderHoldsNoBufferBetweenMessages(t *testing.T) {
	ev := Event{Type: EventUserTyping, Source: "cn=bob,o=acme", GUID: "[G]"}
	one, err := ev.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(bytes.NewReader(append(one, one...)), Limits{})
	if _, err := r.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if r.buf == nil {
		t.Error("buffer released while the second message was still in it")
	}
	if _, err := r.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if r.buf != nil {
		t.Error("buffer still held after the last buffered message")
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
}

// Lines and values longer than the read buffer arrive whole, however the
// stream is cut.
func TestReaderLongerThanItsBuffer(t *testing.T) {
	header := "X-Padding: " + strings.Repeat("p", 2*readBufferSize) + "\r\n"
	value := strings.Repeat("v", 3*readBufferSize)
	resp := Response{Fields: append(ResultFields(0, "7"), NewString(TagSzMessageBody, value))}
	body, err := resp.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	// put the long header line after the status line
	i := bytes.Index(body, []byte("\r\n")) + 2
	wire := append(append(append([]byte{}, body[:i]...), header...), body[i:]...)
	for name, src := range map[string]io.Reader{
		"whole":    bytes.NewReader(wire),
		"one byte": iotest.OneByteReader(bytes.NewReader(wire)),
		"half":     iotest.HalfReader(bytes.NewReader(wire)),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := NewReader(src, Limits{MaxHeaderBytes: 4 * readBufferSize}).ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := m.Response.Fields.String(TagSzMessageBody); got != value {
				t.Errorf("value: %d bytes, want %d", len(got), len(value))
			}
			if m.Response.TID() != "7" {
				t.Errorf("tid = %q", m.Response.TID())
			}
		})
	}
}
