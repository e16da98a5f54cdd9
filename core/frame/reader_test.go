package frame_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/google/go-cmp/cmp"

	"github.com/parleygw/parley/core/frame"
)

// rawFrame builds a frame with an explicit N, so tests can also lie about it.
func rawFrame(n uint32, flags byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	b = append(b, flags)
	return append(b, body...)
}

// frameOf builds a well-formed frame for body.
func frameOf(flags byte, body []byte) []byte {
	return rawFrame(uint32(len(body)+1), flags, body)
}

// compressible returns n bytes of chat-like text that snappy shrinks.
func compressible(n int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(`{"event":"message","from":"alice@example.com","seq":`)
		b.WriteString(strings.Repeat("7", i%5+1))
		b.WriteString(`,"text":"see you at the standup"}`)
	}
	return []byte(b.String()[:n])
}

// incompressible returns n bytes that snappy cannot shrink (xorshift noise).
func incompressible(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func readAll(t *testing.T, wire []byte, lim frame.Limits) ([][]byte, error) {
	t.Helper()
	r := frame.NewReader(bytes.NewReader(wire), lim)
	var bodies [][]byte
	for {
		body, err := r.ReadFrame()
		if err != nil {
			return bodies, err
		}
		bodies = append(bodies, bytes.Clone(body))
	}
}

// Golden vectors transcribed from DESIGN §3.
func TestReadFrameGolden(t *testing.T) {
	hello := []byte("hello")
	tests := []struct {
		name string
		wire []byte
		want [][]byte
	}{
		{"flags only (N=1)", []byte{0, 0, 0, 1, 0}, [][]byte{nil}},
		{"raw body", []byte{0, 0, 0, 6, 0, 'h', 'e', 'l', 'l', 'o'}, [][]byte{hello}},
		// snappy block: uvarint length 5, literal tag (5-1)<<2, the bytes.
		{"snappy body", []byte{0, 0, 0, 8, 1, 5, 0x10, 'h', 'e', 'l', 'l', 'o'}, [][]byte{hello}},
		{"snappy empty block", []byte{0, 0, 0, 2, 1, 0}, [][]byte{nil}},
		{"raw then snappy", append(frameOf(0, []byte("a")), frameOf(1, snappy.Encode(nil, compressible(1000)))...),
			[][]byte{[]byte("a"), compressible(1000)}},
		{"no frames", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.wire, frame.Limits{})
			if err != io.EOF {
				t.Fatalf("stream ended with %v, want io.EOF", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpBytes); diff != "" {
				t.Errorf("bodies (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpBytes treats nil and empty bodies as equal.
var cmpBytes = cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })

func TestReadFrameRejects(t *testing.T) {
	lim := frame.Limits{MaxFrame: 16}
	bomb := binary.AppendUvarint(nil, 0xffffffff)
	overLimit := snappy.Encode(nil, make([]byte, 17)) // 17 zero bytes, well under 16 on the wire
	tests := []struct {
		name   string
		wire   []byte
		reason string
		is     error
	}{
		{"N=0", []byte{0, 0, 0, 0}, "empty", frame.ErrEmptyFrame},
		{"N=max_frame+2", rawFrame(18, 0, make([]byte, 17)), "oversize", frame.ErrFrameTooLarge},
		{"N=max_uint32 without body", rawFrame(0xffffffff, 0, nil), "oversize", frame.ErrFrameTooLarge},
		{"flag 0x02", frameOf(0x02, []byte("x")), "reserved_flags", frame.ErrReservedFlags},
		{"flag 0x04", frameOf(0x04, []byte("x")), "reserved_flags", frame.ErrReservedFlags},
		{"flag 0x08", frameOf(0x08, []byte("x")), "reserved_flags", frame.ErrReservedFlags},
		{"flag 0x10", frameOf(0x10, []byte("x")), "reserved_flags", frame.ErrReservedFlags},
		{"flag 0x20", frameOf(0x20, []byte("x")), "reserved_flags", frame.ErrReservedFlags},
		{"flag 0x40", frameOf(0x40, []byte("x")), "reserved_flags", frame.ErrReservedFlags},
		{"flag 0x80", frameOf(0x80, []byte("x")), "reserved_flags", frame.ErrReservedFlags},
		{"snappy plus reserved 0x03", frameOf(0x03, []byte{1, 0, 'x'}), "reserved_flags", frame.ErrReservedFlags},
		{"bomb: 4 GiB claimed in 5 bytes", frameOf(1, bomb), "snappy_bomb", frame.ErrDecodedTooLarge},
		{"decoded max_frame+1", frameOf(1, overLimit), "snappy_bomb", frame.ErrDecodedTooLarge},
		{"snappy empty body", frameOf(1, nil), "corrupt", frame.ErrCorrupt},
		{"snappy literal past end", frameOf(1, []byte{5, 0x10, 'h', 'e'}), "corrupt", frame.ErrCorrupt},
		{"snappy bad varint", frameOf(1, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), "corrupt", frame.ErrCorrupt},
		{"snappy short output", frameOf(1, []byte{6, 0x10, 'h', 'e', 'l', 'l', 'o'}), "corrupt", frame.ErrCorrupt},
		{"header cut after 2 bytes", []byte{0, 0}, "truncated", frame.ErrTruncated},
		{"flags byte missing", []byte{0, 0, 0, 5}, "truncated", frame.ErrTruncated},
		{"body cut short", rawFrame(5, 0, []byte("ab")), "truncated", frame.ErrTruncated},
		{"good frame then truncated one", append(frameOf(0, []byte("ok")), 0, 0, 0, 9, 0), "truncated", frame.ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, tt.wire, lim)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if got := frame.Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
			if wantProto := tt.is != frame.ErrTruncated; errors.Is(err, frame.ErrProtocol) != wantProto {
				t.Errorf("errors.Is(err, ErrProtocol) = %v, want %v", !wantProto, wantProto)
			}
		})
	}
}

func TestReadFrameMaxFrameBoundary(t *testing.T) {
	for _, lim := range []frame.Limits{{MaxFrame: 64}, {}} {
		max := lim.MaxFrame
		if max == 0 {
			max = frame.DefaultMaxFrame
		}
		body := compressible(max)
		t.Run("raw body of exactly max_frame", func(t *testing.T) {
			got, err := readAll(t, frameOf(0, body), lim)
			if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0], body) {
				t.Fatalf("got %d frames, err %v; want the body back then io.EOF", len(got), err)
			}
		})
		t.Run("snappy body decoding to exactly max_frame", func(t *testing.T) {
			zeros := make([]byte, max)
			got, err := readAll(t, frameOf(1, snappy.Encode(nil, zeros)), lim)
			if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0], zeros) {
				t.Fatalf("got %d frames, err %v; want the body back then io.EOF", len(got), err)
			}
		})
		t.Run("N of max_frame+2", func(t *testing.T) {
			_, err := readAll(t, rawFrame(uint32(max)+2, 0, nil), lim)
			var le *frame.LimitError
			if !errors.As(err, &le) || le.Size != int64(max)+1 || le.Limit != max {
				t.Fatalf("err = %v, want LimitError{Size: %d, Limit: %d}", err, max+1, max)
			}
		})
	}
}

