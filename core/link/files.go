package link

import devicev1 "github.com/parleygw/parley/proto/parley/device/v1"

// File transfer data does not go through the request path: FileChunk and
// FileChunkAck are one-way messages that the reader hands to the file
// manager without waiting for anything, and the writer pulls the device's
// outgoing chunks and acknowledgements from the manager whenever its wake
// channel fires, one frame per chunk. A slow plugin or a large file thus
// never holds up the requests and events of the link.

// fromDevice hands a FileChunk or FileChunkAck to the file manager. They
// are not requests and get no answer.
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
	var acks []*devicev1.Message
	for _, m := range files.Next(l.device, l.gen) {
		if m.GetFileChunk() == nil {
			acks = append(acks, m)
			continue
		}
		if err := l.write(false, m); err != nil {
			return err
		}
	}
	if len(acks) == 0 {
		return nil
	}
	return l.write(false, acks...)
}
