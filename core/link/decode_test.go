package link

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/internal/captures"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func chunkMessage(id, offset uint64, data []byte, last bool) *devicev1.Message {
	return &devicev1.Message{Id: id, Body: &devicev1.Message_FileChunk{FileChunk: &devicev1.FileChunk{
		TransferId: "f-7c1e9a", Offset: offset, Data: data, Last: last}}}
}

func ackMessage(offset uint64) *devicev1.Message {
	return &devicev1.Message{Body: &devicev1.Message_FileChunkAck{FileChunkAck: &devicev1.FileChunkAck{
		TransferId: "f-7c1e9a", Offset: offset}}}
}

func marshalFrame(tb testing.TB, msgs ...*devicev1.Message) []byte {
	tb.Helper()
	b, err := proto.Marshal(&devicev1.Frame{Messages: msgs})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fileFrames are frames as devices send them during a transfer.
func fileFrames(tb testing.TB) map[string][]byte {
	full := bytes.Repeat([]byte{0xa5}, filexfer.MaxChunk)
	return map[string][]byte{
		"full chunk":        marshalFrame(tb, chunkMessage(0, 3*filexfer.MaxChunk, full, false)),
		"last chunk":        marshalFrame(tb, chunkMessage(0, 1<<40, []byte("tail"), true)),
		"empty last chunk":  marshalFrame(tb, chunkMessage(0, 0, nil, true)),
		"chunk with an id":  marshalFrame(tb, chunkMessage(9, 0, []byte("x"), false)),
		"empty chunk":       marshalFrame(tb, &devicev1.Message{Body: &devicev1.Message_FileChunk{FileChunk: &devicev1.FileChunk{}}}),
		"acks":              marshalFrame(tb, ackMessage(1<<20), ackMessage(2<<20)),
		"chunks and an ack": marshalFrame(tb, chunkMessage(0, 0, []byte("abc"), false), ackMessage(5), chunkMessage(0, 3, []byte("def"), false)),
	}
}

func TestDecodeFrameAliasesChunkDataOfFileFrames(t *testing.T) {
	for name, body := range fileFrames(t) {
		t.Run(name, func(t *testing.T) {
			got, err := decodeFrame(body)
			if err != nil {
				t.Fatal(err)
			}
			var want devicev1.Frame
			if err := proto.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&devicev1.Frame{Messages: got}, &want) {
				t.Fatalf("decoded\n%v\nwant\n%v", got, want.Messages)
			}
			if _, ok := decodeFileFrame(body); !ok {
				t.Fatal("a file frame went through proto.Unmarshal")
			}
			for _, m := range got {
				data := m.GetFileChunk().GetData()
				if len(data) == 0 {
					continue
				}
				start := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
				at := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
				if at < start || at+uintptr(len(data)) > start+uintptr(len(body)) {
					t.Fatal("chunk data was copied out of the frame body")
				}
				if cap(data) != len(data) {
					t.Fatalf("chunk data has capacity %d past its %d bytes: appending would overwrite the frame", cap(data), len(data))
				}
			}
		})
	}
}

// appendField appends a length-delimited field.
func appendField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// oddFrames are frames of file messages that decodeFileFrame leaves to
// proto.Unmarshal, valid or not.
func oddFrames(tb testing.TB) map[string][]byte {
	chunk := func(fields ...[]byte) []byte {
		m := appendField(nil, fieldMessageFileChunk, bytes.Join(fields, nil))
		return appendField(nil, fieldFrameMessages, m)
	}
	id := appendField(nil, fieldChunkTransferID, []byte("f-1"))
	data := appendField(nil, fieldChunkData, []byte("data"))
	full := marshalFrame(tb, chunkMessage(0, 0, []byte("0123456789"), true))
	return map[string][]byte{
		"repeated data":          chunk(id, data, data),
		"repeated transfer id":   chunk(id, id, data),
		"invalid utf-8 id":       chunk(appendField(nil, fieldChunkTransferID, []byte{0xff, 0xfe}), data),
		"unknown chunk field":    chunk(id, data, protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1)),
		"offset as bytes":        chunk(id, appendField(nil, fieldChunkOffset, []byte{1})),
		"data as varint":         chunk(id, protowire.AppendVarint(protowire.AppendTag(nil, fieldChunkData, protowire.VarintType), 1)),
		"two bodies":             appendField(nil, fieldFrameMessages, append(appendField(nil, fieldMessageFileChunk, id), appendField(nil, fieldMessageFileChunkAck, nil)...)),
		"chunk and a ping":       marshalFrame(tb, chunkMessage(0, 0, []byte("x"), false), &devicev1.Message{Id: 3, Body: &devicev1.Message_Ping{Ping: &devicev1.Ping{Nonce: 1}}}),
		"no body":                marshalFrame(tb, &devicev1.Message{Id: 4}),
		"empty frame":            nil,
		"truncated data":         full[:len(full)-3],
		"truncated tag":          append(chunk(id, data), 0x80),
		"field number zero":      chunk(id, []byte{0x02, 0x00}),
		"overflowing varint":     chunk(id, append(protowire.AppendTag(nil, fieldChunkOffset, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)),
		"non-minimal tag":        chunk([]byte{0x8a, 0x00, 0x03, 'f', '-', '1'}, data),
		"message is a varint":    protowire.AppendVarint(protowire.AppendTag(nil, fieldFrameMessages, protowire.VarintType), 1),
		"group in a chunk":       chunk(id, protowire.AppendTag(nil, 5, protowire.StartGroupType), protowire.AppendTag(nil, 5, protowire.EndGroupType)),
		"ack with data":          appendField(nil, fieldFrameMessages, appendField(nil, fieldMessageFileChunkAck, data)),
		"chunk length past body": appendField(nil, fieldFrameMessages, []byte{0x9a, 0x03, 0x7f}),
	}
}

