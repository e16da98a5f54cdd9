package sdk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"testing"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// fileSource is a backend whose ReceiveFile writes file in pieces of the
// given sizes (cycling), the way a backend hands over data as it gets it.
type fileSource struct {
	*recorder
	file   []byte
	pieces []int
}

func (f *fileSource) SendFile(context.Context, FileHeader, io.Reader) error { return nil }
func (f *fileSource) DeclineFile(context.Context, string, string) error     { return nil }

func (f *fileSource) ReceiveFile(_ context.Context, _, _ string, w io.Writer) error {
	rest := f.file
	for i := 0; len(rest) > 0; i++ {
		n := min(f.pieces[i%len(f.pieces)], len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// keptWrites records a copy of every Write, so the test sees both the
// bytes and how they were cut.
type keptWrites struct{ got [][]byte }

func (k *keptWrites) Write(p []byte) (int, error) {
	k.got = append(k.got, bytes.Clone(p))
	return len(p), nil
}

func TestReceiveFileDeliversTheFileByteForByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name   string
		size   int
		pieces []int
	}{
		{"empty", 0, []int{1}},
		{"one byte", 1, []int{1}},
		{"whole chunks", 4 * FileChunkSize, []int{FileChunkSize}},
		{"odd pieces", 3*FileChunkSize + 12345, []int{1, 7, FileChunkSize + 3, 40000, 2 * FileChunkSize}},
		{"small then large", 2<<20 + 1, []int{100, 5 * FileChunkSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := make([]byte, tc.size)
			for i := range file {
				file[i] = byte(rng.Uint32())
			}
			c := testServer(t, &fileSource{recorder: newRecorder(), file: file, pieces: tc.pieces})
			var w keptWrites
			if err := c.ReceiveFile(context.Background(), "s1", "t1", &w); err != nil {
				t.Fatalf("ReceiveFile: %v", err)
			}
			got := bytes.Join(w.got, nil)
			if !bytes.Equal(got, file) {
				t.Fatalf("received %d bytes, want the %d sent (first difference at %d)", len(got), len(file), firstDiff(got, file))
			}
			for i, p := range w.got {
				if len(p) > FileChunkSize {
					t.Fatalf("write %d was %d bytes, more than a chunk", i, len(p))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// rawCodec sends []byte messages as they are: a plugin that puts
// arbitrary bytes on the wire.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	_, ok := v.(*pb.DownloadFileRequest)
	if !ok {
		return errors.New("rawCodec: unexpected message")
	}
	return proto.Unmarshal(data.Materialize(), v.(*pb.DownloadFileRequest))
}

// rawPlugin answers DownloadFile with the given encoded messages.
type rawPlugin struct {
	pb.UnimplementedBackendServer
	msgs [][]byte
}

func (p rawPlugin) DownloadFile(_ *pb.DownloadFileRequest, stream pb.Backend_DownloadFileServer) error {
	for _, m := range p.msgs {
		if err := stream.SendMsg(m); err != nil {
			return err
		}
	}
	return nil
}

func rawServer(t *testing.T, msgs ...[]byte) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}))
	pb.RegisterBackendServer(srv, rawPlugin{msgs: msgs})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewClient(conn)
}

func dataField(p []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), p)
}

func TestReceiveFileAcceptsWhatProtobufAccepts(t *testing.T) {
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), 300)
	msgs := [][]byte{
		dataField([]byte("abc")),
		{}, // no data: an empty message
		append(append(dataField([]byte("old")), unknown...), dataField([]byte("def"))...), // last one wins
		append(unknown, dataField([]byte("ghi"))...),
	}
	var w keptWrites
	if err := rawServer(t, msgs...).ReceiveFile(context.Background(), "s1", "t1", &w); err != nil {
		t.Fatalf("ReceiveFile: %v", err)
	}
	if got := string(bytes.Join(w.got, nil)); got != "abcdefghi" {
		t.Fatalf("received %q, want %q", got, "abcdefghi")
	}
}

func TestReceiveFileFailsOnMalformedData(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"data longer than the message", []byte{0x0a, 0x05, 'a', 'b'}},
		{"truncated tag", []byte{0x80}},
		{"field number zero", []byte{0x02, 0x00}},
		{"field number too large", []byte{0xf8, 0xff, 0xff, 0xff, 0x1f, 0x00}},
		{"truncated varint field", []byte{0x10, 0xff}},
		{"unterminated group", []byte{0x1b, 0x08, 0x01}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := dataField([]byte("first"))
			var w keptWrites
			err := rawServer(t, good, tc.msg, good).ReceiveFile(context.Background(), "s1", "t1", &w)
			if err == nil {
				t.Fatal("ReceiveFile succeeded on a malformed message")
			}
			var sdkErr *Error
			if !errors.As(err, &sdkErr) {
				t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
			}
			if got := string(bytes.Join(w.got, nil)); got != "first" {
				t.Fatalf("wrote %q before failing, want only the message before the bad one", got)
			}
		})
	}
}

func TestDecodeFileDataMatchesProtobuf(t *testing.T) {
	for _, seed := range fileDataSeeds() {
		checkDecodeFileData(t, seed)
	}
}

func fileDataSeeds() [][]byte {
	unknown := protowire.AppendFixed64(protowire.AppendTag(nil, 9, protowire.Fixed64Type), 1)
	return [][]byte{
		{},
		dataField(nil),
		dataField([]byte("hello")),
		dataField(bytes.Repeat([]byte{0xab}, 300)),
		append(dataField([]byte("a")), dataField([]byte("b"))...),
		append(unknown, dataField([]byte("x"))...),
		{0x0d, 1, 2, 3, 4}, // field 1 as fixed32: unknown to protobuf
		{0x0b, 0x0c},       // an empty group numbered 1
		{0x0a, 0x05, 'a'},
		{0x80},
		{0x02, 0x00},
	}
}

// checkDecodeFileData holds decodeFileData to protobuf's own decoding:
// both fail, or both yield the same data.
func checkDecodeFileData(t *testing.T, b []byte) {
	t.Helper()
	var want pb.FileData
	wantErr := proto.Unmarshal(b, &want)
	got, err := decodeFileData(bytes.Clone(b))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decodeFileData(%x): error %v, protobuf: %v", b, err, wantErr)
	}
	if err != nil {
		if !errors.Is(err, ErrBadFileData) {
			t.Fatalf("decodeFileData(%x): error %v is not ErrBadFileData", b, err)
		}
		return
	}
	if !bytes.Equal(got, want.Data) {
		t.Fatalf("decodeFileData(%x) = %x, protobuf: %x", b, got, want.Data)
	}
}

func FuzzDecodeFileData(f *testing.F) {
	for _, seed := range fileDataSeeds() {
		f.Add(seed)
	}
	f.Fuzz(checkDecodeFileData)
}

// BenchmarkReceiveFile is the host receiving a file from a plugin over
// gRPC, as parleyd does when a user accepts one: B/op and allocs/op show
// what each 64 KiB message costs beyond the transport.
func BenchmarkReceiveFile(b *testing.B) {
	file := bytes.Repeat([]byte("0123456789abcdef"), (8<<20)/16)
	c := testServer(b, &fileSource{recorder: newRecorder(), file: file, pieces: []int{FileChunkSize}})
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.ReceiveFile(context.Background(), "s1", "t1", io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeFileData(b *testing.B) {
	msg := dataField(make([]byte, FileChunkSize))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeFileData(msg); err != nil {
			b.Fatal(err)
		}
	}
}
