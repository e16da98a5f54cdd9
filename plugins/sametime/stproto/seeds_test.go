package stproto

import (
	"bytes"
	"testing"

	"github.com/parleygw/parley/internal/captures"
)

// captureStreams returns the raw Sametime byte streams of the captures
// (client streams first), or nothing when ../shared is absent.
func captureStreams(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, pattern := range []string{"sametime-*.c2s.bin", "sametime-*.s2c.bin"} {
		files, err := captures.Read(pattern)
		if err != nil {
			tb.Fatal(err)
		}
		for _, b := range files {
			if len(b) > 0 {
				out = append(out, b)
			}
		}
	}
	return out
}

// splitFrames returns the messages of a stream, stopping at the first error.
func splitFrames(stream []byte) [][]byte {
	var out [][]byte
	fr := NewFrameReader(bytes.NewReader(stream), 0)
	for {
		b, err := fr.ReadFrame()
		if err != nil {
			return out
		}
		out = append(out, b)
	}
}

// goldenFrames are the spec §9 frames used as in-code seeds.
func goldenFrames(tb testing.TB) [][]byte {
	var out [][]byte
	for _, s := range []string{
		vecHandshake, vecLoginPlain, vecLoginRC240, vecAckRC2128, vecLoginRC2128, vecLoginAck,
		`00000035 0002 0000 00000000 00000000 00000002 0000 0000 00000011 00000011 00030005 00000000 00000000 00 0000 00000000 00000000 0007`,
		`00000025 0006 0000 00000002 00000011 00000011 00030005 00000000 00 0000 00000000 00000000 0007`,
		`00000079 0002 0000 00000000 00000000 80000001 0005 "alice" 0000 00001000 00001000 00000003 00000000 00000008 00000001 00000001 01
		 000e "carol-login-03" 1003 0005 "carol" 0007 "Carol C" 0000 01 0000 7f000001 000a "fakeserver" 0000 00000000 00000000 0007`,
		`0000001e 0004 4000 00000004 0064 00000010 044d80f35fa757a69f0cf4dd0f35ff2f`,
		`00000043 0004 0000 00000002 01f4 00000035 00000001 00000031 0002 0003 626f62 0000 0000 01 0003 626f62 0020 00000000 0007 617420776f726b 000b 426f62204275696c646572`,
		`00000010 0003 0000 00000000 80000211 00000000`,
		`00000020 0018 0000 00000000 0009 3132372e302e302e31 000b 6f74686572736572766572`,
		`00000008 0016 0000 00000000`,
		`0000000d 000b 0000 00000000 01 00000000`,
	} {
		out = append(out, hx(tb, s))
	}
	return out
}

// seedMessages adds every captured and golden message (without length).
func seedMessages(f *testing.F) {
	for _, s := range captureStreams(f) {
		for _, m := range splitFrames(s) {
			f.Add(m)
		}
	}
	for _, fr := range goldenFrames(f) {
		f.Add(fr[4:])
	}
}

// seedPayloads adds the channel payloads (CHANNEL_SEND data, create and
// accept addtl) of the captured and golden messages plus extra literals.
func seedPayloads(f *testing.F, extra ...string) {
	add := func(b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		switch body := m.Body.(type) {
		case *ChannelSend:
			f.Add(body.Data)
		case *ChannelCreate:
			f.Add(body.Addtl)
		case *ChannelAccept:
			f.Add(body.Addtl)
		}
	}
	for _, s := range captureStreams(f) {
		for _, m := range splitFrames(s) {
			add(m)
		}
	}
	for _, fr := range goldenFrames(f) {
		add(fr[4:])
	}
	for _, s := range extra {
		f.Add(hx(f, s))
	}
}
