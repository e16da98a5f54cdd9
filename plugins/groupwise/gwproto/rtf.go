package gwproto

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// MaxMessageText is how many bytes of plain text libpurple puts into one
// sendmessage (it cuts longer text).
const MaxMessageText = 2048

const (
	rtfPrefix = "{\\rtf1\\ansi\n{\\fonttbl{\\f0\\fnil Unknown;}}\n{\\colortbl ;\\red0\\green0\\blue0;}\n\\uc1\\cf1\\f0\\fs24 "
	rtfSuffix = "\\par\n}"
)

// RTFWrap returns text as the RTF message body libpurple sends (spec §7.1):
// a fixed prefix with a font table, the escaped text and a fixed suffix.
// '{', '}' and '\' are backslash-escaped, LF becomes "\par ", other bytes
// below 0x80 are copied, and each non-ASCII UTF-8 sequence becomes
// "\uN?" with N its unsigned decimal code point (decoded from the lead byte
// without validation, like libpurple; lead bytes 0xFE/0xFF give "\u63?").
func RTFWrap(text string) string {
	var b strings.Builder
	b.Grow(len(rtfPrefix) + rtfBodyLen(text) + len(rtfSuffix))
	b.WriteString(rtfPrefix)
	var num [24]byte
	for i := 0; i < len(text); {
		// copy a run of bytes that need no escaping in one go
		j := i
		for j < len(text) && rtfPlain(text[j]) {
			j++
		}
		b.WriteString(text[i:j])
		if i = j; i == len(text) {
			break
		}
		c := text[i]
		if c < 0x80 {
			if c == '\n' {
				b.WriteString("\\par ")
			} else {
				b.WriteByte('\\')
				b.WriteByte(c)
			}
			i++
			continue
		}
		cp, n := rtfCodePoint(text, i)
		b.Write(append(strconv.AppendUint(append(num[:0], '\\', 'u'), uint64(cp), 10), '?'))
		i += n
	}
	b.WriteString(rtfSuffix)
	return b.String()
}

// rtfPlain reports whether RTFWrap copies c unchanged.
func rtfPlain(c byte) bool {
	return c < 0x80 && c != '{' && c != '}' && c != '\\' && c != '\n'
}

// rtfCodePoint decodes the UTF-8 sequence at text[i] as libpurple does:
// from the lead byte, without validation, missing continuation bytes
// counting as zero; lead bytes 0xFE/0xFF give '?'. n is the sequence's
// length.
func rtfCodePoint(text string, i int) (cp uint32, n int) {
	c := text[i]
	switch {
	case c <= 0xDF:
		n, cp = 2, uint32(c&0x1F)
	case c <= 0xEF:
		n, cp = 3, uint32(c&0x0F)
	case c <= 0xF7:
		n, cp = 4, uint32(c&0x07)
	case c <= 0xFB:
		n, cp = 5, uint32(c&0x03)
	case c <= 0xFD:
		n, cp = 6, uint32(c&0x01)
	default:
		return '?', 1
	}
	for k := 1; k < n; k++ {
		var cont byte
		if i+k < len(text) {
			cont = text[i+k]
		}
		cp = cp<<6 | uint32(cont&0x3F)
	}
	return cp, n
}

// rtfBodyLen is the length of RTFWrap's escaped text for text.
func rtfBodyLen(text string) int {
	n := 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case rtfPlain(c):
			n++
			i++
		case c == '\n':
			n += len("\\par ")
			i++
		case c < 0x80:
			n += 2
			i++
		default:
			cp, k := rtfCodePoint(text, i)
			n += len("\\u?") + decimalLen(cp)
			i += k
		}
	}
	return n
}

func decimalLen(v uint32) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// RTF errors.
var (
	// ErrRTFUnbalanced: a '}' without its '{'.
	ErrRTFUnbalanced = errors.New("gwproto: rtf: unbalanced braces")
	// ErrRTFTooDeep: groups nested deeper than 256 levels.
	ErrRTFTooDeep = errors.New("gwproto: rtf: groups nested too deep")
)

const rtfMaxDepth = 256

// skippedDestination reports whether word starts a group whose text is
// not part of the message.
func skippedDestination(word string) bool {
	switch word {
	case "colortbl", "stylesheet", "info", "pict",
		"header", "headerl", "headerr", "headerf",
		"footer", "footerl", "footerr", "footerf",
		"footnote", "author", "comment", "title",
		"subject", "keywords", "operator", "doccomm",
		"creatim", "revtim", "printim", "buptim",
		"ftncn", "ftnsep", "ftnsepc", "private1",
		"rxe", "tc", "txe", "xe":
		return true
	}
	return false
}