func TestReadFrameBombReportsClaimedSize(t *testing.T) {
	_, err := readAll(t, frameOf(1, binary.AppendUvarint(nil, 0xffffffff)), frame.Limits{})
	var le *frame.LimitError
	if !errors.As(err, &le) || le.Size != 0xffffffff || le.Limit != frame.DefaultMaxFrame || !errors.Is(err, frame.ErrDecodedTooLarge) {
		t.Fatalf("err = %v, want decoded LimitError{Size: 4294967295, Limit: %d}", err, frame.DefaultMaxFrame)
	}
}

// A length header that no snappy block of that size could satisfy is corrupt
// even under the limit, and is refused before the output is allocated.
func TestReadFrameImpossibleExpansion(t *testing.T) {
	densest := snappy.Encode(nil, make([]byte, 1<<16)) // all zeros: long copies only
	if _, err := readAll(t, frameOf(1, densest), frame.Limits{}); err != io.EOF {
		t.Fatalf("densest real block rejected: %v", err)
	}
	claim := binary.AppendUvarint(nil, 100_000) // 3 bytes cannot hold 100,000
	_, err := readAll(t, frameOf(1, claim), frame.Limits{})
	if frame.Reason(err) != "corrupt" {
		t.Fatalf("err = %v, want corrupt", err)
	}
}

