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
type spool struct {
	f    *os.File
	sum  hash.Hash
	size uint64 // bytes written so far
}

// newSpool creates an empty spool file in dir.
func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "xfer-*.part")
	if err != nil {
		return nil, fmt.Errorf("filexfer: spool: %w", err)
	}
	return &spool{f: f, sum: sha256.New()}, nil
}

// write appends p.
func (s *spool) write(p []byte) error {
	if _, err := s.f.Write(p); err != nil {
		return fmt.Errorf("filexfer: spool: %w", err)
	}
	s.sum.Write(p)
	s.size += uint64(len(p))
	return nil
}

// readAt reads len(p) bytes at off; the caller knows they were written.
func (s *spool) readAt(p []byte, off uint64) error {
	if _, err := s.f.ReadAt(p, int64(off)); err != nil {
		return fmt.Errorf("filexfer: spool: %w", err)
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
