package filexfer

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

// gradient is a w×h image with a red mark in its top-left corner, to see
// where the top left ends up after turning the image upright.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: 40, G: uint8(y * 200 / h), B: uint8(x * 200 / w), A: 255})
		}
	}
	for y := range h / 4 {
		for x := range w / 4 {
			img.SetRGBA(x, y, color.RGBA{R: 255, A: 255})
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// exifAPP1 is an APP1 segment whose IFD0 holds only an orientation tag.
func exifAPP1(orientation uint16, bo binary.ByteOrder) []byte {
	tiff := make([]byte, 26)
	if bo == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 1)
	bo.PutUint16(tiff[10:], tagOrientation)
	bo.PutUint16(tiff[12:], 3)
	bo.PutUint32(tiff[14:], 1)
	bo.PutUint16(tiff[18:], orientation)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// withEXIF inserts an EXIF segment right after a JPEG's SOI marker.
func withEXIF(jpg []byte, orientation uint16, bo binary.ByteOrder) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, exifAPP1(orientation, bo)...)
	return append(out, jpg[2:]...)
}

func TestExifOrientation(t *testing.T) {
	jpg := encodeJPEG(t, gradient(16, 8))
	for o := uint16(1); o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			if got := exifOrientation(withEXIF(jpg, o, bo)); got != int(o) {
				t.Errorf("orientation %d (%v): read %d", o, bo, got)
			}
		}
	}
	// After a JFIF APP0 segment too, and after fill bytes.
	app0 := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b := append([]byte{0xFF, 0xD8, 0xFF}, app0...)
	b = append(b, exifAPP1(6, binary.BigEndian)...)
	if got := exifOrientation(b); got != 6 {
		t.Errorf("EXIF after APP0: %d, want 6", got)
	}
	for name, b := range map[string][]byte{
		"no EXIF":          jpg,
		"not a JPEG":       []byte("GIF89a......"),
		"empty":            nil,
		"orientation 9":    withEXIF(jpg, 9, binary.BigEndian),
		"truncated":        withEXIF(jpg, 6, binary.BigEndian)[:20],
		"segment too long": {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'},
	} {
		if got := exifOrientation(b); got != 1 {
			t.Errorf("%s: %d, want 1", name, got)
		}
	}
}

// FuzzExifOrientation: any input gives an orientation from 1 to 8 without
// panicking.
func FuzzExifOrientation(f *testing.F) {
	jpg := encodeJPEG(f, gradient(8, 8))
	for o := uint16(0); o <= 9; o++ {
		f.Add(withEXIF(jpg, o, binary.BigEndian))
		f.Add(withEXIF(jpg, o, binary.LittleEndian)[:40])
	}
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := exifOrientation(b); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

func BenchmarkExifOrientation(b *testing.B) {
	jpg := withEXIF(encodeJPEG(b, gradient(64, 64)), 6, binary.LittleEndian)
	b.SetBytes(int64(len(jpg)))
	for b.Loop() {
		exifOrientation(jpg)
	}
}

// optimize runs optimizeImage on src for a screen.
func optimize(src []byte, w, h int) ([]byte, optimizeResult) {
	var out bytes.Buffer
	res := optimizeImage(bytes.NewReader(src), int64(len(src)), [2]int{w, h}, DefaultMaxImagePixels, &out, int64(len(src)))
	return out.Bytes(), res
}

func decoded(t *testing.T, b []byte) (image.Image, string) {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the optimised copy does not decode: %v", err)
	}
	return img, format
}

func TestOptimizeDownscalesKeepingAspectAndFormat(t *testing.T) {
	for _, tc := range []struct {
		name          string
		src           []byte
		screen        [2]int
		format        string
		wantW, wantH  int
		noteSubstring string
	}{
		{"landscape JPEG", encodeJPEG(t, gradient(2000, 1000)), [2]int{400, 800}, "jpeg", 400, 200, "2000x1000 to 400x200"},
		{"portrait PNG", encodePNG(t, gradient(600, 1200)), [2]int{400, 400}, "png", 200, 400, "600x1200 to 200x400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, res := optimize(tc.src, tc.screen[0], tc.screen[1])
			if !res.changed {
				t.Fatalf("not optimised: %s", res.note)
			}
			img, format := decoded(t, out)
			if format != tc.format || img.Bounds().Dx() != tc.wantW || img.Bounds().Dy() != tc.wantH || len(out) >= len(tc.src) {
				t.Fatalf("got a %s of %v, %d bytes; want a %s of %dx%d under %d bytes", format, img.Bounds().Size(), len(out),
					tc.format, tc.wantW, tc.wantH, len(tc.src))
			}
			if !strings.Contains(res.note, tc.noteSubstring) {
				t.Errorf("note %q", res.note)
			}
		})
	}
}

