package gwproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Message is one server→client message: exactly one of Response and Event
// is set.
type Message struct {
	Response *Response
	Event    *Event
}

// Reader reads server→client messages (responses and events, in any
// interleaving) from a byte stream, across arbitrary read boundaries.
//
// It borrows its read buffer from a pool only while buffered bytes wait:
// between messages, a Reader blocked on an idle stream holds no buffer.
type Reader struct {
	src    io.Reader
	buf    *[]byte // borrowed from readBuffers; nil while nothing is buffered
	r, w   int     // unread bytes are (*buf)[r:w]
	srcErr error   // the source's error, returned once the buffer is drained
	lim    Limits
	read   int
	fields int
	small  [16]byte
}

// readBufferSize is the size of the buffers Readers borrow.
const readBufferSize = 4096

var readBuffers = sync.Pool{New: func() any {
	b := make([]byte, readBufferSize)
	return &b
}}

// NewReader returns a reader of server messages from r, bounded by lim (zero
// members take DefaultLimits).
func NewReader(r io.Reader, lim Limits) *Reader {
	return &Reader{src: r, lim: lim.withDefaults()}
}

// releaseBuffer gives the read buffer back to the pool once it holds no
// unread bytes.
func (r *Reader) releaseBuffer() {
	if r.buf != nil && r.r == r.w {
		readBuffers.Put(r.buf)
		r.buf, r.r, r.w = nil, 0, 0
	}
}

// waitMessage blocks until the stream has at least one more byte or ends.
// With nothing buffered it reads into the Reader's own small array, so
// that waiting holds no pooled buffer.
func (r *Reader) waitMessage() error {
	if r.buf != nil && r.r < r.w {
		return nil
	}
	r.releaseBuffer()
	if r.srcErr != nil {
		return r.srcErr
	}
	for range maxEmptyReads {
		n, err := r.src.Read(r.small[:])
		if n > 0 {
			r.buf = readBuffers.Get().(*[]byte)
			r.r, r.w = 0, copy(*r.buf, r.small[:n])
			r.srcErr = err
			return nil
		}
		if err != nil {
			r.srcErr = err
			return err
		}
	}
	r.srcErr = io.ErrNoProgress
	return r.srcErr
}

// maxEmptyReads bounds the reads in a row that return nothing and no error.
const maxEmptyReads = 100

