package frame

import (
	"math/bits"
	"sync"
)

// Buffers come from per-size-class pools (powers of two from 256 B to 4 MiB)
// so that a connection holds no buffer between frames and the steady state
// allocates nothing. 4 MiB covers the largest compression scratch for the
// default 1 MiB limit (snappy.MaxEncodedLen(1 MiB) plus header).
const (
	minClassShift = 8
	maxClassShift = 22
)

var pools [maxClassShift - minClassShift + 1]sync.Pool

// buffer is the pooled unit; pooling *buffer rather than []byte keeps Put
// from allocating a slice header.
type buffer struct {
	b []byte
}

// classOf returns the pool index for a buffer of capacity at least n, or -1
// when n is beyond the largest class.
func classOf(n int) int {
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
	return &buffer{b: make([]byte, n, 1<<(c+minClassShift))}
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
	if c < 0 || cap(buf.b) != 1<<(c+minClassShift) {
		return
	}
	buf.b = buf.b[:0]
	pools[c].Put(buf)
}
