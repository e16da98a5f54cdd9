package link

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/core/frame"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// captureConn is a net.Conn whose writes are recorded.
type captureConn struct {
	net.Conn
	written bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error)      { return c.written.Write(p) }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

// A chunk the gateway sends, with the longest transfer id it makes (and
// room to spare), has a frame that fits the 64 KiB buffers of both ends.
func TestGatewayChunkFrameFitsBulkBody(t *testing.T) {
	for _, id := range []string{"f" + strings.Repeat("0", 24), strings.Repeat("x", 512)} {
		m := chunkMessage(0, 1<<40, make([]byte, filexfer.MaxChunk), true)
		m.GetFileChunk().TransferId = id
		if n := len(marshalFrame(t, m)); n > frame.MaxBulkBody {
			t.Errorf("a %d-byte chunk with a %d-byte id frames to %d bytes, more than MaxBulkBody %d",
				filexfer.MaxChunk, len(id), n, frame.MaxBulkBody)
		}
	}
}

// writeChunk marshals the chunk into the frame writer's buffer: the frame
// on the wire is the one proto.Marshal makes, and reads back as the chunk.
func TestWriteChunkFramesTheChunkAsMarshalled(t *testing.T) {
	conn := &captureConn{}
	l := &link{srv: NewServer(Config{}, nil, nil, nil, nil), conn: conn, out: frame.NewWriter(conn, frame.Limits{})}
	data := bytes.Repeat([]byte("0123456789abcdef"), filexfer.MaxChunk/16)
	msgs := []*devicev1.Message{
		chunkMessage(0, 3*filexfer.MaxChunk, data, false),
		chunkMessage(0, 0, []byte("tail"), true),
	}
	for _, m := range msgs {
		if err := l.writeChunk(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.out.Flush(); err != nil {
		t.Fatal(err)
	}
	r := frame.NewReader(&conn.written, frame.Limits{})
	for i, m := range msgs {
		body, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := marshalFrame(t, m); !bytes.Equal(body, want) {
			t.Errorf("frame %d body differs from proto.Marshal's (%d bytes, want %d)", i, len(body), len(want))
		}
	}
}
