package filexfer

import (
	"sync/atomic"

	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// chunkBuffers lends the buffers that outgoing chunks are read into from a
// spool file, and counts what is out on loan: the file data the gateway
// holds in memory for its links. A buffer comes back once the link has
// framed its chunk (Manager.Release); one that never does is left to the
// garbage collector and stays counted.
//
// At most idleChunkBuffers given back are kept for reuse, the rest left
// to the garbage collector. A sync.Pool would keep one or two per P and
// again as many from before the last collection: more buffers idle than
// a link holds lent.
type chunkBuffers struct {
	size int         // the capacity of every buffer: Options.ChunkSize
	idle chan []byte // buffers given back, ready for reuse
	lent atomic.Int64
	peak atomic.Int64 // the most lent at once
}

// idleChunkBuffers is how many chunk buffers are kept for reuse: a link
// holds one at a time, and two links at once seldom frame a chunk.
const idleChunkBuffers = 2

func newChunkBuffers(size int) *chunkBuffers {
	return &chunkBuffers{size: size, idle: make(chan []byte, idleChunkBuffers)}
}

// get returns a buffer of n bytes, at most size.
func (b *chunkBuffers) get(n int) []byte {
	var buf []byte
	select {
	case buf = <-b.idle:
	default:
		buf = make([]byte, b.size)
	}
	lent := b.lent.Add(int64(b.size))
	for {
		peak := b.peak.Load()
		if lent <= peak || b.peak.CompareAndSwap(peak, lent) {
			return buf[:n]
		}
	}
}

// put takes back a buffer from get.
func (b *chunkBuffers) put(buf []byte) {
	if cap(buf) != b.size {
		return
	}
	b.lent.Add(-int64(b.size))
	select {
	case b.idle <- buf[:0]:
	default: // enough kept; this one goes to the garbage collector
	}
}

// Release gives back the buffers of the chunks in msgs, which Next
// returned, once the link has framed them; their data must not be used
// afterwards. Releasing is optional (a chunk not released is left to the
// garbage collector) and a message is released at most once.
func (m *Manager) Release(msgs []*devicev1.Message) {
	for _, msg := range msgs {
		if c := msg.GetFileChunk(); c != nil && c.Data != nil {
			m.bufs.put(c.Data)
			c.Data = nil
		}
	}
}
