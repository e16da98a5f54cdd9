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
// A body larger than MaxFrame is refused with a *LimitError
// (ErrFrameTooLarge) and nothing is buffered.
func (w *Writer) WriteFrame(body []byte, sensitive bool) error {
	if w.err != nil {
		return w.err
	}
	if len(body) > w.lim.MaxFrame {
		return &LimitError{Err: ErrFrameTooLarge, Size: int64(len(body)), Limit: w.lim.MaxFrame}
	}
	compress := !sensitive && w.lim.CompressThreshold > 0 && len(body) >= w.lim.CompressThreshold
	need := headerLen + len(body)
	if compress {
		need = headerLen + snappy.MaxEncodedLen(len(body))
	}
	if pending := w.Buffered(); pending > 0 && pending+need > flushSize {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	frame := w.reserve(need)
	flags, n := byte(0), len(body)
	if compress && len(body) >= probeMin {
		enc := snappy.Encode(frame[headerLen:], body[:probeSize])
		compress = len(enc) <= probeSize-probeSize/8
	}
	if compress {
		if enc := snappy.Encode(frame[headerLen:], body); len(enc) < len(body) {
			flags, n = flagSnappy, len(enc)
		}
	}
	if flags == 0 {
		copy(frame[headerLen:], body)
	}
	binary.BigEndian.PutUint32(frame, uint32(n+1))
	frame[4] = flags
	w.buf.b = w.buf.b[:len(w.buf.b)-need+headerLen+n]
	return nil
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

// reserve extends the buffer by n bytes and returns them.
func (w *Writer) reserve(n int) []byte {
	pending := w.Buffered()
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
	return w.buf.b[pending:]
}
