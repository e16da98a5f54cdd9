package gwproto

import (
	"errors"
	"strings"
	"testing"
)

const rtfHead = "{\\rtf1\\ansi\n{\\fonttbl{\\f0\\fnil Unknown;}}\n{\\colortbl ;\\red0\\green0\\blue0;}\n\\uc1\\cf1\\f0\\fs24 "

// TestRTFWrapSpec checks the exact outputs listed in spec §7.1.
func TestRTFWrapSpec(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\nb", rtfHead + "a\\par b\\par\n}"},
		{"{x} \\y", rtfHead + "\\{x\\} \\\\y\\par\n}"},
		{"tab\there\r\nend", rtfHead + "tab\there\r\\par end\\par\n}"},
		{"é", rtfHead + "\\u233?\\par\n}"},
		{"€", rtfHead + "\\u8364?\\par\n}"},
		{"😀", rtfHead + "\\u128512?\\par\n}"},
		{"x\xfey", rtfHead + "x\\u63?y\\par\n}"},
		{"", rtfHead + "\\par\n}"},
	}
	for _, tt := range tests {
		if got := RTFWrap(tt.in); got != tt.want {
			t.Errorf("RTFWrap(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestRTFStripSpec checks the conversions verified against libpurple in
// spec §7.2, plus the robustness the spec asks of a Go client (§11).
func TestRTFStripSpec(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"template", rtfHead + "Hello Alice \\u233?t\\u233?\\par\n}", "Hello Alice été"},
		{"fcharset0 and controls", "{\\rtf1\\ansi{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}}\\f0 from carol \\'e9 tab\\tab end\\line L2\\par}",
			"from carol é tab\tend\nL2"},
		{"cyrillic font and astral \\u", "{\\rtf1{\\fonttbl{\\f0 A;}{\\f1\\fcharset204 B;}}\\f1 \\'c0\\'c1 \\f0 x \\u128512? z}", "АБ x 😀 z"},
		{"text after last brace kept", "{\\rtf1{\\fonttbl{\\f0 A;}}\\f0 hello} trailing", "hello trailing"},
		{"no font table", "{\\rtf1 hello}", "hello"},
		{"plain text passes through", "plain text first", "plain text first"},
		{"escaped braces", rtfHead + "\\{x\\} \\\\y\\par\n}", "{x} \\y"},
		{"round trip multi-line", RTFWrap("one\ntwo\n"), "one\ntwo\n"},
		{"negative \\u", "{\\rtf1 \\u-4064?}", "\uf020"},
		{"surrogate pair", "{\\rtf1 \\u-10179?\\u-8704?}", "😀"},
		{"\\uc2 skips two", "{\\rtf1\\uc2 \\u233XYz}", "éz"},
		{"\\uc0 skips none", "{\\rtf1\\uc0 \\u233 z}", "éz"},
		{"fallback \\'hh skipped", "{\\rtf1 \\u233\\'e9z}", "éz"},
		{"skipped destinations", "{\\rtf1{\\info{\\author me}}{\\*\\generator x;}{\\stylesheet{s}}ok}", "ok"},
		{"dblquotes", "{\\rtf1 \\ldblquote q\\rdblquote}", "\"q\""},
		{"bin skipped", "{\\rtf1 a\\bin3 xyzb}", "ab"},
		{"missing close brace", "{\\rtf1 open", "open"},
		{"raw CR LF ignored", "{\\rtf1 a\r\nb}", "ab"},
	}
	for _, tt := range tests {
		got, err := RTFStrip(tt.in)
		if err != nil {
			t.Errorf("%s: RTFStrip(%q): %v", tt.name, tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: RTFStrip(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestRTFStripErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"extra close", "{\\rtf1 a}}", ErrRTFUnbalanced},
		{"too deep", "{\\rtf1 " + strings.Repeat("{", 300), ErrRTFTooDeep},
	}
	for _, tt := range tests {
		if _, err := RTFStrip(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
