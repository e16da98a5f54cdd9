package stproto

import "fmt"

// encodeWith runs f on a fresh Encoder and returns its bytes or error.
func encodeWith(what string, f func(e *Encoder)) ([]byte, error) {
	e := NewEncoder(nil)
	f(e)
	if err := e.Err(); err != nil {
		return nil, fmt.Errorf("stproto: encode %s: %w", what, err)
	}
	return e.Bytes(), nil
}

// decodeWith runs f over b and wraps the first error with what. Trailing
// bytes are ignored, as meanwhile does.
func decodeWith[T any](what string, b []byte, f func(d *Decoder) T) (T, error) {
	d := NewDecoder(b)
	v := f(d)
	if err := d.Err(); err != nil {
		var zero T
		return zero, fmt.Errorf("stproto: decode %s: %w", what, err)
	}
	return v, nil
}
