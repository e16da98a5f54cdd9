package stproto

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestFrameReaderKeepalivesSplitAndCoalesced(t *testing.T) {
	hs := hx(t, vecHandshake)
	logoff := hx(t, `00000010 0003 0000 00000000 00000000 00000000`)
	var stream []byte
	stream = append(stream, 0x80, 0xff, 0x80) // keepalives before the first frame
	stream = append(stream, hs...)            // frame 1
	stream = append(stream, 0, 0, 0, 0)       // empty frame, skipped
	stream = append(stream, 0x80)             // keepalive between frames
	stream = append(stream, logoff...)        // frame 2, coalesced
	stream = append(stream, 0x80, 0x80, 0x80) // trailing keepalives

	for name, r := range map[string]io.Reader{
		"coalesced":    bytes.NewReader(stream),
		"byte by byte": iotest.OneByteReader(bytes.NewReader(stream)),
		"half reads":   iotest.HalfReader(bytes.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			fr := NewFrameReader(r, 0)
			m1, err := fr.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if m1.Type() != TypeHandshake {
				t.Fatalf("first message %s", m1.Type())
			}
			m2, err := fr.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if m2.Type() != TypeChannelDestroy {
				t.Fatalf("second message %s", m2.Type())
			}
			if _, err := fr.ReadFrame(); err != io.EOF {
				t.Fatalf("after the last frame: err = %v, want io.EOF", err)
			}
			if got := fr.Keepalives(); got != 7 {
				t.Fatalf("Keepalives() = %d, want 7", got)
			}
		})
	}
}

// countingReader reports how many bytes were consumed, to show that a
// too-large frame is rejected before its body is read (or allocated).
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestFrameReaderErrors(t *testing.T) {
	t.Run("too large", func(t *testing.T) {
		big := append([]byte{0x00, 0x10, 0x00, 0x01}, make([]byte, 64)...)
		fr := NewFrameReader(bytes.NewReader(big), 1024)
		_, err := fr.ReadFrame()
		var fse *FrameSizeError
		if !errors.Is(err, ErrFrameTooLarge) || !errors.As(err, &fse) || fse.Size != 0x00100001 || fse.Max != 1024 {
			t.Fatalf("err = %v, want FrameSizeError{0x100001, 1024}", err)
		}
	})
	t.Run("max length", func(t *testing.T) {
		fr := NewFrameReader(bytes.NewReader([]byte{0x7f, 0xff, 0xff, 0xff}), 0)
		if _, err := fr.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("err = %v, want ErrFrameTooLarge", err)
		}
	})
	t.Run("truncated length", func(t *testing.T) {
		fr := NewFrameReader(bytes.NewReader([]byte{0x00, 0x00}), 0)
		if _, err := fr.ReadFrame(); err != io.ErrUnexpectedEOF {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("truncated body", func(t *testing.T) {
		hs := hx(t, vecHandshake)
		fr := NewFrameReader(bytes.NewReader(hs[:20]), 0)
		if _, err := fr.ReadFrame(); err != io.ErrUnexpectedEOF {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("limit checked before reading the body", func(t *testing.T) {
		cr := &countingReader{r: io.MultiReader(bytes.NewReader([]byte{0x00, 0x01, 0x00, 0x00}), zeroReader{})}
		fr := NewFrameReader(cr, 100)
		if _, err := fr.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if cr.n > 16<<10+4 {
			t.Fatalf("read %d bytes before rejecting the frame", cr.n)
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestAppendFrameAndWriteMessage(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMessage(&buf, &Message{Body: NewHandshake()}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), hx(t, vecHandshake)) {
		t.Fatalf("WriteMessage wrote %x", buf.Bytes())
	}
	msg, _ := (&Message{Body: NewHandshake()}).Marshal()
	framed, err := AppendFrame([]byte{0x80}, msg)
	if err != nil || !bytes.Equal(framed[1:], hx(t, vecHandshake)) || framed[0] != 0x80 {
		t.Fatalf("AppendFrame = %x, %v", framed, err)
	}
}
