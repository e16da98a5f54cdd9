package link

import (
	"fmt"
	"sync"
	"time"

	"github.com/parleygw/parley/core/filexfer"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// File transfer data does not go through the request path: FileChunk and
// FileChunkAck are one-way messages that the reader hands to the file
// manager without waiting for anything, and the writer pulls the device's
// outgoing chunks and acknowledgements from the manager whenever its wake
// channel fires, one frame per chunk. A slow plugin or a large file thus
// never holds up the requests and events of the link.

// fromDevice hands a FileChunk or FileChunkAck to the file manager. They
// are not requests and get no answer. A chunk's data is the frame reader's
// buffer (see decodeFrame), which the next read reuses; the manager has
// written it to the transfer's spool, or dropped it, when FromDevice
// returns, and keeps no reference to it.
func (l *link) fromDevice(m *devicev1.Message) {
	if files := l.srv.router.Files(); files != nil {
		files.FromDevice(l.device, m)
	}
}

// filesWake is signalled when the device has file data to receive; it is
// nil (never ready) when the gateway runs without file transfer.
func (l *link) filesWake() <-chan struct{} {
	if files := l.srv.router.Files(); files != nil {
		return files.Wake(l.device)
	}
	return nil
}

// sendFiles writes (unflushed) the file chunks the device may receive now,
// each in a frame of its own since a chunk fills most of one, and the
// acknowledgements of its uploads together in one more frame.
func (l *link) sendFiles() error {
	files := l.srv.router.Files()
	if files == nil {
		return nil
	}
	msgs := files.Next(l.device, l.gen)
	var acks []*devicev1.Message
	for i, m := range msgs {
		if m.GetFileChunk() == nil {
			acks = append(acks, m)
			continue
		}
		// The chunk's buffer goes back as soon as its frame holds a copy,
		// so none is held while the frame is on its way.
		err := l.writeChunk(m)
		files.Release(msgs[i : i+1])
		if err != nil {
			files.Release(msgs[i+1:])
			return err
		}
	}
	if len(acks) == 0 {
		return nil
	}
	return l.write(false, acks...)
}

// chunkBodies holds the buffers chunk frames are marshalled into: a chunk's
// frame body is a little more than its data.
var chunkBodies = sync.Pool{New: func() any {
	b := make([]byte, 0, filexfer.MaxChunk+1<<10)
	return &b
}}

// writeChunk frames one FileChunk message (unflushed), marshalled into a
// pooled buffer rather than a new one per chunk.
func (l *link) writeChunk(m *devicev1.Message) error {
	buf := chunkBodies.Get().(*[]byte)
	defer chunkBodies.Put(buf)
	body, err := proto.MarshalOptions{}.MarshalAppend((*buf)[:0], &devicev1.Frame{Messages: []*devicev1.Message{m}})
	if err != nil {
		return fmt.Errorf("link: marshal: %w", err)
	}
	l.conn.SetWriteDeadline(time.Now().Add(l.srv.cfg.Heartbeat))
	l.srv.metrics.framesOut.Inc()
	return l.out.WriteFrame(body, false)
}
