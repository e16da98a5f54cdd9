package stproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Keepalive is the single byte sent between frames to keep a connection
// alive. Any byte with the top bit set is dropped while waiting for the
// start of a frame (spec §1.2).
const Keepalive byte = 0x80

// DefaultMaxFrameSize bounds incoming frames when no other limit is given.
// The largest messages seen in practice are 8 KiB file chunks and 64 KiB
// storage values.
const DefaultMaxFrameSize = 1 << 20

// maxWireFrame is the largest length the framing can carry: a length whose
// first byte has the top bit set would be read as a keepalive.
const maxWireFrame = 0x7fffffff

// FrameReader reads frames from a byte stream, skipping keepalive bytes and
// empty frames, and reassembling frames split across reads.
type FrameReader struct {
	r          *bufio.Reader
	max        int
	keepalives uint64
}

// NewFrameReader returns a reader that rejects frames longer than maxSize
// bytes (DefaultMaxFrameSize if maxSize <= 0).
func NewFrameReader(r io.Reader, maxSize int) *FrameReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 16<<10), max: maxSize}
}

// Keepalives returns how many keepalive bytes have been skipped.
func (fr *FrameReader) Keepalives() uint64 { return fr.keepalives }

// ReadFrame returns the next non-empty message (without its length). The
// length is checked against the limit before the buffer is allocated. It
// returns io.EOF at a clean end of stream between frames and
// io.ErrUnexpectedEOF inside a frame. The returned slice is newly
// allocated and owned by the caller.
func (fr *FrameReader) ReadFrame() ([]byte, error) {
	for {
		first, err := fr.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if first&0x80 != 0 {
			fr.keepalives++
			continue
		}
		var lb [4]byte
		lb[0] = first
		if _, err := io.ReadFull(fr.r, lb[1:]); err != nil {
			return nil, eofInFrame(err)
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n == 0 {
			continue
		}
		if uint64(n) > uint64(fr.max) {
			return nil, &FrameSizeError{Size: n, Max: fr.max}
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(fr.r, buf); err != nil {
			return nil, eofInFrame(err)
		}
		return buf, nil
	}
}

// ReadMessage reads and decodes the next frame.
func (fr *FrameReader) ReadMessage() (*Message, error) {
	b, err := fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	return Unmarshal(b)
}

func eofInFrame(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func putFrameLength(b []byte) {
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
}

// AppendFrame appends msg with its u32 length prefix to dst.
func AppendFrame(dst, msg []byte) ([]byte, error) {
	if len(msg) > maxWireFrame {
		return dst, fmt.Errorf("stproto: frame of %d bytes: %w", len(msg), ErrTooLarge)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(msg)))
	return append(dst, msg...), nil
}

// WriteMessage encodes m as one frame and writes it with a single Write.
func WriteMessage(w io.Writer, m *Message) error {
	b, err := m.MarshalFrame()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
