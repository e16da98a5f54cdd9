package link

import (
	"unicode/utf8"

	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Field numbers of the messages decodeFileFrame reads (device.proto).
const (
	fieldFrameMessages = 1

	fieldMessageID           = 1
	fieldMessageFileChunk    = 51
	fieldMessageFileChunkAck = 52

	fieldChunkTransferID = 1
	fieldChunkOffset     = 2
	fieldChunkData       = 3
	fieldChunkLast       = 4
)

// decodeFrame parses a frame body into its messages.
//
// A frame that holds only FileChunk and FileChunkAck messages, which is
// nearly every frame of a file transfer, is decoded by decodeFileFrame and
// the chunk data aliases body rather than being copied: proto.Unmarshal
// would allocate a new 64 KiB slice for every chunk uploaded. Such data is
// valid only until the frame reader reads the next frame, which is why
// the link hands chunks to the file manager (fromDevice) before reading
// on, and the manager copies them into the transfer's spool before
// FromDevice returns.
//
// Every other body, and any file frame written in a way decodeFileFrame
// does not take (unknown or repeated fields, invalid UTF-8, anything
// malformed), goes through proto.Unmarshal, which thus alone decides what
// is rejected.
func decodeFrame(body []byte) ([]*devicev1.Message, error) {
	if msgs, ok := decodeFileFrame(body); ok {
		return msgs, nil
	}
	var f devicev1.Frame
	if err := proto.Unmarshal(body, &f); err != nil {
		return nil, err
	}
	return f.Messages, nil
}

// decodeFileFrame decodes a Frame whose messages are all FileChunk or
// FileChunkAck, each field at most once and no unknown fields, to exactly
// what proto.Unmarshal returns, except that FileChunk data aliases b. It
// reports false, having decoded nothing, for anything else, malformed
// input included.
func decodeFileFrame(b []byte) ([]*devicev1.Message, bool) {
	var msgs []*devicev1.Message
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != fieldFrameMessages || typ != protowire.BytesType {
			return nil, false
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		m, ok := decodeFileMessage(v)
		if !ok {
			return nil, false
		}
		msgs = append(msgs, m)
	}
	return msgs, len(msgs) > 0
}

// decodeFileMessage decodes a Message whose body is a FileChunk or a
// FileChunkAck.
func decodeFileMessage(b []byte) (*devicev1.Message, bool) {
	m := &devicev1.Message{}
	seenID := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		switch {
		case num == fieldMessageID && typ == protowire.VarintType && !seenID:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, false
			}
			m.Id, seenID, b = v, true, b[n:]
		case num == fieldMessageFileChunk && typ == protowire.BytesType && m.Body == nil:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, false
			}
			c, ok := decodeFileChunk(v)
			if !ok {
				return nil, false
			}
			m.Body, b = &devicev1.Message_FileChunk{FileChunk: c}, b[n:]
		case num == fieldMessageFileChunkAck && typ == protowire.BytesType && m.Body == nil:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, false
			}
			a, ok := decodeFileChunkAck(v)
			if !ok {
				return nil, false
			}
			m.Body, b = &devicev1.Message_FileChunkAck{FileChunkAck: a}, b[n:]
		default:
			return nil, false
		}
	}
	return m, m.Body != nil
}

// decodeFileChunk decodes a FileChunk; its Data aliases b.
func decodeFileChunk(b []byte) (*devicev1.FileChunk, bool) {
	c := &devicev1.FileChunk{}
	var seen [fieldChunkLast + 1]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < fieldChunkTransferID || num > fieldChunkLast || seen[num] {
			return nil, false
		}
		seen[num] = true
		b = b[n:]
		switch {
		case num == fieldChunkTransferID && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !utf8.Valid(v) {
				return nil, false
			}
			c.TransferId, b = string(v), b[n:]
		case num == fieldChunkData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, false
			}
			if len(v) > 0 { // proto.Unmarshal leaves empty data nil
				c.Data = v[:len(v):len(v)]
			}
			b = b[n:]
		case (num == fieldChunkOffset || num == fieldChunkLast) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, false
			}
			if num == fieldChunkOffset {
				c.Offset = v
			} else {
				c.Last = protowire.DecodeBool(v)
			}
			b = b[n:]
		default:
			return nil, false
		}
	}
	return c, true
}

// decodeFileChunkAck decodes a FileChunkAck.
func decodeFileChunkAck(b []byte) (*devicev1.FileChunkAck, bool) {
	a := &devicev1.FileChunkAck{}
	var seen [fieldChunkOffset + 1]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < fieldChunkTransferID || num > fieldChunkOffset || seen[num] {
			return nil, false
		}
		seen[num] = true
		b = b[n:]
		switch {
		case num == fieldChunkTransferID && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !utf8.Valid(v) {
				return nil, false
			}
			a.TransferId, b = string(v), b[n:]
		case num == fieldChunkOffset && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, false
			}
			a.Offset, b = v, b[n:]
		default:
			return nil, false
		}
	}
	return a, true
}
