package frame

import "fmt"

const (
	// DefaultMaxFrame is the largest body, before and after decompression,
	// accepted or sent when Limits.MaxFrame is zero.
	DefaultMaxFrame = 1 << 20
	// DefaultCompressThreshold is the smallest body the Writer tries to
	// compress when Limits.CompressThreshold is zero.
	DefaultCompressThreshold = 256
	// MaxFrameCeiling is the largest MaxFrame a Reader or Writer honours.
	// Bigger payloads (file transfers) travel as several frames.
	MaxFrameCeiling = 64 << 20
)

// headerLen is the size of N plus the flags byte.
const headerLen = 5

// MaxBulkBody is the largest body above 64 KiB whose frame still fits the
// pool's bulk class (64 KiB + 1 KiB) in both the Reader and the Writer (the
// Writer's buffer also holds the header): a file chunk of 64 KiB with its
// envelope does. A frame one byte larger takes 128 KiB buffers instead.
const MaxBulkBody = bulkClassSize - headerLen

// flagSnappy marks a body that is one snappy block. All other flag bits are
// reserved.
const flagSnappy = 0x01

// Limits bounds what a Reader accepts and what a Writer sends. The zero value
// means the defaults.
type Limits struct {
	// MaxFrame is the largest body in bytes, both on the wire and once
	// decompressed. Zero or less means DefaultMaxFrame; values above
	// MaxFrameCeiling are lowered to it (Validate reports them).
	MaxFrame int
	// CompressThreshold is the smallest body the Writer tries to compress.
	// Zero means DefaultCompressThreshold; a negative value disables
	// compression.
	CompressThreshold int
}

// Validate reports limits that would be adjusted silently by NewReader and
// NewWriter, so configuration mistakes surface at load time.
func (l Limits) Validate() error {
	if l.MaxFrame < 0 || l.MaxFrame > MaxFrameCeiling {
		return fmt.Errorf("frame: max frame %d outside 0..%d", l.MaxFrame, MaxFrameCeiling)
	}
	return nil
}

// withDefaults fills in zero values and clamps MaxFrame to the ceiling.
func (l Limits) withDefaults() Limits {
	if l.MaxFrame <= 0 {
		l.MaxFrame = DefaultMaxFrame
	}
	l.MaxFrame = min(l.MaxFrame, MaxFrameCeiling)
	if l.CompressThreshold == 0 {
		l.CompressThreshold = DefaultCompressThreshold
	}
	return l
}
