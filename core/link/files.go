package link

import (
	"errors"
	"fmt"
	"time"

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

// errChunkSize reports a chunk whose marshalled size changed between
// sizing its frame and filling it, which proto's cached sizes rule out.
var errChunkSize = errors.New("link: file chunk marshalled to a different size than measured")

// writeChunk frames one FileChunk message (unflushed), marshalled straight
// into the frame writer's buffer: the chunk's data is copied once, from
// the manager's chunk buffer to the frame, with no body in between.
func (l *link) writeChunk(m *devicev1.Message) error {
	f := &devicev1.Frame{Messages: []*devicev1.Message{m}}
	opts := proto.MarshalOptions{UseCachedSize: true}
	size := proto.Size(f)
	l.conn.SetWriteDeadline(time.Now().Add(l.srv.cfg.Heartbeat))
	err := l.out.WriteFrameFunc(size, false, func(body []byte) error {
		out, err := opts.MarshalAppend(body[:0], f)
		if err != nil {
			return fmt.Errorf("link: marshal: %w", err)
		}
		if len(out) != size || &out[0] != &body[0] {
			return errChunkSize
		}
		return nil
	})
	if err != nil {
		return err
	}
	l.srv.metrics.framesOut.Inc()
	return nil
}
