package frame

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/golang/snappy"
)

// flushSize bounds what the Writer buffers: a frame that would take the
// buffer past it first flushes what is already there.
const flushSize = 64 << 10

// Before compressing a large body the Writer compresses its first
// probeSize bytes; if they do not shrink by at least an eighth, the body is
// taken for data that is compressed already (images, archives: most file
// data) and sent as it is, which saves the attempt on the whole body.
const (
	probeMin  = 16 << 10 // bodies from this size are probed
	probeSize = 4 << 10
)

// Writer frames bodies into an internal buffer and sends everything buffered
// in one Write when Flush is called, so a burst of frames becomes one TLS
// write. It is not safe for concurrent use. After a write error every call
// returns that error.
type Writer struct {
	w   io.Writer
	lim Limits
	buf *buffer // pending frames; nil when nothing is buffered
	err error
}

// NewWriter returns a Writer that enforces lim (zero fields mean defaults).
func NewWriter(w io.Writer, lim Limits) *Writer {
	return &Writer{w: w, lim: lim.withDefaults()}
}

// WriteFrame appends one frame carrying body to the buffer; nothing reaches
// the underlying writer before Flush unless more than 64 KiB is pending.
//
// The body is snappy-compressed when it is at least CompressThreshold bytes,
// compression makes it smaller, and sensitive is false. Pass sensitive for
// frames that carry credentials or resume tokens: they are never compressed,
// so their length cannot act as a compression oracle. A body of 16 KiB or
// more whose first 4 KiB do not shrink by an eighth is sent uncompressed
// without trying the rest (file data that is compressed already).
//
// The buffer grows only by what the frame takes on the wire, never by
// snappy's worst case: a body sent as it is, such as a 64 KiB file chunk
// (up to MaxBulkBody bytes), takes a 65 KiB buffer, not a 128 KiB one.
//
// A body larger than MaxFrame is refused with a *LimitError
// (ErrFrameTooLarge) and nothing is buffered.
func (w *Writer) WriteFrame(body []byte, sensitive bool) error {
	if w.err != nil {
		return w.err
	}
	if len(body) > w.lim.MaxFrame {
		return &LimitError{Err: ErrFrameTooLarge, Size: int64(len(body)), Limit: w.lim.MaxFrame}
	}
	compress := w.compressible(body, sensitive)
	if compress && headerLen+snappy.MaxEncodedLen(len(body)) <= flushSize {
		// Small enough to compress straight into the buffer.
		frame, err := w.reserve(headerLen + snappy.MaxEncodedLen(len(body)))
		if err != nil {
			return err
		}
		flags, n := byte(0), len(body)
		if enc := snappy.Encode(frame[headerLen:], body); len(enc) < len(body) {
			flags, n = flagSnappy, len(enc)
		} else {
			copy(frame[headerLen:], body)
		}
		w.seal(frame, flags, n)
		return nil
	}
	if compress {
		scratch := getBuffer(snappy.MaxEncodedLen(len(body)))
		defer scratch.release()
		if enc := snappy.Encode(scratch.b, body); len(enc) < len(body) {
			frame, err := w.reserve(headerLen + len(enc))
			if err != nil {
				return err
			}
			copy(frame[headerLen:], enc)
			w.seal(frame, flagSnappy, len(enc))
			return nil
		}
	}
	frame, err := w.reserve(headerLen + len(body))
	if err != nil {
		return err
	}
	copy(frame[headerLen:], body)
	w.seal(frame, 0, len(body))
	return nil
}

// WriteFrameFunc is WriteFrame for a body of size bytes that fill writes
// straight into the buffer (for example a protobuf message marshalled
// there), which saves building the body elsewhere and copying it. fill
// gets exactly size bytes and must fill all of them; if it returns an
// error, nothing is buffered and WriteFrameFunc returns that error. The
// body is compressed as WriteFrame would.
func (w *Writer) WriteFrameFunc(size int, sensitive bool, fill func(body []byte) error) error {
	if w.err != nil {
		return w.err
	}
	if size > w.lim.MaxFrame {
		return &LimitError{Err: ErrFrameTooLarge, Size: int64(size), Limit: w.lim.MaxFrame}
	}
	frame, err := w.reserve(headerLen + size)
	if err != nil {
		return err
	}
	body := frame[headerLen:]
	if err := fill(body); err != nil {
		w.buf.b = w.buf.b[:len(w.buf.b)-len(frame)]
		w.releaseIfEmpty()
		return err
	}
	flags, n := byte(0), size
	if w.compressible(body, sensitive) {
		scratch := getBuffer(snappy.MaxEncodedLen(size))
		if enc := snappy.Encode(scratch.b, body); len(enc) < size {
			flags, n = flagSnappy, copy(body, enc)
		}
		scratch.release()
	}
	w.seal(frame, flags, n)
	return nil
}

// compressible reports whether body is worth compressing: not sensitive,
// at least CompressThreshold bytes, and, from probeMin bytes, a first
// probeSize bytes that shrink by an eighth.
func (w *Writer) compressible(body []byte, sensitive bool) bool {
	if sensitive || w.lim.CompressThreshold <= 0 || len(body) < w.lim.CompressThreshold {
		return false
	}
	if len(body) < probeMin {
		return true
	}
	scratch := getBuffer(snappy.MaxEncodedLen(probeSize))
	defer scratch.release()
	return len(snappy.Encode(scratch.b, body[:probeSize])) <= probeSize-probeSize/8
}

// seal writes the header of frame, the last frame in the buffer, whose
// body is n bytes with flags, and drops the rest of what was reserved.
func (w *Writer) seal(frame []byte, flags byte, n int) {
	binary.BigEndian.PutUint32(frame, uint32(n+1))
	frame[4] = flags
	w.buf.b = w.buf.b[:len(w.buf.b)-len(frame)+headerLen+n]
}

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int {
	if w.buf == nil {
		return 0
	}
	return len(w.buf.b)
}

// Flush writes every buffered frame in a single Write and releases the
// buffer, so an idle connection holds none.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.buf == nil {
		return nil
	}
	_, err := w.w.Write(w.buf.b)
	w.buf.release()
	w.buf = nil
	if err != nil {
		w.err = fmt.Errorf("frame: writing: %w", err)
		return w.err
	}
	return nil
}

// reserve makes room for a frame of at most n bytes at the end of the
// buffer, flushing what is pending first when it would take the buffer
// past flushSize, and returns those n bytes, or the error of that flush.
func (w *Writer) reserve(n int) ([]byte, error) {
	pending := w.Buffered()
	if pending > 0 && pending+n > flushSize {
		if err := w.Flush(); err != nil {
			return nil, err
		}
		pending = 0
	}
	if w.buf == nil || cap(w.buf.b)-pending < n {
		grown := getBuffer(pending + n)
		if w.buf != nil {
			copy(grown.b, w.buf.b)
			w.buf.release()
		}
		w.buf = grown
	} else {
		w.buf.b = w.buf.b[:pending+n]
	}
	return w.buf.b[pending:], nil
}

// releaseIfEmpty gives the buffer back when nothing is pending.
func (w *Writer) releaseIfEmpty() {
	if w.buf != nil && len(w.buf.b) == 0 {
		w.buf.release()
		w.buf = nil
	}
}