func TestOptimizeTurnsPhotosUpright(t *testing.T) {
	// Stored 1200x600 with orientation 6: shown 600x1200, rotated 90°
	// clockwise, so the stored top-left mark ends up top right.
	src := withEXIF(encodeJPEG(t, gradient(1200, 600)), 6, binary.LittleEndian)
	out, res := optimize(src, 300, 800)
	if !res.changed {
		t.Fatalf("not optimised: %s", res.note)
	}
	img, _ := decoded(t, out)
	if img.Bounds().Dx() != 300 || img.Bounds().Dy() != 600 {
		t.Fatalf("optimised to %v, want 300x600 (upright, fitting 300x800)", img.Bounds().Size())
	}
	r, _, _, _ := img.At(280, 20).RGBA()
	l, _, _, _ := img.At(20, 20).RGBA()
	if r>>8 < 200 || l>>8 > 100 {
		t.Errorf("the mark is not top right: red %d at the top right, %d at the top left", r>>8, l>>8)
	}
}

func TestOptimizeLeavesSomeImagesAlone(t *testing.T) {
	frame := func(c color.Color) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, 800, 800), palette.Plan9)
		for i := range p.Pix {
			p.Pix[i] = uint8(p.Palette.Index(c))
		}
		return p
	}
	var animated bytes.Buffer
	if err := gif.EncodeAll(&animated, &gif.GIF{Image: []*image.Paletted{frame(color.White), frame(color.Black)}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	var still bytes.Buffer
	if err := gif.Encode(&still, gradient(800, 800), nil); err != nil {
		t.Fatal(err)
	}
	huge := encodePNG(t, image.NewGray(image.Rect(0, 0, 5000, 4000)))
	for _, tc := range []struct {
		name, note string
		src        []byte
	}{
		{"small enough", "already fits", encodeJPEG(t, gradient(300, 200))},
		{"animated GIF", "animated GIF", animated.Bytes()},
		{"too many pixels", "too large to optimise", huge},
		{"not an image", "not a readable", []byte("%PDF-1.7 not an image")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res := optimizeImage(bytes.NewReader(tc.src), int64(len(tc.src)), [2]int{400, 400}, 16_000_000, &out, int64(len(tc.src)))
			if res.changed || out.Len() != 0 || !strings.Contains(res.note, tc.note) || !strings.HasSuffix(res.note, "delivered unchanged") {
				t.Fatalf("changed %v, %d bytes, note %q; want it unchanged because %q", res.changed, out.Len(), res.note, tc.note)
			}
		})
	}
	// A still GIF is downscaled and stays a GIF.
	out, res := optimize(still.Bytes(), 200, 200)
	if img, format := decoded(t, out); !res.changed || format != "gif" || img.Bounds().Dx() != 200 {
		t.Errorf("still GIF: changed %v (%s), a %s of %v", res.changed, res.note, format, img.Bounds().Size())
	}
}

// FuzzOptimizeImage: any file asked optimised either yields a decodable
// image within the screen or is left alone, without a panic.
func FuzzOptimizeImage(f *testing.F) {
	f.Add(encodeJPEG(f, gradient(64, 32)))
	f.Add(encodePNG(f, gradient(40, 80)))
	var g bytes.Buffer
	gif.Encode(&g, gradient(50, 50), nil)
	f.Add(g.Bytes())
	f.Add(withEXIF(encodeJPEG(f, gradient(64, 32)), 8, binary.BigEndian))
	f.Fuzz(func(t *testing.T, src []byte) {
		var out bytes.Buffer
		res := optimizeImage(bytes.NewReader(src), int64(len(src)), [2]int{16, 16}, 1<<16, &out, int64(len(src))+1)
		if !res.changed {
			return
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(out.Bytes()))
		if err != nil || cfg.Width > 16 || cfg.Height > 16 {
			t.Fatalf("optimised to %dx%d (%v)", cfg.Width, cfg.Height, err)
		}
	})
}

func BenchmarkOptimizeJPEG(b *testing.B) {
	src := encodeJPEG(b, gradient(4000, 3000))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		var out bytes.Buffer
		if res := optimizeImage(bytes.NewReader(src), int64(len(src)), [2]int{1080, 1920}, DefaultMaxImagePixels, &out, int64(len(src))); !res.changed {
			b.Fatal(res.note)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{"a/b/c.txt": "c.txt", `C:\x\y.PDF`: "y.PDF", " spaced.doc ": "spaced.doc"} {
		if got, err := cleanName(in); err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{"photo.JPG": "jpg", "archive.tar.gz": "gz", "README": "", ".bashrc": "", "x.exe. ": "exe"} {
		if got := extension(in); got != want {
			t.Errorf("extension(%q) = %q, want %q", in, got, want)
		}
	}
}
