package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/golang/snappy"
)

// readChunk is how much body the Reader reserves before the peer has sent
// it. Larger bodies grow by doubling as bytes arrive, so a header that merely
// claims MaxFrame costs a slow or hostile peer real traffic, not our memory.
const readChunk = 64 << 10

// A valid snappy block expands at most 64/3-fold: its densest element is a
// 3-byte copy of 64 bytes. A block whose length header claims more than that
// for its size is corrupt, and is rejected before its output is allocated.
const (
	maxExpansionNum = 64
	maxExpansionDen = 3
)

// Reader reads frames from a stream. It is not safe for concurrent use. After
// any error the Reader keeps returning that error: the stream position is no
// longer known, so the caller closes the connection.
type Reader struct {
	r    io.Reader
	lim  Limits
	hdr  [headerLen]byte
	body *buffer // backs the body returned last; released on the next call
	err  error
}

// NewReader returns a Reader that enforces lim (zero fields mean defaults).
func NewReader(r io.Reader, lim Limits) *Reader {
	return &Reader{r: r, lim: lim.withDefaults()}
}

// ReadFrame reads the next frame and returns its body, decompressed. The body
// is valid only until the next call: its buffer is then reused, which also
// means an idle connection blocked in ReadFrame holds no body buffer. A clean
// end of stream between frames returns io.EOF.
func (r *Reader) ReadFrame() ([]byte, error) {
	if r.body != nil {
		r.body.release()
		r.body = nil
	}
	if r.err != nil {
		return nil, r.err
	}
	body, err := r.readFrame()
	if err != nil {
		r.err = err
		return nil, err
	}
	return body, nil
}

func (r *Reader) readFrame() ([]byte, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:4]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, readError("header", err)
	}
	n := binary.BigEndian.Uint32(r.hdr[:4])
	if n == 0 {
		return nil, ErrEmptyFrame
	}
	size := int64(n) - 1
	if size > int64(r.lim.MaxFrame) {
		return nil, &LimitError{Err: ErrFrameTooLarge, Size: size, Limit: r.lim.MaxFrame}
	}
	if _, err := io.ReadFull(r.r, r.hdr[4:]); err != nil {
		return nil, readError("flags", err)
	}
	flags := r.hdr[4]
	if flags&^flagSnappy != 0 {
		return nil, fmt.Errorf("%w: 0x%02x", ErrReservedFlags, flags)
	}
	if size == 0 && flags == 0 {
		return nil, nil
	}
	raw, err := r.readBody(int(size))
	if err != nil {
		return nil, err
	}
	if flags&flagSnappy == 0 {
		r.body = raw
		return raw.b, nil
	}
	defer raw.release()
	return r.decode(raw.b)
}

// readBody reads n bytes, allocating at most readChunk (or twice what has
// already arrived) ahead of the data. A buffer for the whole body that is
// idle in its pool costs nothing new, so it is taken if there is one: a
// file chunk's frame, a little over readChunk, then arrives without being
// copied into a bigger buffer halfway.
func (r *Reader) readBody(n int) (*buffer, error) {
	buf := idleBuffer(n)
	if buf == nil {
		buf = getBuffer(min(n, readChunk))
	}
	have := 0
	for {
		m, err := io.ReadFull(r.r, buf.b[have:])
		have += m
		if err != nil {
			buf.release()
			return nil, readError("body", err)
		}
		if have == n {
			return buf, nil
		}
		grown := getBuffer(min(n, 2*len(buf.b)))
		copy(grown.b, buf.b[:have])
		buf.release()
		buf = grown
	}
}

// decode checks a snappy block's claimed length against the limit and its
// own size, then decodes it into a buffer of exactly that length.
func (r *Reader) decode(src []byte) ([]byte, error) {
	dLen, err := snappy.DecodedLen(src)
	switch {
	case errors.Is(err, snappy.ErrTooLarge): // only on 32-bit platforms
		return nil, fmt.Errorf("%w: %w", ErrDecodedTooLarge, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	case dLen > r.lim.MaxFrame:
		return nil, &LimitError{Err: ErrDecodedTooLarge, Size: int64(dLen), Limit: r.lim.MaxFrame}
	case int64(dLen)*maxExpansionDen > int64(len(src))*maxExpansionNum:
		return nil, fmt.Errorf("%w: %d compressed bytes cannot decode to %d", ErrCorrupt, len(src), dLen)
	}
	out := getBuffer(dLen)
	body, err := snappy.Decode(out.b, src)
	if err != nil {
		out.release()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	r.body = out
	return body, nil
}

// readError wraps a failed read of part of a frame; running out of input
// there means the frame was truncated.
func readError(part string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: stream ended in the %s: %w", ErrTruncated, part, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("frame: reading %s: %w", part, err)
}
