package stproto

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// hx turns spec-style hex into bytes. Whitespace, '|', '[' and ']' are
// ignored; a Go-quoted string ("bob", "a\r\n") stands for its raw bytes.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	var digits strings.Builder
	flush := func() {
		if digits.Len() == 0 {
			return
		}
		b, err := hex.DecodeString(digits.String())
		if err != nil {
			t.Fatalf("hx: bad hex %q: %v", digits.String(), err)
		}
		out = append(out, b...)
		digits.Reset()
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			flush()
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				t.Fatalf("hx: unterminated string in %q", s)
			}
			str, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				t.Fatalf("hx: %v", err)
			}
			out = append(out, str...)
			i = j
		case c == ' ' || c == '\n' || c == '\t' || c == '|' || c == '[' || c == ']':
		default:
			digits.WriteByte(c)
		}
	}
	flush()
	return out
}
