// Package frame reads and writes the frames of the Parley device link
// (DESIGN §3):
//
//	u32 big-endian N · u8 flags · N-1 bytes body
//
// Flags bit 0 (0x01) marks a body compressed as one snappy block; every other
// bit is reserved and must be zero. N is at least 1 (the flags byte) and at
// most MaxFrame+1, and a compressed body must also decode to at most MaxFrame
// bytes. Every length is checked before anything is allocated for it: a
// large body is read in growing steps, so a header alone reserves at most
// 64 KiB, and a compressed body's output is allocated only once its claimed
// length has passed the limit and is plausible for its size.
//
// Violations are reported as errors that match ErrProtocol; Reason maps an
// error to a short label for metrics. The body itself (one protobuf message)
// is the caller's concern: this package only frames, compresses and limits.
package frame