type rtfGroup struct {
	skip      bool // inside a skipped destination
	fontTable bool // inside \fonttbl
	font      int  // selected font number (-1: none)
	uc        int  // fallback characters after \uN
	charset   int  // \fcharset of the font entry being defined
	defFont   int  // number of the font entry being defined
}

// rtfState converts the body of an RTF document to UTF-8 text.
type rtfState struct {
	out      []byte
	pending  []byte // bytes in the current font's code page, not yet decoded
	charsets map[int]int
	stack    []rtfGroup
	highSurr rune // a UTF-16 high surrogate waiting for its low half
}

// RTFStrip converts an RTF message body (event 108) to plain UTF-8 text,
// following libpurple's reader (spec §7.2) but more robustly: text after the
// last brace is kept, a missing font table is tolerated, \ucN is honoured,
// negative \uN values are taken modulo 65536 (surrogate pairs are joined),
// and \'hh bytes are decoded in the code page of the current font's
// \fcharset. \par and \line give LF, \tab TAB, and at every closing brace
// one trailing LF is dropped (this removes the final \par).
//
// Input that does not start with "{\rtf" is not RTF and is returned as is.
// Unbalanced braces or nesting deeper than 256 groups are errors.
func RTFStrip(rtf string) (string, error) {
	if !strings.HasPrefix(strings.TrimLeft(rtf, " \t\r\n"), "{\\rtf") {
		return rtf, nil
	}
	st := &rtfState{out: make([]byte, 0, len(rtf)), stack: make([]rtfGroup, 1, 8)}
	st.stack[0] = rtfGroup{font: -1, uc: 1}
	skipChars := 0 // fallback characters still to skip after \uN
	for i := 0; i < len(rtf); {
		c := rtf[i]
		g := &st.stack[len(st.stack)-1]
		switch c {
		case '{':
			skipChars = 0
			if len(st.stack) > rtfMaxDepth {
				return "", ErrRTFTooDeep
			}
			st.flush()
			ng := *g
			if g.fontTable {
				ng.charset, ng.defFont = 0, -1
			}
			st.stack = append(st.stack, ng)
			i++
			if strings.HasPrefix(rtf[i:], "\\*") {
				// an ignorable destination: none is supported
				st.stack[len(st.stack)-1].skip = true
			}
			continue
		case '}':
			skipChars = 0
			if len(st.stack) == 1 {
				return "", ErrRTFUnbalanced
			}
			st.flush()
			st.stack = st.stack[:len(st.stack)-1]
			if !g.skip && len(st.out) > 0 && st.out[len(st.out)-1] == '\n' {
				st.out = st.out[:len(st.out)-1]
			}
			i++
			continue
		case '\r', '\n':
			i++
			continue
		case '\\':
			word, param, hasParam, next := rtfControl(rtf, i)
			i = next
			if skipChars > 0 && word != "bin" {
				// a control symbol or \'hh stands for one fallback char
				skipChars--
				continue
			}
			skipChars = st.control(g, word, param, hasParam, &i, rtf)
			continue
		}
		i++
		if g.skip {
			continue
		}
		if g.fontTable {
			if c == ';' {
				if g.defFont >= 0 {
					if st.charsets == nil {
						st.charsets = map[int]int{}
					}
					st.charsets[g.defFont] = g.charset
				}
				g.defFont, g.charset = -1, 0
			}
			continue
		}
		if skipChars > 0 {
			skipChars--
			continue
		}
		// the text up to the next brace, backslash or line break
		j := i
		for j < len(rtf) && rtfText(rtf[j]) {
			j++
		}
		if run := rtf[i-1 : j]; len(st.pending) == 0 && st.highSurr == 0 && isASCII(run) {
			// every supported code page maps ASCII to itself
			st.out = append(st.out, run...)
		} else {
			st.pending = append(st.pending, run...)
		}
		i = j
	}
	if len(st.stack) > 1 {
		// missing closing braces: keep what was read
		st.stack = st.stack[:1]
	}
	st.flush()
	return string(st.out), nil
}

// rtfControl scans the control word or symbol at rtf[i] (a backslash). For
// a control symbol word holds the symbol. It returns the index after the
// control (including one delimiting space).
func rtfControl(rtf string, i int) (word string, param int, hasParam bool, next int) {
	j := i + 1
	if j >= len(rtf) {
		return "", 0, false, j
	}
	if !isASCIILetter(rtf[j]) {
		if rtf[j] == '\'' {
			// \'hh
			if j+2 < len(rtf) && isHex(rtf[j+1]) && isHex(rtf[j+2]) {
				return "'", int(unhex(rtf[j+1])<<4 | unhex(rtf[j+2])), true, j + 3
			}
			return "'", 0, false, j + 1
		}
		return rtf[j : j+1], 0, false, j + 1
	}
	k := j
	for k < len(rtf) && k-j < 32 && isASCIILetter(rtf[k]) {
		k++
	}
	word = rtf[j:k]
	p := k
	neg := false
	if p < len(rtf) && rtf[p] == '-' {
		neg = true
		p++
	}
	d := p
	for p < len(rtf) && p-d < 10 && rtf[p] >= '0' && rtf[p] <= '9' {
		param = param*10 + int(rtf[p]-'0')
		p++
	}
	if p > d {
		hasParam = true
		if neg {
			param = -param
		}
		k = p
	}
	if k < len(rtf) && rtf[k] == ' ' {
		k++
	}
	return word, param, hasParam, k
}

