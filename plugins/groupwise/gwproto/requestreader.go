package gwproto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RequestReader reads client→server requests from a byte stream. Requests
// may arrive in arbitrarily small pieces (libpurple writes every &tag=,
// &cmd=, &val= and &type= piece as its own TLS record); the reader only
// relies on the bytes, never on read boundaries.
type RequestReader struct {
	br      *bufio.Reader
	lim     Limits
	scratch []byte // the piece being read
	value   []byte // the value of the field being read
	// per-request state
	read   int
	fields int
}

// NewRequestReader returns a reader of requests from r, bounded by lim (zero
// members take DefaultLimits).
func NewRequestReader(r io.Reader, lim Limits) *RequestReader {
	return &RequestReader{br: bufio.NewReaderSize(r, 4096), lim: lim.withDefaults()}
}

// ParseRequest parses one complete request from b.
func ParseRequest(b []byte) (*Request, error) {
	return NewRequestReader(bytes.NewReader(b), Limits{}).ReadRequest()
}

// ReadRequest reads the next request. It returns io.EOF if the stream ends
// cleanly between requests and an error wrapping io.ErrUnexpectedEOF if it
// ends inside one.
func (rr *RequestReader) ReadRequest() (*Request, error) {
	rr.read, rr.fields = 0, 0
	if _, err := rr.br.Peek(1); err != nil {
		return nil, err
	}
	req, err := rr.readRequest()
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("gwproto: request: %w", io.ErrUnexpectedEOF)
	}
	return req, err
}

func (rr *RequestReader) readRequest() (*Request, error) {
	line, err := rr.readLine()
	if err != nil {
		return nil, err
	}
	req := &Request{}
	rest, ok := strings.CutPrefix(line, "POST /")
	cmd, version, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 || !validCommand(cmd) || !strings.HasPrefix(version, "HTTP/1.") {
		return nil, fmt.Errorf("gwproto: %.40q: %w", line, ErrBadRequestLine)
	}
	req.Command = cmd
	for {
		h, err := rr.readLine()
		if err != nil {
			return nil, err
		}
		if h == "" {
			break
		}
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("gwproto: header %.40q: %w", h, ErrBadHeader)
		}
		if strings.EqualFold(strings.TrimSpace(name), "Host") {
			req.Host = strings.TrimSpace(value)
		}
	}
	fields, err := rr.readBody()
	if err != nil {
		return nil, fmt.Errorf("gwproto: %s request: %w", req.Command, err)
	}
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i].Type.IsString() && fields[i].Tag == TagSzTransactionID {
			req.TID = fields[i].Value
			fields = append(fields[:i], fields[i+1:]...)
			break
		}
	}
	if len(fields) > 0 {
		req.Fields = fields
	}
	return req, nil
}

// readLine reads one header-block line (without its CR LF); the whole
// header block shares MaxHeaderBytes.
func (rr *RequestReader) readLine() (string, error) {
	rr.scratch = rr.scratch[:0]
	for {
		c, err := rr.br.ReadByte()
		if err != nil {
			return "", err
		}
		rr.read++
		if rr.read > rr.lim.MaxHeaderBytes {
			return "", ErrHeaderTooLong
		}
		if c == '\n' {
			return string(bytes.TrimSuffix(rr.scratch, []byte{'\r'})), nil
		}
		rr.scratch = append(rr.scratch, c)
	}
}

func (rr *RequestReader) next() (byte, error) {
	c, err := rr.br.ReadByte()
	if err != nil {
		return 0, err
	}
	rr.read++
	if rr.read > rr.lim.MaxMessageBytes {
		return 0, ErrMessageTooLarge
	}
	return c, nil
}

// readBody reads the fields up to the CR LF that ends the body.
func (rr *RequestReader) readBody() (Fields, error) {
	var fields Fields
	for {
		c, err := rr.next()
		if err != nil {
			return nil, err
		}
		switch c {
		case '\r':
			if c, err = rr.next(); err != nil {
				return nil, err
			}
			if c != '\n' {
				return nil, fmt.Errorf("CR without LF: %w", ErrBadBody)
			}
			return fields, nil
		case '&':
			f, err := rr.readField(1)
			if err != nil {
				return nil, err
			}
			fields = append(fields, f)
		default:
			return nil, fmt.Errorf("byte %q between fields: %w", c, ErrBadBody)
		}
	}
}

