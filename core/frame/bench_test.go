package frame_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/parleygw/parley/core/frame"
)

// benchBodies covers a chat event (200 B), a roster or history page
// (64 KiB), compressed and not, and a file chunk. Small bodies are below
// the default threshold, so the compressed case lowers it.
var benchBodies = []struct {
	name      string
	body      []byte
	lim       frame.Limits
	sensitive bool
}{
	{"200B/raw", compressible(200), frame.Limits{}, false},
	{"200B/snappy", compressible(200), frame.Limits{CompressThreshold: 64}, false},
	{"64KiB/raw", compressible(64 << 10), frame.Limits{}, true},
	{"64KiB/snappy", compressible(64 << 10), frame.Limits{}, false},
	{"64KiB/incompressible", incompressible(64 << 10), frame.Limits{}, false},
	// A file chunk frame: 64 KiB of data and its envelope, just past 64
	// KiB (within MaxBulkBody).
	{"FileChunk/incompressible", incompressible(64<<10 + 40), frame.Limits{}, false},
}

// BenchmarkWriteFrameFunc frames a file chunk filled in place, as the link
// marshals its outgoing chunks.
func BenchmarkWriteFrameFunc(b *testing.B) {
	body := incompressible(64<<10 + 40)
	w := frame.NewWriter(io.Discard, frame.Limits{})
	fill := func(dst []byte) error {
		copy(dst, body)
		return nil
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteFrameFunc(len(body), false, fill); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFrame(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			w := frame.NewWriter(io.Discard, bb.lim)
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WriteFrame(bb.body, bb.sensitive); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteBatch is the session layer's burst: 16 chat events, one Flush.
func BenchmarkWriteBatch(b *testing.B) {
	body := compressible(200)
	w := frame.NewWriter(io.Discard, frame.Limits{})
	b.SetBytes(16 * int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		for range 16 {
			if err := w.WriteFrame(body, false); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// loop replays the same bytes forever.
type loop struct {
	data []byte
	off  int
}

func (l *loop) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func BenchmarkReadFrame(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			var wire bytes.Buffer
			w := frame.NewWriter(&wire, bb.lim)
			if err := w.WriteFrame(bb.body, bb.sensitive); err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			r := frame.NewReader(&loop{data: wire.Bytes()}, bb.lim)
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
