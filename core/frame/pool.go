package frame

import (
	"math/bits"
	"sync"
)

// Buffers come from per-size-class pools (powers of two from 256 B to 4 MiB)
// so that a connection holds no buffer between frames and the steady state
// allocates nothing. 4 MiB covers the largest compression scratch for the
// default 1 MiB limit (snappy.MaxEncodedLen(1 MiB) plus header).
//
// One more class sits between 64 and 128 KiB: bulkClassSize holds a frame
// that carries 64 KiB of file data with its envelope, the most common large
// frame, which would otherwise take a 128 KiB buffer in every reader and
// writer it passes.
const (
	minClassShift = 8
	maxClassShift = 22
	bulkClassSize = 64<<10 + 1<<10
)

// bulkClass is the pool index of bulkClassSize, after the powers of two.
const bulkClass = maxClassShift - minClassShift + 1

var pools [bulkClass + 1]sync.Pool

// buffer is the pooled unit; pooling *buffer rather than []byte keeps Put
// from allocating a slice header.
type buffer struct {
	b []byte
}

// classOf returns the pool index for a buffer of capacity at least n, or -1
// when n is beyond the largest class.
func classOf(n int) int {
	if n > 64<<10 && n <= bulkClassSize {
		return bulkClass
	}
	shift := bits.Len(uint(n - 1))
	if n <= 1 {
		shift = 0
	}
	shift = max(shift, minClassShift)
	if shift > maxClassShift {
		return -1
	}
	return shift - minClassShift
}

// classSize is the capacity of the buffers of pool index c.
func classSize(c int) int {
	if c == bulkClass {
		return bulkClassSize
	}
	return 1 << (c + minClassShift)
}

// getBuffer returns a buffer whose b has length n.
func getBuffer(n int) *buffer {
	c := classOf(n)
	if c < 0 {
		return &buffer{b: make([]byte, n)}
	}
	if buf, ok := pools[c].Get().(*buffer); ok {
		buf.b = buf.b[:n]
		return buf
	}
	return &buffer{b: make([]byte, n, classSize(c))}
}

// idleBuffer returns a pooled buffer whose b has length n, or nil when
// none is idle: it never allocates.
func idleBuffer(n int) *buffer {
	c := classOf(n)
	if c < 0 {
		return nil
	}
	buf, ok := pools[c].Get().(*buffer)
	if !ok {
		return nil
	}
	buf.b = buf.b[:n]
	return buf
}

// release returns buf to its pool; buffers of a size no class holds exactly
// are left to the garbage collector.
func (buf *buffer) release() {
	c := classOf(cap(buf.b))
	if c < 0 || cap(buf.b) != classSize(c) {
		return
	}
	buf.b = buf.b[:0]
	pools[c].Put(buf)
}
