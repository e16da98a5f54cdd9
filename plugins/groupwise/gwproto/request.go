package gwproto

import (
	"fmt"
	"strconv"
)

// Request is a client→server request (spec §1.3, §2.4).
type Request struct {
	// Command is the word after "POST /", e.g. CmdLogin.
	Command string
	// Host is the value of the Host header ("server:port"). libpurple sends
	// it only with login; leave it empty for every other command.
	Host string
	// Fields are the request's fields in wire order, without the
	// transaction id.
	Fields Fields
	// TID is the transaction id, sent as the last top-level field
	// (NM_A_SZ_TRANSACTION_ID, type UTF8). The parser moves it here.
	TID string
}

const hexLower = "0123456789abcdef"

// AppendTo appends the request's exact wire form to dst. Fields of type
// Binary and fields with method Ignore are skipped, as libpurple does; an
// Array/MV announces the number of children actually written.
func (r *Request) AppendTo(dst []byte) ([]byte, error) {
	if !validCommand(r.Command) {
		return dst, fmt.Errorf("gwproto: command %q: %w", r.Command, ErrBadRequestLine)
	}
	dst = append(dst, "POST /"...)
	dst = append(dst, r.Command...)
	dst = append(dst, " HTTP/1.0\r\n"...)
	if r.Host != "" {
		for i := 0; i < len(r.Host); i++ {
			if c := r.Host[i]; c == '\r' || c == '\n' || c == 0 {
				return dst, fmt.Errorf("gwproto: host %q: %w", r.Host, ErrBadHeader)
			}
		}
		dst = append(dst, "Host: "...)
		dst = append(dst, r.Host...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	var err error
	if dst, err = appendTextFields(dst, r.Fields); err != nil {
		return dst, err
	}
	if r.TID != "" {
		tid := NewString(TagSzTransactionID, r.TID)
		if dst, err = appendTextField(dst, &tid); err != nil {
			return dst, err
		}
	}
	return append(dst, "\r\n"...), nil
}

func validCommand(cmd string) bool {
	if cmd == "" || len(cmd) > 64 {
		return false
	}
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func skippedInText(f *Field) bool { return f.Type == TypeBinary || f.Method == MethodIgnore }

func appendTextFields(dst []byte, fs Fields) ([]byte, error) {
	var err error
	for i := range fs {
		if skippedInText(&fs[i]) {
			continue
		}
		if dst, err = appendTextField(dst, &fs[i]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func appendTextField(dst []byte, f *Field) ([]byte, error) {
	if err := checkTextTag(f.Tag); err != nil {
		return dst, err
	}
	if f.Type == TypeInvalid {
		return dst, fmt.Errorf("gwproto: field %q: %w", f.Tag, ErrBadType)
	}
	dst = append(dst, "&tag="...)
	dst = append(dst, f.Tag...)
	dst = append(dst, "&cmd="...)
	dst = append(dst, f.Method.Char())
	dst = append(dst, "&val="...)
	switch {
	case f.Type.IsString():
		dst = AppendEscaped(dst, f.Value)
	case f.Type.IsList():
		n := 0
		for i := range f.Children {
			if !skippedInText(&f.Children[i]) {
				n++
			}
		}
		dst = strconv.AppendUint(dst, uint64(n), 10)
	default:
		dst = strconv.AppendUint(dst, uint64(f.Number), 10)
	}
	dst = append(dst, "&type="...)
	dst = strconv.AppendUint(dst, uint64(f.Type), 10)
	if f.Type.IsList() {
		return appendTextFields(dst, f.Children)
	}
	return dst, nil
}

func checkTextTag(tag string) error {
	if tag == "" {
		return fmt.Errorf("gwproto: empty tag: %w", ErrBadTag)
	}
	if len(tag) > DefaultLimits.MaxTagLen-1 {
		return fmt.Errorf("gwproto: tag %.20q…: %w", tag, ErrTagTooLong)
	}
	for i := 0; i < len(tag); i++ {
		switch tag[i] {
		case '&', '\r', '\n', 0:
			return fmt.Errorf("gwproto: tag %q: %w", tag, ErrBadTag)
		}
	}
	return nil
}

// AppendEscaped appends s percent-encoded the way libpurple encodes request
// values: [0-9A-Za-z] stay, space becomes '+', every other byte becomes '%'
// and two lower-case hex digits.
func AppendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hexLower[c>>4], hexLower[c&0xf])
		}
	}
	return dst
}
