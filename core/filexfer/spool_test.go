package filexfer

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

func TestRingSpoolKeepsTheLastRingBytes(t *testing.T) {
	const ring = MaxChunk + MaxChunk/2 // chunks wrap at every other offset
	s, err := newRingSpool(t.TempDir(), ring)
	if err != nil {
		t.Fatal(err)
	}
	defer s.remove()
	rng := rand.New(rand.NewPCG(1, 2))
	var all []byte
	for range 40 {
		p := make([]byte, 1+rng.IntN(MaxChunk))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if err := s.write(p); err != nil {
			t.Fatal(err)
		}
		all = append(all, p...)
		// Anything of the last ring bytes reads back, wherever it lies.
		from := uint64(len(all)) - min(uint64(len(all)), ring)
		off := from + rng.Uint64N(uint64(len(all))-from)
		got := make([]byte, min(uint64(len(all))-off, MaxChunk))
		if err := s.readAt(got, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, all[off:off+uint64(len(got))]) {
			t.Fatalf("%d bytes at %d of %d written differ", len(got), off, len(all))
		}
	}
	if info, err := s.f.Stat(); err != nil || info.Size() > ring {
		t.Fatalf("the ring spool's file grew to %d bytes (%v), want at most %d", info.Size(), err, ring)
	}
	if sum := sha256.Sum256(all); !bytes.Equal(s.digest(), sum[:]) || s.size != uint64(len(all)) {
		t.Fatalf("digest and size %d do not cover all %d bytes written", s.size, len(all))
	}
}
