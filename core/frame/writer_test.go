package frame_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/parleygw/parley/core/frame"
)

// recorder counts Write calls so tests can see what went out together.
type recorder struct {
	bytes.Buffer
	writes int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.writes++
	return r.Buffer.Write(p)
}

// writeOne frames body with lim and returns the bytes on the wire.
func writeOne(t *testing.T, lim frame.Limits, body []byte, sensitive bool) []byte {
	t.Helper()
	var out bytes.Buffer
	w := frame.NewWriter(&out, lim)
	if err := w.WriteFrame(body, sensitive); err != nil {
		t.Fatalf("WriteFrame: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return out.Bytes()
}

func TestWriteFrameGolden(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want []byte
	}{
		{"empty body", nil, []byte{0, 0, 0, 1, 0}},
		{"small body sent raw", []byte("hello"), []byte{0, 0, 0, 6, 0, 'h', 'e', 'l', 'l', 'o'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := writeOne(t, frame.Limits{}, tt.body, false); !bytes.Equal(got, tt.want) {
				t.Errorf("wire = % x, want % x", got, tt.want)
			}
		})
	}
}

func TestWriteFrameCompressionDecision(t *testing.T) {
	tests := []struct {
		name      string
		lim       frame.Limits
		body      []byte
		sensitive bool
		snappy    bool
	}{
		{"255 bytes, below default threshold", frame.Limits{}, compressible(255), false, false},
		{"256 bytes, at default threshold", frame.Limits{}, compressible(256), false, true},
		{"below a custom threshold", frame.Limits{CompressThreshold: 1000}, compressible(999), false, false},
		{"at a custom threshold", frame.Limits{CompressThreshold: 1000}, compressible(1000), false, true},
		{"incompressible data sent raw", frame.Limits{}, incompressible(4096), false, false},
		{"large incompressible body sent raw", frame.Limits{}, incompressible(64 << 10), false, false},
		{"large body, compressible from the start", frame.Limits{}, append(compressible(4096), incompressible(60<<10)...), false, true},
		// The probe judges a large body by its first 4 KiB.
		{"large body, incompressible start", frame.Limits{}, append(incompressible(4096), make([]byte, 60<<10)...), false, false},
		{"sensitive never compressed", frame.Limits{}, compressible(64 << 10), true, false},
		{"compression disabled", frame.Limits{CompressThreshold: -1}, compressible(64 << 10), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := writeOne(t, tt.lim, tt.body, tt.sensitive)
			if gotSnappy := wire[4] == 1; gotSnappy != tt.snappy {
				t.Errorf("flags = %#x, want snappy=%v", wire[4], tt.snappy)
			}
			if tt.snappy && len(wire) >= 5+len(tt.body) {
				t.Errorf("compressed frame is %d bytes for a %d-byte body; want smaller", len(wire), len(tt.body))
			}
			got, err := readAll(t, wire, tt.lim)
			if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0], tt.body) {
				t.Fatalf("read back %d frames (err %v), want the body", len(got), err)
			}
		})
	}
}

func TestWriteFrameLimit(t *testing.T) {
	lim := frame.Limits{MaxFrame: 1000}
	var out bytes.Buffer
	w := frame.NewWriter(&out, lim)
	err := w.WriteFrame(incompressible(1001), false)
	var le *frame.LimitError
	if !errors.As(err, &le) || le.Size != 1001 || le.Limit != 1000 || !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Fatalf("err = %v, want LimitError{Size: 1001, Limit: 1000}", err)
	}
	if w.Buffered() != 0 {
		t.Errorf("refused frame left %d bytes buffered", w.Buffered())
	}
	if err := w.WriteFrame(incompressible(1000), false); err != nil {
		t.Fatalf("body of exactly max_frame refused: %v", err)
	}
}

