package gwproto

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Response is a server→client response (spec §1.4, §2.5): an HTTP-like
// status line, header lines and a binary field list.
type Response struct {
	// Status is the 3-digit status code. Zero encodes as 200. libpurple
	// ignores every code except 301 (redirect, after which it reads no
	// body); servers answer 200 and report errors in the result code.
	Status int
	// Fields are the response's top-level fields in wire order, including
	// NM_A_SZ_RESULT_CODE and NM_A_SZ_TRANSACTION_ID.
	Fields Fields
}

// StatusRedirect is the status code libpurple treats as a server redirect.
const StatusRedirect = 301

// ResultFields returns NM_A_SZ_RESULT_CODE (code) and NM_A_SZ_TRANSACTION_ID
// (tid), both type UTF8 as libpurple requires, in that order.
func ResultFields(code uint32, tid string) Fields {
	return Fields{
		NewString(TagSzResultCode, strconv.FormatUint(uint64(code), 10)),
		NewString(TagSzTransactionID, tid),
	}
}

// TID returns the transaction id, or "" if the response carries none as a
// string.
func (r *Response) TID() string {
	tid, _ := r.Fields.String(TagSzTransactionID)
	return tid
}

// ResultCode returns the numeric NM_A_SZ_RESULT_CODE. A missing (or
// non-string) result code gives ErrMissingResultCode.
func (r *Response) ResultCode() (uint32, error) {
	s, ok := r.Fields.String(TagSzResultCode)
	if !ok {
		return 0, ErrMissingResultCode
	}
	return ParseResultCode(s)
}

// Err returns nil for result code 0, a *ResultError for any other code, or
// the error of ResultCode.
func (r *Response) Err() error {
	code, err := r.ResultCode()
	if err != nil {
		return err
	}
	if code != CodeSuccess {
		return &ResultError{Code: code}
	}
	return nil
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 301:
		return "Moved Permanently"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	}
	return "Status"
}

// AppendTo appends the response's wire form to dst: status line, an empty
// header block, the binary fields and the terminating 0x00. Tags longer
// than 63 bytes, string values of 32767 bytes or more and fields of type 0
// are refused, because libpurple would drop the connection.
func (r *Response) AppendTo(dst []byte) ([]byte, error) {
	status := r.Status
	if status == 0 {
		status = 200
	}
	if status < 100 || status > 999 {
		return dst, fmt.Errorf("gwproto: status %d: %w", status, ErrBadStatusLine)
	}
	dst = append(dst, "HTTP/1.0 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(status)...)
	dst = append(dst, "\r\n\r\n"...)
	dst, err := appendBinaryFields(dst, r.Fields)
	if err != nil {
		return dst, err
	}
	return append(dst, 0), nil
}

func appendBinaryFields(dst []byte, fs Fields) ([]byte, error) {
	for i := range fs {
		f := &fs[i]
		if f.Tag == "" {
			return dst, fmt.Errorf("gwproto: empty tag: %w", ErrBadTag)
		}
		if len(f.Tag) > DefaultLimits.MaxTagLen-1 {
			return dst, fmt.Errorf("gwproto: tag %.20q…: %w", f.Tag, ErrTagTooLong)
		}
		for j := 0; j < len(f.Tag); j++ {
			if f.Tag[j] == 0 {
				return dst, fmt.Errorf("gwproto: tag %q: %w", f.Tag, ErrBadTag)
			}
		}
		if f.Type == TypeInvalid {
			return dst, fmt.Errorf("gwproto: field %q: %w", f.Tag, ErrBadType)
		}
		dst = append(dst, byte(f.Type), byte(f.Method))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f.Tag)+1))
		dst = append(dst, f.Tag...)
		dst = append(dst, 0)
		switch {
		case f.Type.IsList():
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f.Children)))
			var err error
			if dst, err = appendBinaryFields(dst, f.Children); err != nil {
				return dst, err
			}
		case f.Type.IsString():
			if len(f.Value)+1 > DefaultLimits.MaxValueLen {
				return dst, fmt.Errorf("gwproto: field %q: %d bytes: %w", f.Tag, len(f.Value), ErrValueTooLong)
			}
			dst = appendLPSTR(dst, f.Value)
		default:
			dst = binary.LittleEndian.AppendUint32(dst, f.Number)
		}
	}
	return dst, nil
}

// appendLPSTR appends uint32 length (counting a trailing NUL), the bytes and
// the NUL.
func appendLPSTR(dst []byte, s string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)+1))
	dst = append(dst, s...)
	return append(dst, 0)
}
