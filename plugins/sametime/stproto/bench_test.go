package stproto

import (
	"bytes"
	"testing"
)

func benchIMCreate(b *testing.B) *Message {
	k := mustKey(b, repeatHex(b, vecClientPriv1, 16))
	return &Message{Body: &ChannelCreate{ID: 4, Target: IDBlock{User: "bob"}, Service: ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
		Addtl: hx(b, `00000001 00033453`), Encrypt: OfferAll(k)}}
}

func BenchmarkMarshalFrameIMCreate(b *testing.B) {
	m := benchIMCreate(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.MarshalFrame(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalIMCreate(b *testing.B) {
	frame, _ := benchIMCreate(b).Marshal()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFrameFileChunks(b *testing.B) {
	chunk := &Message{Channel: 5, Body: &ChannelSend{Type: FTMsgData, Data: make([]byte, FTChunkSize)}}
	one, _ := chunk.MarshalFrame()
	stream := bytes.Repeat(append([]byte{Keepalive}, one...), 64)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		fr := NewFrameReader(bytes.NewReader(stream), 0)
		for range 64 {
			if _, err := fr.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkRC2Block(b *testing.B) {
	c, _ := NewMeanwhileRC2(unhex(b, vecChannelKey))
	var blk [8]byte
	b.SetBytes(8)
	for b.Loop() {
		c.Encrypt(blk[:], blk[:])
	}
}

func BenchmarkRC2SealFileChunk(b *testing.B) {
	k := mustKey(b, repeatHex(b, vecClientPriv1, 16))
	cc, err := NewChannelCipherRC2_128(k, unhex(b, vecPeerPub))
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, FTChunkSize)
	b.SetBytes(FTChunkSize)
	b.ReportAllocs()
	for b.Loop() {
		cc.Seal(chunk)
	}
}

func BenchmarkRC2KeySchedule(b *testing.B) {
	key := unhex(b, vecChannelKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMeanwhileRC2(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDHSharedKey(b *testing.B) {
	k := mustKey(b, repeatHex(b, vecClientPriv1, 16))
	peer := unhex(b, vecPeerPub)
	for b.Loop() {
		if _, err := k.SharedKey(peer); err != nil {
			b.Fatal(err)
		}
	}
}