// heapAllocs returns the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A hostile header must not make the reader reserve what the peer has not
// sent (or, for snappy, more than the limit).
func TestReadFrameAllocatesOnlyWhatArrives(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
	}{
		{"bomb claiming 4 GiB", frameOf(1, binary.AppendUvarint(nil, 0xffffffff))},
		{"bomb claiming max_frame from 3 bytes", frameOf(1, binary.AppendUvarint(nil, frame.DefaultMaxFrame))},
		{"N of 4 GiB", rawFrame(0xffffffff, 0, nil)},
		{"N of max_frame+1, 10 bytes sent", rawFrame(frame.DefaultMaxFrame+1, 0, make([]byte, 10))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := heapAllocs()
			_, err := readAll(t, tt.wire, frame.Limits{})
			if err == nil || err == io.EOF {
				t.Fatalf("err = %v, want a frame error", err)
			}
			if got := heapAllocs() - before; got > 256<<10 {
				t.Errorf("reading the frame allocated %d bytes, want under 256 KiB", got)
			}
		})
	}
}

func TestReadFrameErrorIsSticky(t *testing.T) {
	wire := append(frameOf(0x80, []byte("x")), frameOf(0, []byte("fine"))...)
	r := frame.NewReader(bytes.NewReader(wire), frame.Limits{})
	_, first := r.ReadFrame()
	body, second := r.ReadFrame()
	if !errors.Is(first, frame.ErrReservedFlags) || second != first || body != nil {
		t.Fatalf("got (%q, %v) after %v; want the first error again", body, second, first)
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestReadFrameWrapsTransportErrors(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := frame.NewReader(failingReader{boom}, frame.Limits{}).ReadFrame()
	if !errors.Is(err, boom) || frame.Reason(err) != "" || errors.Is(err, frame.ErrProtocol) {
		t.Fatalf("err = %v (reason %q); want the transport error, unclassified", err, frame.Reason(err))
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, tt := range []struct {
		lim frame.Limits
		ok  bool
	}{
		{frame.Limits{}, true},
		{frame.Limits{MaxFrame: 1}, true},
		{frame.Limits{MaxFrame: frame.MaxFrameCeiling, CompressThreshold: -1}, true},
		{frame.Limits{MaxFrame: frame.MaxFrameCeiling + 1}, false},
		{frame.Limits{MaxFrame: -1}, false},
	} {
		if err := tt.lim.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.lim, err, tt.ok)
		}
	}
}

func TestReasonIgnoresOrdinaryEnds(t *testing.T) {
	for _, err := range []error{nil, io.EOF, errors.New("other")} {
		if got := frame.Reason(err); got != "" {
			t.Errorf("Reason(%v) = %q, want empty", err, got)
		}
	}
}

// Frames a little over the first reservation, like file chunks, are read
// whole into an idle pooled buffer once one is there; every body must
// still come out intact, whichever way it was read.
func TestReadFrameLargeBodiesInARow(t *testing.T) {
	var wire []byte
	var want [][]byte
	for i, n := range []int{64<<10 + 40, 64<<10 + 40, 200 << 10, 64<<10 + 7, 300, 64<<10 + 40} {
		body := incompressible(n)
		body[0], body[n-1] = byte(i), byte(i)
		want = append(want, body)
		wire = append(wire, frameOf(0, body)...)
	}
	got, err := readAll(t, wire, frame.Limits{})
	if err != io.EOF {
		t.Fatalf("err = %v, want io.EOF after the last frame", err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d (%d bytes) came out changed", i, len(want[i]))
		}
	}
}