// readField reads the four pieces of one field (the leading '&' already
// consumed) and, for lists, its children.
func (rr *RequestReader) readField(depth int) (Field, error) {
	var f Field
	if depth > rr.lim.MaxDepth {
		return f, ErrTooDeep
	}
	if rr.fields++; rr.fields > rr.lim.MaxFields {
		return f, ErrTooManyFields
	}
	tag, err := rr.readPiece("tag", rr.lim.MaxTagLen-1, false, ErrTagTooLong)
	if err != nil {
		return f, err
	}
	if len(tag) == 0 || bytes.IndexByte(tag, 0) >= 0 {
		return f, fmt.Errorf("tag %q: %w", tag, ErrBadTag)
	}
	f.Tag = string(tag)
	cmd, err := rr.readPiece("cmd", 1, true, ErrBadMethod)
	if err != nil {
		return f, err
	}
	if len(cmd) != 1 {
		return f, fmt.Errorf("field %q: cmd %q: %w", f.Tag, cmd, ErrBadMethod)
	}
	m, ok := MethodFromChar(cmd[0])
	if !ok {
		return f, fmt.Errorf("field %q: cmd %q: %w", f.Tag, cmd, ErrBadMethod)
	}
	f.Method = m
	// Escaped values are at most three bytes per decoded byte, plus the
	// NUL of libpurple's truncation quirk.
	raw, err := rr.readPiece("val", 3*rr.lim.MaxValueLen+1, true, ErrValueTooLong)
	if err != nil {
		return f, fmt.Errorf("field %q: %w", f.Tag, err)
	}
	// keep the value while the type piece reuses scratch
	rr.value = append(rr.value[:0], raw...)
	val := rr.value
	typ, err := rr.readPiece("type", 3, true, ErrBadType)
	if err != nil {
		return f, fmt.Errorf("field %q: %w", f.Tag, err)
	}
	t, ok := parseDecimal(typ)
	if !ok || t == 0 || t > 255 {
		return f, fmt.Errorf("field %q: type %q: %w", f.Tag, typ, ErrBadType)
	}
	f.Type = Type(t)
	switch {
	case f.Type.IsString():
		if f.Value, err = unescape(val, rr.lim.MaxValueLen); err != nil {
			return f, fmt.Errorf("field %q: %w", f.Tag, err)
		}
	case f.Type.IsList():
		n, ok := parseDecimal(val)
		if !ok {
			return f, fmt.Errorf("field %q: count %q: %w", f.Tag, val, ErrBadNumber)
		}
		if n > uint64(rr.lim.MaxFields-rr.fields) {
			return f, fmt.Errorf("field %q: count %d: %w", f.Tag, n, ErrTooManyFields)
		}
		if n > 0 {
			f.Children = make(Fields, 0, min(n, 16))
		}
		for i := uint64(0); i < n; i++ {
			c, err := rr.next()
			if err != nil {
				return f, err
			}
			if c != '&' {
				return f, fmt.Errorf("field %q: %d of %d children: %w", f.Tag, i, n, ErrBadBody)
			}
			child, err := rr.readField(depth + 1)
			if err != nil {
				return f, err
			}
			f.Children = append(f.Children, child)
		}
	default:
		n, ok := parseDecimal(val)
		if !ok || n > 0xFFFFFFFF {
			return f, fmt.Errorf("field %q: value %q: %w", f.Tag, val, ErrBadNumber)
		}
		f.Number = uint32(n)
	}
	return f, nil
}

// readPiece reads "name=value" up to (not including) the next '&' or CR; a
// value longer than limit gives tooLong. For every piece but the first of a
// field the leading '&' is consumed here (lead true). The returned slice
// aliases rr.scratch.
func (rr *RequestReader) readPiece(name string, limit int, lead bool, tooLong error) ([]byte, error) {
	if lead {
		c, err := rr.next()
		if err != nil {
			return nil, err
		}
		if c != '&' {
			return nil, fmt.Errorf("want &%s=: %w", name, ErrBadBody)
		}
	}
	for i := 0; i < len(name); i++ {
		c, err := rr.next()
		if err != nil {
			return nil, err
		}
		if c != name[i] {
			return nil, fmt.Errorf("want &%s=: %w", name, ErrBadBody)
		}
	}
	if c, err := rr.next(); err != nil {
		return nil, err
	} else if c != '=' {
		return nil, fmt.Errorf("want &%s=: %w", name, ErrBadBody)
	}
	rr.scratch = rr.scratch[:0]
	for {
		// scan what is buffered for the end of the value
		b, err := rr.br.Peek(max(1, rr.br.Buffered()))
		if len(b) == 0 {
			return nil, err
		}
		end := bytes.IndexAny(b, "&\r")
		n := end
		if end < 0 {
			n = len(b)
		}
		if len(rr.scratch)+n > limit {
			return nil, tooLong
		}
		if n > rr.lim.MaxMessageBytes-rr.read {
			return nil, ErrMessageTooLarge
		}
		rr.scratch = append(rr.scratch, b[:n]...)
		rr.read += n
		if _, err := rr.br.Discard(n); err != nil {
			return nil, err
		}
		if end >= 0 {
			return rr.scratch, nil
		}
	}
}

// parseDecimal parses a non-empty run of ASCII digits (at most 20).
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// unescape decodes a percent-encoded request value. It tolerates
// libpurple's truncation quirk: everything from a NUL byte on is dropped, and
// so is a dangling "%" or "%x" at the very end.
//
// raw is decoded in place (the result is never longer than the input).
func unescape(raw []byte, max int) (string, error) {
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	if bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '+') < 0 {
		return checkLen(raw, max)
	}
	out := raw[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(raw) {
				if i+1 == len(raw) || isHex(raw[i+1]) {
					// dangling escape at the end: truncated by the client
					return checkLen(out, max)
				}
				return "", fmt.Errorf("%q: %w", raw[i:], ErrBadEscape)
			}
			hi, lo := raw[i+1], raw[i+2]
			if !isHex(hi) || !isHex(lo) {
				return "", fmt.Errorf("%q: %w", raw[i:i+3], ErrBadEscape)
			}
			c = unhex(hi)<<4 | unhex(lo)
			i += 2
		}
		if len(out) >= max {
			return "", ErrValueTooLong
		}
		out = append(out, c)
	}
	return checkLen(out, max)
}

func checkLen(b []byte, max int) (string, error) {
	if len(b) > max {
		return "", ErrValueTooLong
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
