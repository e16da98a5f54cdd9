package gwproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Message is one server→client message: exactly one of Response and Event
// is set.
type Message struct {
	Response *Response
	Event    *Event
}

// Reader reads server→client messages (responses and events, in any
// interleaving) from a byte stream, across arbitrary read boundaries.
type Reader struct {
	br     *bufio.Reader
	lim    Limits
	read   int
	fields int
	buf    [4]byte
}

// NewReader returns a reader of server messages from r, bounded by lim (zero
// members take DefaultLimits).
func NewReader(r io.Reader, lim Limits) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4096), lim: lim.withDefaults()}
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
	if _, err := r.br.Peek(1); err != nil {
		return Message{}, err
	}
	var m Message
	var err error
	if _, err = io.ReadFull(r.br, r.buf[:4]); err == nil {
		r.read = 4
		if string(r.buf[:4]) == "HTTP" {
			m.Response, err = r.readResponse()
		} else {
			m.Event, err = r.readEvent(EventType(binary.LittleEndian.Uint32(r.buf[:4])))
		}
	}
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("gwproto: message: %w", io.ErrUnexpectedEOF)
	}
	if err != nil {
		return Message{}, err
	}
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
// header block share MaxHeaderBytes.
func (r *Reader) readLine() ([]byte, error) {
	var line []byte
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		r.read++
		if r.read > r.lim.MaxHeaderBytes {
			return nil, ErrHeaderTooLong
		}
		if c == '\n' {
			return line, nil
		}
		line = append(line, c)
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
	return r.br.ReadByte()
}

func (r *Reader) readUint32() (uint32, error) {
	if err := r.consume(4); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(r.br, r.buf[:4]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(r.buf[:4]), nil
}

// readBytes reads an n-byte string after checking n against max; tooLong is
// the error for n > max.
func (r *Reader) readBytes(n uint32, max int, tooLong error) ([]byte, error) {
	if uint64(n) > uint64(max) {
		return nil, tooLong
	}
	if err := r.consume(int(n)); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, err
	}
	return b, nil
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
		tag, err := r.readBytes(taglen, r.lim.MaxTagLen, ErrTagTooLong)
		if err != nil {
			return nil, err
		}
		f.Tag = string(bytes.TrimSuffix(tag, []byte{0}))
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
			v, err := r.readBytes(n, r.lim.MaxValueLen, ErrValueTooLong)
			if err != nil {
				return nil, fmt.Errorf("field %q: %d bytes: %w", f.Tag, n, err)
			}
			if n == 0 {
				// libpurple drops string fields of length 0
				r.fields--
				continue
			}
			f.Value = string(bytes.TrimSuffix(v, []byte{0}))
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
		if _, err := io.ReadFull(r.br, r.buf[:2]); err != nil {
			return nil, err
		}
		e.Status = Status(binary.LittleEndian.Uint16(r.buf[:2]))
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
	b, err := r.readBytes(n, max, ErrValueTooLong)
	if err != nil {
		return "", fmt.Errorf("gwproto: event %s: %d bytes: %w", what, n, err)
	}
	return string(bytes.TrimSuffix(b, []byte{0})), nil
}