// TestDecodeFrameAgreesWithProtoUnmarshal checks that odd and malformed
// file frames get exactly what proto.Unmarshal makes of them: the same
// messages, or an error, which the link answers with protocol_error.
func TestDecodeFrameAgreesWithProtoUnmarshal(t *testing.T) {
	for name, body := range oddFrames(t) {
		t.Run(name, func(t *testing.T) { checkDecodeFrame(t, body) })
	}
}

func TestDecodeFrameRejectsMalformedFileFrames(t *testing.T) {
	for _, name := range []string{"truncated data", "truncated tag", "field number zero", "overflowing varint", "invalid utf-8 id", "chunk length past body"} {
		if _, err := decodeFrame(oddFrames(t)[name]); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

// checkDecodeFrame fails if decodeFrame's result differs from
// proto.Unmarshal's on body, or if decodeFileFrame takes a body that
// proto.Unmarshal rejects.
func checkDecodeFrame(t *testing.T, body []byte) {
	t.Helper()
	var want devicev1.Frame
	wantErr := proto.Unmarshal(body, &want)
	if fast, ok := decodeFileFrame(body); ok {
		if wantErr != nil {
			t.Fatalf("decodeFileFrame took a body proto.Unmarshal rejects (%v): %v", wantErr, fast)
		}
		if !proto.Equal(&devicev1.Frame{Messages: fast}, &want) {
			t.Fatalf("decodeFileFrame made\n%v\nproto.Unmarshal made\n%v", fast, want.Messages)
		}
	}
	got, err := decodeFrame(body)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("decodeFrame error %v, proto.Unmarshal error %v", err, wantErr)
	case err == nil && !proto.Equal(&devicev1.Frame{Messages: got}, &devicev1.Frame{Messages: want.Messages}):
		t.Fatalf("decodeFrame made\n%v\nproto.Unmarshal made\n%v", got, want.Messages)
	}
}

// FuzzDecodeFrame compares the file frame decoder with proto.Unmarshal.
// Seeds: frames as devices send them, odd and malformed file frames, and
// the real IM traffic of the interop captures (as bodies, and as chunk
// data) when ../shared is present.
func FuzzDecodeFrame(f *testing.F) {
	for _, body := range fileFrames(f) {
		f.Add(body)
	}
	for _, body := range oddFrames(f) {
		f.Add(body)
	}
	files, err := captures.Read("*.bin")
	if err != nil {
		f.Fatal(err)
	}
	for _, capture := range files {
		f.Add(capture)
		f.Add(marshalFrame(f, chunkMessage(0, 0, capture, false)))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeFrame(t, body) })
}

func BenchmarkDecodeFrame(b *testing.B) {
	body := fileFrames(b)["full chunk"]
	b.Run("FileChunk", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeFrame(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FileChunk/proto.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var f devicev1.Frame
			if err := proto.Unmarshal(body, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	ping := marshalFrame(b, &devicev1.Message{Id: 3, Body: &devicev1.Message_Ping{Ping: &devicev1.Ping{Nonce: 1}}})
	b.Run("Ping", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeFrame(ping); err != nil {
				b.Fatal(err)
			}
		}
	})
}