// rtfText reports whether c is document text, not a brace, backslash or
// line break.
func rtfText(c byte) bool { return c != '{' && c != '}' && c != '\\' && c != '\r' && c != '\n' }

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// control applies a control word or symbol to the current group g and
// returns how many fallback characters are to be skipped next.
func (st *rtfState) control(g *rtfGroup, word string, param int, hasParam bool, i *int, rtf string) int {
	if word == "bin" {
		// \binN: N bytes of binary data
		if hasParam && param > 0 {
			*i = min(*i+param, len(rtf))
		}
		return 0
	}
	if g.skip {
		return 0
	}
	if skippedDestination(word) {
		st.flush()
		g.skip = true
		return 0
	}
	if g.fontTable {
		switch word {
		case "f":
			g.defFont = param
		case "fcharset":
			g.charset = param
		}
		return 0
	}
	switch word {
	case "fonttbl":
		st.flush()
		g.fontTable, g.defFont, g.charset = true, -1, 0
	case "par", "line":
		st.text("\n")
	case "tab":
		st.text("\t")
	case "ldblquote", "rdblquote":
		st.text("\"")
	case "{", "}", "\\":
		st.pending = append(st.pending, word[0])
	case "'":
		if hasParam {
			st.pending = append(st.pending, byte(param))
		}
	case "f":
		if hasParam && param != g.font {
			st.flush()
			g.font = param
		}
	case "uc":
		if hasParam && param >= 0 {
			g.uc = param
		}
	case "u":
		if hasParam {
			st.unicode(param)
			return g.uc
		}
	}
	return 0
}

// unicode emits the code point of a \uN control word.
func (st *rtfState) unicode(n int) {
	if n < 0 {
		n += 65536
	}
	r := rune(n)
	switch {
	case utf16.IsSurrogate(r) && r < 0xDC00:
		st.flush()
		st.highSurr = r
		return
	case utf16.IsSurrogate(r):
		if st.highSurr != 0 {
			r = utf16.DecodeRune(st.highSurr, r)
			st.highSurr = 0
		}
	}
	st.flush()
	st.out = utf8.AppendRune(st.out, r)
}

// text emits already-decoded text.
func (st *rtfState) text(s string) {
	st.flush()
	st.out = append(st.out, s...)
}

// flush decodes the pending code-page bytes into the output.
func (st *rtfState) flush() {
	if st.highSurr != 0 {
		st.out = utf8.AppendRune(st.out, utf8.RuneError)
		st.highSurr = 0
	}
	if len(st.pending) == 0 {
		return
	}
	if isASCII(st.pending) {
		// every supported code page maps ASCII to itself
		st.out = append(st.out, st.pending...)
		st.pending = st.pending[:0]
		return
	}
	font := st.stack[len(st.stack)-1].font
	dec := charsetEncoding(st.charsets[font]).NewDecoder()
	if out, err := dec.Bytes(st.pending); err == nil {
		st.out = append(st.out, out...)
	} else {
		st.out = append(st.out, st.pending...)
	}
	st.pending = st.pending[:0]
}

// charsetEncoding maps an RTF \fcharset number to its code page, as
// libpurple does; unknown charsets are CP1252.
func charsetEncoding(cs int) encoding.Encoding {
	switch cs {
	case 77:
		return charmap.Macintosh
	case 78, 128:
		return japanese.ShiftJIS
	case 129, 130:
		return korean.EUCKR
	case 134:
		return simplifiedchinese.GBK
	case 136:
		return traditionalchinese.Big5
	case 161:
		return charmap.Windows1253
	case 162:
		return charmap.Windows1254
	case 163:
		return charmap.Windows1258
	case 177, 181:
		return charmap.Windows1255
	case 178, 179, 180:
		return charmap.Windows1256
	case 186:
		return charmap.Windows1257
	case 204:
		return charmap.Windows1251
	case 222:
		return charmap.Windows874
	case 238:
		return charmap.Windows1250
	case 254:
		return charmap.CodePage437
	}
	return charmap.Windows1252
}
