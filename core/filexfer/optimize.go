package filexfer

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
)

// jpegQuality is the quality of re-encoded JPEGs: small, and still good on
// a phone's screen.
const jpegQuality = 82

// exifPrefixBytes is how much of a JPEG's start is searched for its EXIF
// orientation; the APP1 segment comes first and is at most 64 KiB.
const exifPrefixBytes = 128 << 10

type optimizeResult struct {
	changed bool
	note    string // what was done, or why the original is delivered
}

func unchanged(format string, args ...any) optimizeResult {
	return optimizeResult{note: fmt.Sprintf(format, args...) + ": delivered unchanged"}
}

// optimizeImage writes to dst a copy of the image in src (size bytes)
// downscaled to fit screen (width, height) with its aspect kept, if it is
// a JPEG, PNG or single-frame GIF larger than the screen. The image's
// dimensions are checked against maxPixels before it is decoded, so memory
// stays bounded; JPEGs are turned upright by their EXIF orientation. The
// copy must be smaller than maxOut bytes, or the original is delivered.
func optimizeImage(src io.ReaderAt, size int64, screen [2]int, maxPixels int, dst io.Writer, maxOut int64) optimizeResult {
	cfg, format, err := image.DecodeConfig(io.NewSectionReader(src, 0, size))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return unchanged("not a readable JPEG, PNG or GIF image")
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return unchanged("a %dx%d image is too large to optimise", cfg.Width, cfg.Height)
	}
	orientation := 1
	if format == "jpeg" {
		prefix := make([]byte, min(size, exifPrefixBytes))
		n, _ := src.ReadAt(prefix, 0)
		orientation = exifOrientation(prefix[:n])
	}
	w, h := cfg.Width, cfg.Height // as displayed
	if orientation >= 5 {
		w, h = h, w
	}
	if w <= screen[0] && h <= screen[1] {
		return unchanged("a %dx%d image already fits the %dx%d screen", w, h, screen[0], screen[1])
	}
	tw, th := fit(w, h, screen[0], screen[1])

	var img image.Image
	switch format {
	case "jpeg":
		img, err = jpeg.Decode(io.NewSectionReader(src, 0, size))
	case "png":
		img, err = png.Decode(io.NewSectionReader(src, 0, size))
	case "gif":
		var animated bool
		img, animated, err = decodeGIF(io.NewSectionReader(src, 0, size), size)
		if err == nil && animated {
			return unchanged("an animated GIF")
		}
	}
	if err != nil {
		return unchanged("the %s image could not be decoded", format)
	}
	sw, sh := tw, th // the target in the stored orientation
	if orientation >= 5 {
		sw, sh = th, tw
	}
	scaled := orient(downscale(img, sw, sh), orientation)

	out := &limitWriter{w: dst, left: maxOut - 1}
	switch format {
	case "jpeg":
		err = jpeg.Encode(out, scaled, &jpeg.Options{Quality: jpegQuality})
	case "png":
		err = png.Encode(out, scaled)
	case "gif":
		pal := palette.Plan9
		if p, ok := img.(*image.Paletted); ok && len(p.Palette) > 0 {
			pal = p.Palette
		}
		q := image.NewPaletted(scaled.Bounds(), pal)
		draw.FloydSteinberg.Draw(q, q.Bounds(), scaled, image.Point{})
		err = gif.Encode(out, q, nil)
	}
	if errors.Is(err, errTooBig) {
		return unchanged("the optimised copy would not be smaller")
	}
	if err != nil {
		return unchanged("the %s image could not be re-encoded", format)
	}
	return optimizeResult{changed: true, note: fmt.Sprintf("optimised from %dx%d to %dx%d (%s to %s)",
		w, h, tw, th, formatBytes(size), formatBytes(out.written))}
}

// fit scales w×h down to fit inside maxW×maxH, keeping the aspect.
func fit(w, h, maxW, maxH int) (int, int) {
	tw, th := maxW, int((int64(h)*int64(maxW)+int64(w)/2)/int64(w))
	if th > maxH {
		tw, th = int((int64(w)*int64(maxH)+int64(h)/2)/int64(h)), maxH
	}
	return max(tw, 1), max(th, 1)
}

// downscale resizes img to w×h: Catmull-Rom for quality, after a cheap
// bilinear halving pass when the image is much larger than the target.
func downscale(img image.Image, w, h int) *image.RGBA {
	b := img.Bounds()
	if b.Dx() > 4*w && b.Dy() > 4*h {
		mid := image.NewRGBA(image.Rect(0, 0, 2*w, 2*h))
		draw.ApproxBiLinear.Scale(mid, mid.Bounds(), img, b, draw.Src, nil)
		img, b = mid, mid.Bounds()
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// orient turns an image stored with an EXIF orientation (1 to 8) upright.
func orient(src *image.RGBA, orientation int) *image.RGBA {
	if orientation <= 1 || orientation > 8 {
		return src
	}
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	dw, dh := w, h
	if orientation >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch orientation {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			dst.SetRGBA(x, y, src.RGBAAt(sx, sy))
		}
	}
	return dst
}

// decodeGIF decodes a GIF's first frame and reports whether more follows
// (an animation): the decoder stops after the first frame, and anything
// past it but the one-byte trailer means more frames.
func decodeGIF(r io.Reader, size int64) (image.Image, bool, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReader(cr)
	img, err := gif.Decode(br)
	if err != nil {
		return nil, false, err
	}
	consumed := cr.n - int64(br.Buffered())
	return img, size-consumed > 1, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var errTooBig = errors.New("filexfer: optimised copy not smaller")

// limitWriter fails once more than left bytes are written.
type limitWriter struct {
	w       io.Writer
	left    int64
	written int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errTooBig
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	l.written += int64(n)
	return n, err
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
