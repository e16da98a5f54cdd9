package gwproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseRequestErrors(t *testing.T) {
	const head = "POST /ping HTTP/1.0\r\n\r\n"
	const tid = "&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=1&type=10"
	nested := func(depth int) string {
		var b strings.Builder
		for i := 0; i < depth; i++ {
			b.WriteString("&tag=A&cmd=0&val=1&type=9")
		}
		b.WriteString("&tag=B&cmd=0&val=x&type=10")
		return b.String()
	}
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
	}{
		{"not POST", "GET /ping HTTP/1.0\r\n\r\n\r\n", Limits{}, ErrBadRequestLine},
		{"no version", "POST /ping\r\n\r\n\r\n", Limits{}, ErrBadRequestLine},
		{"bad command", "POST /pi%ng HTTP/1.0\r\n\r\n\r\n", Limits{}, ErrBadRequestLine},
		{"header without colon", "POST /ping HTTP/1.0\r\nHost\r\n\r\n\r\n", Limits{}, ErrBadHeader},
		{"header too long", "POST /ping HTTP/1.0\r\nX: " + strings.Repeat("a", 100) + "\r\n\r\n\r\n", Limits{MaxHeaderBytes: 64}, ErrHeaderTooLong},
		{"garbage between fields", head + "x" + tid + "\r\n", Limits{}, ErrBadBody},
		{"pieces out of order", head + "&cmd=0&tag=A&val=1&type=10\r\n", Limits{}, ErrBadBody},
		{"piece missing", head + "&tag=A&cmd=0&type=10\r\n", Limits{}, ErrBadBody},
		{"bad escape", head + "&tag=A&cmd=0&val=%zz1&type=10\r\n", Limits{}, ErrBadEscape},
		{"tag too long", head + "&tag=" + strings.Repeat("T", 64) + "&cmd=0&val=1&type=10\r\n", Limits{}, ErrTagTooLong},
		{"empty tag", head + "&tag=&cmd=0&val=1&type=10\r\n", Limits{}, ErrBadTag},
		{"NUL in tag", head + "&tag=A\x00&cmd=0&val=1&type=10\r\n", Limits{}, ErrBadTag},
		{"unknown method", head + "&tag=A&cmd=X&val=1&type=10\r\n", Limits{}, ErrBadMethod},
		{"two-char method", head + "&tag=A&cmd=00&val=1&type=10\r\n", Limits{}, ErrBadMethod},
		{"type 0", head + "&tag=A&cmd=0&val=1&type=0\r\n", Limits{}, ErrBadType},
		{"type not a number", head + "&tag=A&cmd=0&val=1&type=x\r\n", Limits{}, ErrBadType},
		{"type too large", head + "&tag=A&cmd=0&val=1&type=300\r\n", Limits{}, ErrBadType},
		{"number not decimal", head + "&tag=A&cmd=0&val=-5&type=8\r\n", Limits{}, ErrBadNumber},
		{"number over 32 bits", head + "&tag=A&cmd=0&val=4294967296&type=8\r\n", Limits{}, ErrBadNumber},
		{"array count not filled", head + "&tag=A&cmd=0&val=2&type=9&tag=B&cmd=0&val=x&type=10\r\n", Limits{}, ErrBadBody},
		{"array count huge", head + "&tag=A&cmd=0&val=4294967295&type=9\r\n", Limits{}, ErrTooManyFields},
		{"too many fields", head + strings.Repeat(tid, 5) + "\r\n", Limits{MaxFields: 4}, ErrTooManyFields},
		{"nested too deep", head + nested(20) + "\r\n", Limits{}, ErrTooDeep},
		{"value too long", head + "&tag=A&cmd=0&val=" + strings.Repeat("a", 20) + "&type=10\r\n", Limits{MaxValueLen: 10}, ErrValueTooLong},
		{"escaped value too long", head + "&tag=A&cmd=0&val=" + strings.Repeat("%41", 11) + "&type=10\r\n", Limits{MaxValueLen: 10}, ErrValueTooLong},
		{"message too large", head + strings.Repeat(tid, 50) + "\r\n", Limits{MaxMessageBytes: 200}, ErrMessageTooLarge},
		{"CR without LF", head + tid + "\rX", Limits{}, ErrBadBody},
		{"truncated in body", head + "&tag=A&cmd=0&val", Limits{}, io.ErrUnexpectedEOF},
		{"truncated in headers", "POST /ping HTTP/1.0\r\nHost: x", Limits{}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRequestReader(strings.NewReader(tt.in), tt.lim).ReadRequest()
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadRequestEOF(t *testing.T) {
	if _, err := NewRequestReader(strings.NewReader(""), Limits{}).ReadRequest(); err != io.EOF {
		t.Errorf("empty stream: err = %v, want io.EOF", err)
	}
}

// TestParseRequestTruncationQuirk: libpurple cuts long values after 4090
// escaped bytes, possibly inside a %xx triple, and adds one NUL byte.
func TestParseRequestTruncationQuirk(t *testing.T) {
	for _, tail := range []string{"%c\x00", "%\x00", "\x00", "%c", "%"} {
		in := "POST /sendmessage HTTP/1.0\r\n\r\n&tag=NM_A_SZ_MESSAGE_TEXT&cmd=0&val=ab%c3%a9" + tail +
			"&type=10&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=9&type=10\r\n"
		req, err := ParseRequest([]byte(in))
		if err != nil {
			t.Fatalf("tail %q: %v", tail, err)
		}
		if got, _ := req.Fields.String(TagSzMessageText); got != "abé" || req.TID != "9" {
			t.Errorf("tail %q: text %q tid %q, want \"abé\" \"9\"", tail, got, req.TID)
		}
	}
}

// TestParseRequestCaptureOddities covers what real clients do that the
// encoder never produces: upper-case hex escapes and LF-only header lines.
func TestParseRequestLenient(t *testing.T) {
	in := "POST /login HTTP/1.0\nHost: h:1\n\n&tag=NM_A_SZ_USERID&cmd=0&val=%C3%A9+x&type=10\r\n"
	req, err := ParseRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := req.Fields.String(TagSzUserID); got != "é x" || req.Host != "h:1" {
		t.Errorf("user %q host %q", got, req.Host)
	}
}

// binField builds one binary field for hand-made malformed responses.
func binField(typ, method byte, tag string, rest ...byte) []byte {
	b := []byte{typ, method}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tag)+1))
	b = append(b, tag...)
	b = append(b, 0)
	return append(b, rest...)
}

