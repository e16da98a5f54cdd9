package stproto

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxString is the longest string the u16 length prefix can describe.
const MaxString = math.MaxUint16

// Encoder appends protocol primitives to a byte slice. The first error
// (a string that is too long) sticks and is returned by Err.
type Encoder struct {
	buf []byte
	err error
}

// NewEncoder returns an Encoder that appends to dst.
func NewEncoder(dst []byte) *Encoder { return &Encoder{buf: dst} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Err returns the first encoding error.
func (e *Encoder) Err() error { return e.err }

// U16 appends a big-endian u16.
func (e *Encoder) U16(v uint16) { e.buf = binary.BigEndian.AppendUint16(e.buf, v) }

// U32 appends a big-endian u32.
func (e *Encoder) U32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }

// Bool appends one byte, 0x01 for true.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// String appends a u16 length and the bytes of s (no terminator).
func (e *Encoder) String(s string) {
	if len(s) > MaxString {
		if e.err == nil {
			e.err = fmt.Errorf("stproto: string of %d bytes: %w", len(s), ErrStringTooLong)
		}
		return
	}
	e.U16(uint16(len(s)))
	e.buf = append(e.buf, s...)
}

// Opaque appends a u32 length and b.
func (e *Encoder) Opaque(b []byte) {
	e.U32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

// Raw appends b without a length prefix.
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

// Decoder reads protocol primitives from a byte slice. The first error
// sticks: later reads return zero values, and Err reports which field
// failed. Opaque and Raw results alias the input.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a Decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first decoding error, or nil.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of unread bytes.
func (d *Decoder) Len() int { return len(d.buf) - d.off }

// Offset returns the number of bytes consumed so far.
func (d *Decoder) Offset() int { return d.off }

// Fail records err for field unless an error is already recorded.
func (d *Decoder) Fail(field string, err error) {
	if d.err == nil {
		d.err = &FieldError{Field: field, Err: err}
	}
}

func (d *Decoder) take(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || d.Len() < n {
		d.Fail(field, ErrTruncated)
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// U16 reads a big-endian u16.
func (d *Decoder) U16(field string) uint16 {
	b := d.take(field, 2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// U32 reads a big-endian u32.
func (d *Decoder) U32(field string) uint32 {
	b := d.take(field, 4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Bool reads one byte; any non-zero value is true.
func (d *Decoder) Bool(field string) bool {
	b := d.take(field, 1)
	return b != nil && b[0] != 0
}

// String reads a u16-prefixed string.
func (d *Decoder) String(field string) string {
	n := d.U16(field)
	return string(d.take(field, int(n)))
}

// Opaque reads a u32-prefixed byte string. The length is checked against
// the remaining input before anything is sliced.
func (d *Decoder) Opaque(field string) []byte {
	n := d.U32(field)
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(d.Len()) {
		d.Fail(field, fmt.Errorf("opaque of %d bytes with %d left: %w", n, d.Len(), ErrTruncated))
		return nil
	}
	b := d.take(field, int(n))
	if len(b) == 0 {
		return nil
	}
	return b
}

// Raw reads n bytes.
func (d *Decoder) Raw(field string, n int) []byte { return d.take(field, n) }

// Rest returns every unread byte.
func (d *Decoder) Rest() []byte { return d.take("rest", d.Len()) }

// Count reads a u32 element count and checks that count elements of at
// least minSize bytes each can fit in the remaining input, so that callers
// can allocate count elements safely.
func (d *Decoder) Count(field string, minSize int) int {
	n := d.U32(field)
	if d.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if uint64(n)*uint64(minSize) > uint64(d.Len()) {
		d.Fail(field, fmt.Errorf("count %d with %d bytes left: %w", n, d.Len(), ErrTooLarge))
		return 0
	}
	return int(n)
}

// Sub returns a Decoder over the next n bytes and advances past them.
func (d *Decoder) Sub(field string, n int) *Decoder {
	b := d.take(field, n)
	if b == nil && d.err != nil {
		return &Decoder{err: d.err}
	}
	return NewDecoder(b)
}
