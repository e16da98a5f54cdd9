package filexfer

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"os"
	"path/filepath"
)

// spool is the file on disk that holds one transfer's data between the
// device and the plugin. One goroutine writes it (appending and hashing);
// any may read what has been written with ReadAt.
//
// A ring spool keeps only the last ring bytes written: byte off of the
// data lives at off mod ring, and the file's pages are written over in a
// circle. Uploads use one, since their data is read once, in order, and
// never more than uploadRing bytes behind what has arrived; writing over
// pages the page cache holds already costs a fraction of growing a file
// (a new page for every 4 KiB, blocks to allocate, all of it to free at
// the end).
type spool struct {
	f    *os.File
	sum  hash.Hash
	size uint64 // bytes written so far
	ring uint64 // 0, or the bytes a ring spool keeps
}

// newSpool creates an empty spool file in dir that keeps everything
// written.
func newSpool(dir string) (*spool, error) { return newRingSpool(dir, 0) }

// newRingSpool creates an empty spool file in dir that keeps the last
// ring bytes written (everything if ring is 0). ring is at least MaxChunk.
func newRingSpool(dir string, ring uint64) (*spool, error) {
	f, err := os.CreateTemp(dir, "xfer-*.part")
	if err != nil {
		return nil, fmt.Errorf("filexfer: spool: %w", err)
	}
	return &spool{f: f, sum: sha256.New(), ring: ring}, nil
}

// write appends p, at most MaxChunk bytes.
func (s *spool) write(p []byte) error {
	var err error
	if s.ring == 0 {
		_, err = s.f.Write(p)
	} else {
		err = s.ringIO(p, s.size, s.f.WriteAt)
	}
	if err != nil {
		return fmt.Errorf("filexfer: spool: %w", err)
	}
	s.sum.Write(p)
	s.size += uint64(len(p))
	return nil
}

// readAt reads len(p) bytes at off; the caller knows they were written
// (and, in a ring spool, not written over yet).
func (s *spool) readAt(p []byte, off uint64) error {
	var err error
	if s.ring == 0 {
		_, err = s.f.ReadAt(p, int64(off))
	} else {
		err = s.ringIO(p, off, s.f.ReadAt)
	}
	if err != nil {
		return fmt.Errorf("filexfer: spool: %w", err)
	}
	return nil
}

// ringIO applies op to the bytes of a ring spool's data at off: one piece,
// or two where the ring wraps (p is never longer than the ring).
func (s *spool) ringIO(p []byte, off uint64, op func([]byte, int64) (int, error)) error {
	pos := off % s.ring
	n := min(uint64(len(p)), s.ring-pos)
	if _, err := op(p[:n], int64(pos)); err != nil {
		return err
	}
	if n < uint64(len(p)) {
		_, err := op(p[n:], 0)
		return err
	}
	return nil
}

// digest is the sha256 of everything written.
func (s *spool) digest() []byte { return s.sum.Sum(nil) }

// remove closes and deletes the file.
func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// cleanSpoolDir creates dir, or empties it of the spool files a previous
// run left behind (a transfer does not survive a restart).
func cleanSpoolDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("filexfer: spool dir: %w", err)
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, "xfer-*.part"))
	if err != nil {
		return fmt.Errorf("filexfer: spool dir: %w", err)
	}
	for _, f := range leftovers {
		os.Remove(f)
	}
	return nil
}

// spoolWriter appends to a spool as an io.Writer.
type spoolWriter struct{ s *spool }

func (w spoolWriter) Write(p []byte) (int, error) {
	if err := w.s.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
