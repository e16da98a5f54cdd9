package gwproto

import (
	"bytes"
	"strings"
	"testing"
)

func BenchmarkRequestEncode(b *testing.B) {
	req := sendMessageRequest()
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = req.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkRequestParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(vecSendMessageRequest)))
	for b.Loop() {
		if _, err := ParseRequest(vecSendMessageRequest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestStream parses a stream of requests with one reader, as the
// fake server does per connection.
func BenchmarkRequestStream(b *testing.B) {
	var stream []byte
	for range 100 {
		stream = append(stream, vecSendMessageRequest...)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		rr := NewRequestReader(bytes.NewReader(stream), Limits{})
		for range 100 {
			if _, err := rr.ReadRequest(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkResponseEncode(b *testing.B) {
	resp := loginResponse()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = resp.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkResponseParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(vecLoginResponse)))
	for b.Loop() {
		if _, err := ParseResponse(vecLoginResponse); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventEncode(b *testing.B) {
	ev := event108()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = ev.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEventParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(vecEvent108)))
	for b.Loop() {
		if _, err := ParseEvent(vecEvent108); err != nil {
			b.Fatal(err)
		}
	}
}

var benchText = strings.Repeat("hello wörld {x} ✓\n", 100)

func BenchmarkRTFWrap(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		RTFWrap(benchText)
	}
}

func BenchmarkRTFStrip(b *testing.B) {
	rtf := RTFWrap(benchText)
	b.ReportAllocs()
	b.SetBytes(int64(len(rtf)))
	for b.Loop() {
		if _, err := RTFStrip(rtf); err != nil {
			b.Fatal(err)
		}
	}
}
