package sdk

import (
	"errors"
	"fmt"
	"io"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// ErrBadFileData reports a FileData message from the plugin that is not
// valid protobuf.
var ErrBadFileData = errors.New("sdk: malformed file data message")

// fileDataCodec is the codec of one DownloadFile stream on the host side.
// It decodes each FileData into a buffer it reuses, where the default codec
// allocates a fresh 64 KiB slice per message. The caller must be done with
// a message's Data before it receives the next one: ReceiveFile writes it
// to its io.Writer (which, by io.Writer's contract, does not retain it)
// before calling RecvMsg again. Every other message (the request) goes
// through the default proto codec, and the name stays "proto", so the
// content-subtype on the wire does not change.
//
// gRPC checks a message against MaxMessageBytes before Unmarshal sees it,
// so the buffer never grows beyond that.
type fileDataCodec struct {
	proto encoding.CodecV2
	buf   []byte
}

func newFileDataCodec() *fileDataCodec {
	return &fileDataCodec{proto: encoding.GetCodecV2(grpcproto.Name)}
}

func (c *fileDataCodec) Name() string { return grpcproto.Name }

func (c *fileDataCodec) Marshal(v any) (mem.BufferSlice, error) {
	return c.proto.Marshal(v)
}

func (c *fileDataCodec) Unmarshal(data mem.BufferSlice, v any) error {
	msg, ok := v.(*pb.FileData)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	n := data.Len()
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	c.buf = c.buf[:n]
	data.CopyTo(c.buf)
	d, err := decodeFileData(c.buf)
	if err != nil {
		return err
	}
	msg.Reset()
	msg.Data = d
	return nil
}

// decodeFileData returns the data field of an encoded FileData, aliasing b.
// As in protobuf, the last occurrence of the field wins and unknown fields
// are skipped (and dropped).
func decodeFileData(b []byte) ([]byte, error) {
	var data []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: %w", ErrBadFileData, protowire.ParseError(n))
		}
		if num > protowire.MaxValidNumber {
			return nil, fmt.Errorf("%w: field number %d out of range", ErrBadFileData, num)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("%w: data: %w", ErrBadFileData, protowire.ParseError(n))
			}
			data, b = v, b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, fmt.Errorf("%w: field %d: %w", ErrBadFileData, num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return data, nil
}

// uploadDataPrefix is the room SendFile leaves before a chunk's data for
// the protobuf framing of an UploadFileRequest's data field: one tag byte
// and a length of at most three varint bytes (chunks are under 2 MiB).
const uploadDataPrefix = 4

// uploadDataTag is the tag of UploadFileRequest.data (field 2, bytes).
var uploadDataTag = protowire.EncodeTag(2, protowire.BytesType)

// encodedUpload is an UploadFileRequest carrying file data, already
// encoded into a buffer from gRPC's pool. uploadCodec hands the buffer to
// gRPC as it is, which frees it back to the pool once it is written.
type encodedUpload struct {
	buf mem.Buffer
}

// readUploadData reads up to FileChunkSize bytes of r straight into a
// pooled buffer behind room for the framing, then writes the framing in
// front of them: SendFile neither keeps a read buffer of its own nor
// copies the data again to marshal it. n is the number of data bytes; on
// n == 0 no buffer is returned. Errors are those of io.ReadFull.
func readUploadData(r io.Reader, pool mem.BufferPool) (*encodedUpload, int, error) {
	b := pool.Get(uploadDataPrefix + FileChunkSize)
	n, err := io.ReadFull(r, (*b)[uploadDataPrefix:])
	if n == 0 {
		pool.Put(b)
		return nil, 0, err
	}
	// The framing's length varint is three bytes for a whole chunk; a
	// shorter last chunk moves down to meet its shorter framing.
	p := protowire.SizeTag(2) + protowire.SizeVarint(uint64(n))
	if p < uploadDataPrefix {
		copy((*b)[p:], (*b)[uploadDataPrefix:uploadDataPrefix+n])
	}
	*b = protowire.AppendVarint(protowire.AppendVarint((*b)[:0], uploadDataTag), uint64(n))[:p+n]
	return &encodedUpload{buf: mem.NewBuffer(b, pool)}, n, err
}

// uploadCodec is the codec of one UploadFile stream on the host side. An
// *encodedUpload passes through as it is; every other message (the header)
// goes through the default proto codec. The name stays "proto".
type uploadCodec struct {
	proto encoding.CodecV2
}

func newUploadCodec() uploadCodec {
	return uploadCodec{proto: encoding.GetCodecV2(grpcproto.Name)}
}

func (c uploadCodec) Name() string { return grpcproto.Name }

func (c uploadCodec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(*encodedUpload); ok {
		return mem.BufferSlice{e.buf}, nil
	}
	return c.proto.Marshal(v)
}

func (c uploadCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return c.proto.Unmarshal(data, v)
}
