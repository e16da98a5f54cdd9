package frame

// BufferCap is the capacity of the buffer the Writer holds (0 when none),
// for tests of the size class a frame takes.
func (w *Writer) BufferCap() int {
	if w.buf == nil {
		return 0
	}
	return cap(w.buf.b)
}

// BodyCap is the capacity of the buffer behind the body ReadFrame returned
// last (0 when none).
func (r *Reader) BodyCap() int {
	if r.body == nil {
		return 0
	}
	return cap(r.body.b)
}