func u32(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

func respOf(parts ...[]byte) []byte {
	b := []byte("HTTP/1.0 200 OK\r\n\r\n")
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestReadMessageErrors(t *testing.T) {
	deep := respOf()
	for i := 0; i < 20; i++ {
		deep = append(deep, binField(9, 0, "A", u32(1)...)...)
	}
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"tag too long", respOf(binField(10, 0, strings.Repeat("T", 64), append(u32(2), '0', 0)...), []byte{0}), Limits{}, ErrTagTooLong},
		{"tag length zero", respOf([]byte{10, 0, 0, 0, 0, 0}), Limits{}, ErrBadTag},
		{"string length huge, no data", respOf(binField(10, 0, "A", u32(0xFFFFFFFF)...)), Limits{}, ErrValueTooLong},
		{"string over limit", respOf(binField(10, 0, "A", u32(40000)...)), Limits{}, ErrValueTooLong},
		{"array count huge", respOf(binField(9, 0, "A", u32(0xFFFFFFFF)...)), Limits{}, ErrTooManyFields},
		{"nested too deep", deep, Limits{}, ErrTooDeep},
		{"too many fields", respOf(bytes.Repeat(binField(8, 0, "N", u32(1)...), 5), []byte{0}), Limits{MaxFields: 4}, ErrTooManyFields},
		{"message too large", respOf(bytes.Repeat(binField(8, 0, "N", u32(1)...), 50), []byte{0}), Limits{MaxMessageBytes: 200}, ErrMessageTooLarge},
		{"no status code", []byte("HTTP/1.0 OK\r\n\r\n\x00"), Limits{}, ErrBadStatusLine},
		{"header block too long", []byte("HTTP/1.0 200 OK\r\nX: " + strings.Repeat("a", 100) + "\r\n\r\n\x00"), Limits{MaxHeaderBytes: 64}, ErrHeaderTooLong},
		{"truncated in fields", respOf(binField(10, 0, "A", u32(5)...)), Limits{}, io.ErrUnexpectedEOF},
		{"truncated before end byte", respOf(binField(8, 0, "N", u32(1)...)), Limits{}, io.ErrUnexpectedEOF},
		{"truncated type word", []byte{0x6c, 0}, Limits{}, io.ErrUnexpectedEOF},
		{"event 110", u32(110), Limits{}, ErrUnknownEvent},
		{"event 116", u32(116), Limits{}, ErrUnknownEvent},
		{"event 122", u32(122), Limits{}, ErrUnknownEvent},
		{"event source huge", append(u32(101), u32(0xFFFFFFF0)...), Limits{}, ErrValueTooLong},
		{"event guid over limit", append(append(u32(112), 2, 0, 0, 0, 'x', 0), u32(2000)...), Limits{}, ErrValueTooLong},
		{"event truncated", append(u32(108), 2, 0, 0, 0, 'x'), Limits{}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.in), tt.lim).ReadMessage()
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestUnknownEventErrorType(t *testing.T) {
	_, err := ParseEvent(u32(120))
	var ue *UnknownEventError
	if !errors.As(err, &ue) || ue.Type != 120 {
		t.Fatalf("err = %v, want *UnknownEventError{120}", err)
	}
}

func TestReaderLenientResponses(t *testing.T) {
	t.Run("extra headers and LF-only line inside the block", func(t *testing.T) {
		in := []byte("HTTP/1.0 200 OK\r\nContent-Type: x\r\n\nX-Foo: y\r\n\r\n")
		in = append(in, ResultFieldsWire(t, 0, "4")...)
		resp, err := ParseResponse(in)
		if err != nil {
			t.Fatal(err)
		}
		if resp.TID() != "4" || resp.Err() != nil {
			t.Errorf("tid %q err %v", resp.TID(), resp.Err())
		}
	})
	t.Run("strings without NUL and empty strings", func(t *testing.T) {
		in := respOf(binField(10, 0, "A", append(u32(2), 'h', 'i')...), binField(10, 0, "B", u32(0)...), []byte{0})
		resp, err := ParseResponse(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Fields) != 1 || resp.Fields[0].Value != "hi" {
			t.Errorf("fields = %+v, want only A=hi (empty string fields are dropped like libpurple)", resp.Fields)
		}
	})
	t.Run("type 0 ends a sub-list early", func(t *testing.T) {
		in := respOf(binField(9, 0, "L", append(u32(3), binField(8, 0, "N", u32(7)...)...)...), []byte{0}, binField(8, 0, "M", u32(1)...), []byte{0})
		resp, err := ParseResponse(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Fields) != 2 || len(resp.Fields[0].Children) != 1 {
			t.Errorf("fields = %+v", resp.Fields)
		}
	})
	t.Run("redirect has no body", func(t *testing.T) {
		in := append([]byte("HTTP/1.0 301 Moved\r\n\r\n"), vecResultResponse...)
		r := NewReader(bytes.NewReader(in), Limits{})
		m, err := r.ReadMessage()
		if err != nil || m.Response == nil || m.Response.Status != 301 || len(m.Response.Fields) != 0 {
			t.Fatalf("first message = %+v, %v", m.Response, err)
		}
		if m, err = r.ReadMessage(); err != nil || m.Response.TID() != "2" {
			t.Fatalf("second message = %+v, %v", m.Response, err)
		}
	})
}

// ResultFieldsWire returns the binary body of a plain result response.
func ResultFieldsWire(t *testing.T, code uint32, tid string) []byte {
	t.Helper()
	b, err := (&Response{Fields: ResultFields(code, tid)}).AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b[bytes.Index(b, []byte("\r\n\r\n"))+4:]
}

func TestResponseResultCode(t *testing.T) {
	tests := []struct {
		name   string
		fields Fields
		want   error
	}{
		{"missing", Fields{NewString(TagSzTransactionID, "1")}, ErrMissingResultCode},
		{"numeric type is not a result code", Fields{NewNumber(TagSzResultCode, TypeUDWord, 0)}, ErrMissingResultCode},
		{"not decimal", Fields{NewString(TagSzResultCode, "oops")}, ErrBadResultCode},
		{"user not found", Fields{NewString(TagSzResultCode, "53517")}, &ResultError{Code: CodeUserNotFound}},
	}
	for _, tt := range tests {
		r := &Response{Fields: tt.fields}
		if err := r.Err(); !errors.Is(err, tt.want) {
			t.Errorf("%s: Err() = %v, want %v", tt.name, err, tt.want)
		}
	}
	var re *ResultError
	if err := (&Response{Fields: ResultFields(CodeUserNotFound, "1")}).Err(); !errors.As(err, &re) || !re.IsUserNotFound() || re.IsWrongPassword() {
		t.Errorf("53517: %v", err)
	}
	if (&ResultError{Code: 0x1234}).Name() != "0x1234" {
		t.Errorf("unknown code name = %q", (&ResultError{Code: 0x1234}).Name())
	}
}

func TestEncodeErrors(t *testing.T) {
	respTests := []struct {
		name string
		f    Field
		want error
	}{
		{"tag too long", NewString(strings.Repeat("T", 64), "x"), ErrTagTooLong},
		{"empty tag", NewString("", "x"), ErrBadTag},
		{"NUL in tag", NewString("A\x00B", "x"), ErrBadTag},
		{"value too long", NewString("A", strings.Repeat("v", 32767)), ErrValueTooLong},
		{"type 0", Field{Tag: "A"}, ErrBadType},
		{"nested error", NewArray("L", NewString("", "x")), ErrBadTag},
	}
	for _, tt := range respTests {
		if _, err := (&Response{Fields: Fields{tt.f}}).AppendTo(nil); !errors.Is(err, tt.want) {
			t.Errorf("response %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := (&Response{Fields: Fields{NewString("A", strings.Repeat("v", 32766))}}).AppendTo(nil); err != nil {
		t.Errorf("longest value libpurple accepts refused: %v", err)
	}
	reqTests := []struct {
		name string
		req  Request
		want error
	}{
		{"ampersand in tag", Request{Command: "ping", Fields: Fields{NewString("A&B", "x")}}, ErrBadTag},
		{"tag too long", Request{Command: "ping", Fields: Fields{NewString(strings.Repeat("T", 64), "x")}}, ErrTagTooLong},
		{"empty command", Request{}, ErrBadRequestLine},
		{"space in command", Request{Command: "a b"}, ErrBadRequestLine},
		{"CR in host", Request{Command: "login", Host: "h\r\nX: y"}, ErrBadHeader},
		{"type 0", Request{Command: "ping", Fields: Fields{{Tag: "A"}}}, ErrBadType},
	}
	for _, tt := range reqTests {
		if _, err := tt.req.AppendTo(nil); !errors.Is(err, tt.want) {
			t.Errorf("request %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	evTests := []struct {
		name string
		ev   Event
		want error
	}{
		{"rename", Event{Type: EventConferenceRename, Source: "a"}, ErrUnknownEvent},
		{"type 122", Event{Type: 122, Source: "a"}, ErrUnknownEvent},
		{"guid too long", Event{Type: EventUserTyping, Source: "a", GUID: strings.Repeat("g", 1000)}, ErrValueTooLong},
		{"message too long", Event{Type: EventReceiveMessage, Source: "a", GUID: "g", Text: strings.Repeat("m", 100000)}, ErrValueTooLong},
		{"status text too long", Event{Type: EventStatusChange, Source: "a", Text: strings.Repeat("m", 10000)}, ErrValueTooLong},
	}
	for _, tt := range evTests {
		if _, err := tt.ev.AppendTo(nil); !errors.Is(err, tt.want) {
			t.Errorf("event %s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestRequestSkipsIgnoredFields: Binary fields and method Ignore are never
// written, and a list announces only the children that are written.
func TestRequestSkipsIgnoredFields(t *testing.T) {
	req := &Request{Command: "x", Fields: Fields{
		NewArray("L", NewString("A", "1"), NewNumber("B", TypeBinary, 5), NewString("C", "2").WithMethod(MethodIgnore)),
		NewString("D", "3").WithMethod(MethodIgnore),
	}}
	got, err := req.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "POST /x HTTP/1.0\r\n\r\n&tag=L&cmd=0&val=1&type=9&tag=A&cmd=0&val=1&type=10\r\n"
	if string(got) != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestMethodChars(t *testing.T) {
	for _, m := range []Method{MethodValid, MethodDelete, MethodDeleteAll, MethodEqual, MethodAdd, MethodUpdate,
		MethodGTE, MethodLTE, MethodNE, MethodExist, MethodNotExist, MethodSearch, MethodMatchBegin,
		MethodMatchEnd, MethodNotArray, MethodOrArray, MethodAndArray} {
		back, ok := MethodFromChar(m.Char())
		if !ok || back != m {
			t.Errorf("method %d: char %q maps back to %d, %v", m, m.Char(), back, ok)
		}
	}
	if MethodAdd.Char() != '1' || MethodUpdate.Char() != 'F' || MethodEqual.Char() != 'G' || Method(99).Char() != '0' {
		t.Error("spec §2.3 examples do not hold")
	}
}
