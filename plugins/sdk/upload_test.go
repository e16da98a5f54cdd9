package sdk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// fileSink is a backend whose SendFile keeps the header and the data it
// reads.
type fileSink struct {
	*recorder
	mu     sync.Mutex
	header FileHeader
	data   []byte
}

func (f *fileSink) SendFile(_ context.Context, h FileHeader, r io.Reader) error {
	data, err := io.ReadAll(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.header, f.data = h, data
	return err
}
func (f *fileSink) ReceiveFile(context.Context, string, string, io.Writer) error { return nil }
func (f *fileSink) DeclineFile(context.Context, string, string) error            { return nil }

// pieceReader hands out r's data in reads of the given sizes (cycling),
// the way file data arrives from a device.
type pieceReader struct {
	data   []byte
	pieces []int
	i      int
}

func (p *pieceReader) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.data[:min(p.pieces[p.i%len(p.pieces)], len(p.data))])
	p.i++
	p.data = p.data[n:]
	return n, nil
}

func TestSendFileDeliversTheFileByteForByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name   string
		size   int
		pieces []int
	}{
		{"empty", 0, []int{1}},
		{"one byte", 1, []int{1}},
		{"last chunk with a two-byte length", FileChunkSize + 1<<14 - 1, []int{FileChunkSize}},
		{"last chunk with a three-byte length", FileChunkSize + 1<<14, []int{FileChunkSize}},
		{"whole chunks", 4 * FileChunkSize, []int{FileChunkSize}},
		{"odd pieces", 3*FileChunkSize + 12345, []int{1, 7, FileChunkSize + 3, 40000, 2 * FileChunkSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := make([]byte, tc.size)
			for i := range file {
				file[i] = byte(rng.Uint32())
			}
			sink := &fileSink{recorder: newRecorder()}
			c := testServer(t, sink)
			h := FileHeader{SessionID: "s1", TransferID: "t1", To: "bob", Name: "a.bin", Size: uint64(tc.size), SHA256: []byte{1, 2, 3}}
			n, err := c.SendFile(context.Background(), h, &pieceReader{data: file, pieces: tc.pieces})
			if err != nil {
				t.Fatalf("SendFile: %v", err)
			}
			if n != uint64(tc.size) {
				t.Errorf("SendFile reported %d bytes, want %d", n, tc.size)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if !bytes.Equal(sink.data, file) {
				t.Fatalf("backend read %d bytes, want the %d sent (first difference at %d)", len(sink.data), len(file), firstDiff(sink.data, file))
			}
			if sink.header.TransferID != "t1" || sink.header.Name != "a.bin" || !bytes.Equal(sink.header.SHA256, h.SHA256) {
				t.Errorf("backend got header %+v, want %+v", sink.header, h)
			}
		})
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(b []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(b, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestSendFileReportsTheReadError(t *testing.T) {
	errDevice := errors.New("device went away")
	c := testServer(t, &fileSink{recorder: newRecorder()})
	h := FileHeader{SessionID: "s1", TransferID: "t1", Size: 3 * FileChunkSize}
	_, err := c.SendFile(context.Background(), h, &failingReader{data: make([]byte, FileChunkSize+5), err: errDevice})
	if !errors.Is(err, errDevice) {
		t.Fatalf("SendFile = %v, want the reader's error", err)
	}
}

func TestReadUploadDataEncodesAsProtobufDoes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pool := mem.DefaultBufferPool()
	for _, n := range []int{1, 127, 128, 1<<14 - 1, 1 << 14, FileChunkSize - 1, FileChunkSize} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		msg, got, err := readUploadData(bytes.NewReader(data), pool)
		if got != n || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF)) {
			t.Fatalf("%d bytes: readUploadData = %d, %v", n, got, err)
		}
		want, err := proto.Marshal(&pb.UploadFileRequest{Part: &pb.UploadFileRequest_Data{Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		if enc := msg.buf.ReadOnlyData(); !bytes.Equal(enc, want) {
			t.Errorf("%d bytes: encoded %d bytes %x…, protobuf encodes %d bytes %x…", n, len(enc), enc[:min(8, len(enc))], len(want), want[:8])
		}
		msg.buf.Free()
	}
	if msg, n, err := readUploadData(bytes.NewReader(nil), pool); msg != nil || n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("at the end: readUploadData = %v, %d, %v, want nil, 0, io.EOF", msg, n, err)
	}
}
