package frame_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/golang/snappy"

	"github.com/parleygw/parley/core/frame"
	"github.com/parleygw/parley/internal/captures"
)

// maxFuzzAlloc is the most one ReadFrame may allocate under fuzzLimits.
const maxFuzzAlloc = 4 << 20

// fuzzLimits keeps inputs small enough for the fuzzer to reach the limits.
var fuzzLimits = frame.Limits{MaxFrame: 64 << 10, CompressThreshold: 1}

// FuzzReadFrame feeds arbitrary bytes to the Reader and arbitrary bodies
// through the Writer. It checks that reading never panics, classifies every
// failure, never allocates more than the limit allows per frame, and that
// whatever it returns survives a write/read round trip unchanged.
func FuzzReadFrame(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bodies := readChecked(t, data)
		roundTrip(t, bodies)
		if len(data) <= fuzzLimits.MaxFrame {
			roundTrip(t, [][]byte{data})
			wire := writeOne(t, fuzzLimits, data, true)
			if wire[4] != 0 {
				t.Fatalf("sensitive body written with flags %#x", wire[4])
			}
		}
	})
}

// readChecked reads every frame in data and returns copies of the bodies.
func readChecked(t *testing.T, data []byte) [][]byte {
	r := frame.NewReader(bytes.NewReader(data), fuzzLimits)
	var bodies [][]byte
	for {
		before := heapAllocs()
		body, err := r.ReadFrame()
		// The heap counter is process-wide and the fuzzing machinery
		// allocates too (once ~500 KB inside one call), so this only
		// catches allocations sized by a hostile claim, which reach up
		// to 4 GiB. TestReadFrameAllocatesOnlyWhatArrives checks the
		// tight bounds.
		if used := heapAllocs() - before; used > maxFuzzAlloc {
			t.Fatalf("one ReadFrame allocated %d bytes with max_frame %d", used, fuzzLimits.MaxFrame)
		}
		if err == io.EOF {
			return bodies
		}
		if err != nil {
			if frame.Reason(err) == "" {
				t.Fatalf("unclassified error: %v", err)
			}
			return bodies
		}
		if len(body) > fuzzLimits.MaxFrame {
			t.Fatalf("body of %d bytes over max_frame %d", len(body), fuzzLimits.MaxFrame)
		}
		bodies = append(bodies, bytes.Clone(body))
	}
}

// roundTrip writes bodies as one batch and checks they read back unchanged.
func roundTrip(t *testing.T, bodies [][]byte) {
	var wire bytes.Buffer
	w := frame.NewWriter(&wire, fuzzLimits)
	for _, b := range bodies {
		if err := w.WriteFrame(b, false); err != nil {
			t.Fatalf("WriteFrame(%d bytes): %v", len(b), err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := frame.NewReader(&wire, fuzzLimits)
	for i, want := range bodies {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("reading back frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d changed in the round trip", i)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// fuzzSeeds returns the golden and hostile frames, plus frames carrying real
// IM traffic from the interop captures when ../shared is present.
func fuzzSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		{0, 0, 0, 1, 0},
		{0, 0, 0, 6, 0, 'h', 'e', 'l', 'l', 'o'},
		{0, 0, 0, 8, 1, 5, 0x10, 'h', 'e', 'l', 'l', 'o'},
		{0, 0, 0, 0},
		{0, 0, 0, 2, 0x80, 'x'},
		{0, 0, 0, 2, 0x02, 'x'},
		frameOf(1, binary.AppendUvarint(nil, 0xffffffff)),
		frameOf(1, binary.AppendUvarint(nil, uint64(fuzzLimits.MaxFrame)+1)),
		rawFrame(uint32(fuzzLimits.MaxFrame)+2, 0, nil),
		rawFrame(0xffffffff, 1, nil),
		rawFrame(9, 0, []byte("cut")),
		frameOf(1, snappy.Encode(nil, compressible(4096))),
		append(frameOf(0, []byte("first")), frameOf(1, snappy.Encode(nil, make([]byte, 1000)))...),
	}
	files, err := captures.Read("*.bin")
	if err != nil {
		tb.Fatal(err)
	}
	for _, capture := range files {
		seeds = append(seeds, capture, frameOf(0, capture), frameOf(1, snappy.Encode(nil, capture)))
	}
	return seeds
}