func TestWriterBatchesUntilFlush(t *testing.T) {
	var out recorder
	w := frame.NewWriter(&out, frame.Limits{})
	bodies := [][]byte{[]byte("event 1"), compressible(2000), nil, []byte("token=secret")}
	for i, b := range bodies {
		if err := w.WriteFrame(b, i == 3); err != nil {
			t.Fatalf("WriteFrame %d: %v", i, err)
		}
	}
	if out.writes != 0 {
		t.Fatalf("%d writes before Flush, want 0", out.writes)
	}
	pending := w.Buffered()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.writes != 1 || out.Len() != pending || w.Buffered() != 0 {
		t.Fatalf("Flush made %d writes of %d bytes (buffered %d, now %d); want one write of everything",
			out.writes, out.Len(), pending, w.Buffered())
	}
	if err := w.Flush(); err != nil || out.writes != 1 {
		t.Fatalf("empty Flush: err %v, writes %d; want a no-op", err, out.writes)
	}
	got, err := readAll(t, out.Bytes(), frame.Limits{})
	if err != io.EOF {
		t.Fatal(err)
	}
	if len(got) != len(bodies) {
		t.Fatalf("read %d frames, want %d", len(got), len(bodies))
	}
	for i := range bodies {
		if !bytes.Equal(got[i], bodies[i]) {
			t.Errorf("frame %d = %q, want %q", i, got[i], bodies[i])
		}
	}
}

// Without a Flush the writer still bounds what it holds: past 64 KiB it sends
// what is pending before taking the next frame.
func TestWriterBoundsBufferedBytes(t *testing.T) {
	var out recorder
	w := frame.NewWriter(&out, frame.Limits{})
	body := incompressible(1000)
	for range 200 {
		if err := w.WriteFrame(body, false); err != nil {
			t.Fatal(err)
		}
		if w.Buffered() > 64<<10 {
			t.Fatalf("buffered %d bytes, want at most 64 KiB", w.Buffered())
		}
	}
	if out.writes == 0 {
		t.Fatal("200 KB of frames buffered without any write")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, out.Bytes(), frame.Limits{})
	if err != io.EOF || len(got) != 200 {
		t.Fatalf("read back %d frames (err %v), want 200", len(got), err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriterErrorIsSticky(t *testing.T) {
	boom := errors.New("broken pipe")
	w := frame.NewWriter(failingWriter{boom}, frame.Limits{})
	if err := w.WriteFrame([]byte("x"), false); err != nil {
		t.Fatalf("WriteFrame before any write failed: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want %v", err, boom)
	}
	if err := w.WriteFrame([]byte("y"), false); !errors.Is(err, boom) {
		t.Fatalf("WriteFrame after failure = %v, want %v", err, boom)
	}
	if w.Buffered() != 0 {
		t.Errorf("failed writer still buffers %d bytes", w.Buffered())
	}
}

// A bulk frame (a 64 KiB file chunk) of up to MaxBulkBody bytes of
// incompressible data holds 65 KiB buffers on both ends, not the 128 KiB
// that snappy's worst case or one byte more would take.
func TestBulkFrameFitsA65KiBBuffer(t *testing.T) {
	for _, tt := range []struct {
		name    string
		size    int
		wantCap int
	}{
		{"64 KiB frame", 64<<10 - 5, 64 << 10},
		{"MaxBulkBody", frame.MaxBulkBody, 65 << 10},
		{"one byte more", frame.MaxBulkBody + 1, 128 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := incompressible(tt.size)
			var out bytes.Buffer
			w := frame.NewWriter(&out, frame.Limits{})
			if err := w.WriteFrame(body, false); err != nil {
				t.Fatal(err)
			}
			if got := w.BufferCap(); got != tt.wantCap {
				t.Errorf("writer buffer %d bytes, want %d", got, tt.wantCap)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			r := frame.NewReader(&out, frame.Limits{})
			got, err := r.ReadFrame()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read back %d bytes (err %v), want the body", len(got), err)
			}
			if got := r.BodyCap(); got > tt.wantCap {
				t.Errorf("reader buffer %d bytes, want at most %d", got, tt.wantCap)
			}
		})
	}
}

// A large compressible body is compressed outside the buffer, which then
// grows only by the compressed frame.
func TestLargeCompressibleBodyBuffersOnlyItsCompressedFrame(t *testing.T) {
	body := compressible(frame.MaxBulkBody)
	var out bytes.Buffer
	w := frame.NewWriter(&out, frame.Limits{})
	if err := w.WriteFrame(body, false); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() >= len(body) || w.BufferCap() > 64<<10 {
		t.Errorf("buffered %d bytes in a %d-byte buffer for a compressible %d-byte body; want it compressed within 64 KiB",
			w.Buffered(), w.BufferCap(), len(body))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, out.Bytes(), frame.Limits{})
	if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0], body) {
		t.Fatalf("read back %d frames (err %v), want the body", len(got), err)
	}
}

