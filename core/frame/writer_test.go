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