// fill reads more bytes into the buffer, which has free space or unread
// bytes to move to its start. It returns the source's error once nothing
// is left to read.
func (r *Reader) fill() error {
	if r.buf == nil {
		r.buf = readBuffers.Get().(*[]byte)
		r.r, r.w = 0, 0
	}
	if r.r > 0 {
		r.w = copy(*r.buf, (*r.buf)[r.r:r.w])
		r.r = 0
	}
	if r.srcErr != nil {
		return r.srcErr
	}
	for range maxEmptyReads {
		n, err := r.src.Read((*r.buf)[r.w:])
		r.w += n
		if err != nil {
			r.srcErr = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	r.srcErr = io.ErrNoProgress
	return r.srcErr
}

// buffered returns the unread bytes.
func (r *Reader) buffered() []byte {
	if r.buf == nil {
		return nil
	}
	return (*r.buf)[r.r:r.w]
}

// nextByte returns the next byte of the stream.
func (r *Reader) nextByte() (byte, error) {
	for r.buf == nil || r.r == r.w {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	c := (*r.buf)[r.r]
	r.r++
	return c, nil
}

// readFull fills p from the stream.
func (r *Reader) readFull(p []byte) error {
	for len(p) > 0 {
		if r.buf == nil || r.r == r.w {
			if len(p) >= readBufferSize {
				// large: straight from the source
				r.releaseBuffer()
				if r.srcErr != nil {
					return r.srcErr
				}
				if _, err := io.ReadFull(r.src, p); err != nil {
					r.srcErr = err
					return err
				}
				return nil
			}
			if err := r.fill(); err != nil {
				return err
			}
		}
		n := copy(p, (*r.buf)[r.r:r.w])
		r.r += n
		p = p[n:]
	}
	return nil
}

// readString reads n bytes as a string, without one trailing NUL.
func (r *Reader) readString(n int) (string, error) {
	if b := r.buffered(); len(b) >= n {
		r.r += n
		return string(trimNUL(b[:n])), nil
	}
	if n <= readBufferSize {
		// fill until the whole string is buffered
		for len(r.buffered()) < n {
			if err := r.fill(); err != nil {
				return "", err
			}
		}
		b := r.buffered()
		r.r += n
		return string(trimNUL(b[:n])), nil
	}
	b := make([]byte, n)
	if err := r.readFull(b); err != nil {
		return "", err
	}
	return string(trimNUL(b)), nil
}

func trimNUL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == 0 {
		return b[:len(b)-1]
	}
	return b
}

// ErrUnexpectedMessage is returned by ParseResponse for an event and by
// ParseEvent for a response.
var ErrUnexpectedMessage = errors.New("gwproto: unexpected message kind")

// ParseResponse parses one complete response from b.
func ParseResponse(b []byte) (*Response, error) {
	m, err := NewReader(bytes.NewReader(b), Limits{}).ReadMessage()
	if err != nil {
		return nil, err
	}
	if m.Response == nil {
		return nil, fmt.Errorf("gwproto: event %s: %w", m.Event.Type, ErrUnexpectedMessage)
	}
	return m.Response, nil
}

// ParseEvent parses one complete event from b.
func ParseEvent(b []byte) (*Event, error) {
	m, err := NewReader(bytes.NewReader(b), Limits{}).ReadMessage()
	if err != nil {
		return nil, err
	}
	if m.Event == nil {
		return nil, fmt.Errorf("gwproto: response: %w", ErrUnexpectedMessage)
	}
	return m.Event, nil
}

// ReadMessage reads the next response or event. The first four bytes decide:
// "HTTP" starts a response, anything else is a little-endian event type.
// It returns io.EOF if the stream ends cleanly between messages, and an
// error wrapping io.ErrUnexpectedEOF if it ends inside one. After any other
// error the stream cannot be resynchronised.
//
// A response with status 301 has no body (libpurple reads none); it is
// returned with Status 301 and no fields.
func (r *Reader) ReadMessage() (Message, error) {
	r.read, r.fields = 0, 0
	if err := r.waitMessage(); err != nil {
		return Message{}, err
	}
	var m Message
	var head [4]byte
	err := r.readFull(head[:])
	if err == nil {
		r.read = 4
		if string(head[:]) == "HTTP" {
			m.Response, err = r.readResponse()
		} else {
			m.Event, err = r.readEvent(EventType(binary.LittleEndian.Uint32(head[:])))
		}
	}
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("gwproto: message: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return Message{}, err
	}
	r.releaseBuffer()
	return m, nil
}

func (r *Reader) readResponse() (*Response, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	// libpurple takes up to three digits right after the first space.
	sp := bytes.IndexByte(line, ' ')
	status := 0
	if sp >= 0 {
		for _, c := range line[sp+1 : min(sp+4, len(line))] {
			if c < '0' || c > '9' {
				break
			}
			status = status*10 + int(c-'0')
		}
	}
	if status == 0 {
		return nil, fmt.Errorf("gwproto: status line %.40q: %w", line, ErrBadStatusLine)
	}
	// The header block ends with a line that is exactly CR LF.
	for {
		h, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(h) == 1 && h[0] == '\r' {
			break
		}
	}
	resp := &Response{Status: status}
	if status == StatusRedirect {
		return resp, nil
	}
	if resp.Fields, err = r.readFields(1, -1); err != nil {
		return nil, fmt.Errorf("gwproto: response: %w", err)
	}
	return resp, nil
}

// readLine returns the bytes up to LF (exclusive); the status line and the
// header block share MaxHeaderBytes. The line is valid until the next read.
func (r *Reader) readLine() ([]byte, error) {
	var long []byte // a line longer than the buffer
	for {
		b := r.buffered()
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if r.read += i + 1; r.read > r.lim.MaxHeaderBytes {
				return nil, ErrHeaderTooLong
			}
			r.r += i + 1
			if long != nil {
				return append(long, b[:i]...), nil
			}
			return b[:i], nil
		}
		if r.read+len(b) > r.lim.MaxHeaderBytes {
			return nil, ErrHeaderTooLong
		}
		if len(b) == readBufferSize {
			long = append(long, b...)
			r.read += len(b)
			r.r = r.w
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// consume accounts n more bytes of the current message.
func (r *Reader) consume(n int) error {
	if n > r.lim.MaxMessageBytes-r.read {
		return ErrMessageTooLarge
	}
	r.read += n
	return nil
}

func (r *Reader) readByte() (byte, error) {
	if err := r.consume(1); err != nil {
		return 0, err
	}
	return r.nextByte()
}

func (r *Reader) readUint32() (uint32, error) {
	if err := r.consume(4); err != nil {
		return 0, err
	}
	if b := r.buffered(); len(b) >= 4 {
		r.r += 4
		return binary.LittleEndian.Uint32(b), nil
	}
	if err := r.readFull(r.small[:4]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(r.small[:4]), nil
}

// readText reads an n-byte string after checking n against max; tooLong is
// the error for n > max. One trailing NUL is dropped.
func (r *Reader) readText(n uint32, max int, tooLong error) (string, error) {
	if uint64(n) > uint64(max) {
		return "", tooLong
	}
	if err := r.consume(int(n)); err != nil {
		return "", err
	}
	return r.readString(int(n))
}

// readFields reads a binary field list. count < 0 means the top level, which
// ends with a 0x00 type byte; a sub-list ends after count fields (or early,
// at a 0x00 type byte, as in libpurple).
func (r *Reader) readFields(depth int, count int64) (Fields, error) {
	var fs Fields
	if count > 0 {
		fs = make(Fields, 0, min(count, 16))
	}
	for i := int64(0); count < 0 || i < count; i++ {
		t, err := r.readByte()
		if err != nil {
			return nil, err
		}
		if t == 0 {
			break
		}
		if depth > r.lim.MaxDepth {
			return nil, ErrTooDeep
		}
		if r.fields++; r.fields > r.lim.MaxFields {
			return nil, ErrTooManyFields
		}
		f := Field{Type: Type(t)}
		m, err := r.readByte()
		if err != nil {
			return nil, err
		}
		f.Method = Method(m)
		taglen, err := r.readUint32()
		if err != nil {
			return nil, err
		}
		if taglen == 0 {
			return nil, fmt.Errorf("empty tag: %w", ErrBadTag)
		}
		if f.Tag, err = r.readText(taglen, r.lim.MaxTagLen, ErrTagTooLong); err != nil {
			return nil, err
		}
		switch {
		case f.Type.IsList():
			n, err := r.readUint32()
			if err != nil {
				return nil, err
			}
			if uint64(n) > uint64(r.lim.MaxFields-r.fields) {
				return nil, fmt.Errorf("field %q: count %d: %w", f.Tag, n, ErrTooManyFields)
			}
			if f.Children, err = r.readFields(depth+1, int64(n)); err != nil {
				return nil, err
			}
		case f.Type.IsString():
			n, err := r.readUint32()
			if err != nil {
				return nil, err
			}
			v, err := r.readText(n, r.lim.MaxValueLen, ErrValueTooLong)
			if err != nil {
				return nil, fmt.Errorf("field %q: %d bytes: %w", f.Tag, n, err)
			}
			if n == 0 {
				// libpurple drops string fields of length 0
				r.fields--
				continue
			}
			f.Value = v
		default:
			if f.Number, err = r.readUint32(); err != nil {
				return nil, err
			}
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return nil, nil
	}
	return fs, nil
}

func (r *Reader) readEvent(t EventType) (*Event, error) {
	p := t.payload()
	if p == 0 {
		return nil, &UnknownEventError{Type: t}
	}
	e := &Event{Type: t}
	var err error
	if e.Source, err = r.readLPSTR("source", r.lim.MaxEventString); err != nil {
		return nil, err
	}
	switch p {
	case payloadNone:
		return e, nil
	case payloadStatus:
		if err := r.consume(2); err != nil {
			return nil, err
		}
		if err := r.readFull(r.small[:2]); err != nil {
			return nil, err
		}
		e.Status = Status(binary.LittleEndian.Uint16(r.small[:2]))
		if e.Text, err = r.readLPSTR("status text", r.lim.MaxEventString); err != nil {
			return nil, err
		}
		return e, nil
	}
	if e.GUID, err = r.readLPSTR("guid", r.lim.MaxGUIDLen); err != nil {
		return nil, err
	}
	if p == payloadGUIDFlags || p == payloadGUIDFlagsText {
		if e.Flags, err = r.readUint32(); err != nil {
			return nil, err
		}
	}
	if p == payloadGUIDFlagsText || p == payloadGUIDText {
		if e.Text, err = r.readLPSTR("message", r.lim.MaxEventString); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// readLPSTR reads uint32 length + bytes and drops one trailing NUL.
func (r *Reader) readLPSTR(what string, max int) (string, error) {
	n, err := r.readUint32()
	if err != nil {
		return "", err
	}
	v, err := r.readText(n, max, ErrValueTooLong)
	if err != nil {
		return "", fmt.Errorf("gwproto: event %s: %d bytes: %w", what, n, err)
	}
	return v, nil
}