func TestWriteFrameFunc(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		sensitive bool
		snappy    bool
	}{
		{"small", []byte("hello"), false, false},
		{"bulk incompressible", incompressible(frame.MaxBulkBody), false, false},
		{"bulk compressible", compressible(frame.MaxBulkBody), false, true},
		{"small compressible", compressible(1000), false, true},
		{"sensitive", compressible(1000), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := frame.NewWriter(&out, frame.Limits{})
			if err := w.WriteFrameFunc(len(tt.body), tt.sensitive, func(b []byte) error {
				if len(b) != len(tt.body) {
					t.Fatalf("fill got %d bytes, want %d", len(b), len(tt.body))
				}
				copy(b, tt.body)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			wire := out.Bytes()
			if gotSnappy := wire[4] == 1; gotSnappy != tt.snappy {
				t.Errorf("flags = %#x, want snappy=%v", wire[4], tt.snappy)
			}
			got, err := readAll(t, wire, frame.Limits{})
			if err != io.EOF || len(got) != 1 || !bytes.Equal(got[0], tt.body) {
				t.Fatalf("read back %d frames (err %v), want the body", len(got), err)
			}
		})
	}
}

// A fill that fails leaves nothing of its frame behind, and the frames
// before it go out untouched.
func TestWriteFrameFuncFillError(t *testing.T) {
	var out bytes.Buffer
	w := frame.NewWriter(&out, frame.Limits{})
	if err := w.WriteFrame([]byte("before"), false); err != nil {
		t.Fatal(err)
	}
	pending := w.Buffered()
	boom := errors.New("marshal failed")
	if err := w.WriteFrameFunc(100, false, func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("WriteFrameFunc = %v, want %v", err, boom)
	}
	if w.Buffered() != pending {
		t.Errorf("buffered %d bytes after a failed fill, want %d", w.Buffered(), pending)
	}
	if err := w.WriteFrame([]byte("after"), false); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, out.Bytes(), frame.Limits{})
	if err != io.EOF || len(got) != 2 || string(got[0]) != "before" || string(got[1]) != "after" {
		t.Fatalf("read back %q (err %v), want before and after", got, err)
	}

	empty := frame.NewWriter(&out, frame.Limits{})
	if err := empty.WriteFrameFunc(100, false, func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("WriteFrameFunc = %v, want %v", err, boom)
	}
	if empty.Buffered() != 0 || empty.BufferCap() != 0 {
		t.Errorf("failed fill left a %d-byte buffer (%d pending), want none", empty.BufferCap(), empty.Buffered())
	}
}

func TestWriteFrameFuncLimit(t *testing.T) {
	w := frame.NewWriter(io.Discard, frame.Limits{MaxFrame: 1000})
	err := w.WriteFrameFunc(1001, false, func([]byte) error {
		t.Fatal("fill called for a body over the limit")
		return nil
	})
	if !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
}

// When the frame that does not fit makes the Writer flush, and that
// write fails, the frame is refused with the error.
func TestWriterFlushFailureRefusesFrame(t *testing.T) {
	boom := errors.New("broken pipe")
	w := frame.NewWriter(failingWriter{boom}, frame.Limits{})
	if err := w.WriteFrame(incompressible(40<<10), false); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(incompressible(40<<10), false); !errors.Is(err, boom) {
		t.Fatalf("WriteFrame = %v, want %v", err, boom)
	}
	if err := w.WriteFrameFunc(40<<10, false, func([]byte) error { return nil }); !errors.Is(err, boom) {
		t.Fatalf("WriteFrameFunc = %v, want %v", err, boom)
	}
	if w.Buffered() != 0 {
		t.Errorf("failed writer still buffers %d bytes", w.Buffered())
	}
}
