package sametime

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleygw/parley/internal/captures"
	"github.com/parleygw/parley/plugins/sametime/stclient"
)

// htmlVectors are HTML messages as libpurple sends them (spec §5.1.4: the
// observed "second <b>bold</b> message", non-ASCII as &#NNNN;, newlines as
// <br>) and the text a device should get.
var htmlVectors = []struct{ in, want string }{
	{"second <b>bold</b> message", "second bold message"},
	{"gr&#252;&#223;e &#26085;&#26412;", "grüße 日本"},
	{"line one<br>line two<BR/>three", "line one\nline two\nthree"},
	{`<font color="#ff0000" size="3">red</font> text`, "red text"},
	{"&lt;b&gt; is a tag &amp; &quot;x&quot;", `<b> is a tag & "x"`},
	{"I <3 you, 1 < 2", "I <3 you, 1 < 2"},
	{"unclosed <b", "unclosed <b"},
	{"<!-- a comment -->visible", "visible"},
	{`look <img src="cid:abc" alt="smile"> here`, "look [image] here"},
	{"<p>para one</p><p>para two</p>", "para one\npara two\n"},
	{"", ""},
}

func TestHTMLToText(t *testing.T) {
	for _, v := range htmlVectors {
		if got := htmlToText(v.in); got != v.want {
			t.Errorf("htmlToText(%q) = %q, want %q", v.in, got, v.want)
		}
	}
}

// purpleMIME is a message with an inline image as libpurple's
// im_mime_convert builds it: multipart/related, the image in base64, the
// HTML part last.
const purpleMIME = "Mime-Version: 1.0\r\n" +
	"Content-Disposition: inline\r\n" +
	"Content-Type: multipart/related; boundary=related_MW1a2_3b4c\r\n" +
	"\r\n" +
	"--related_MW1a2_3b4c\r\n" +
	"Content-Type: image/png; name=\"smile.png\"\r\n" +
	"Content-Disposition: attachment; filename=\"smile.png\"\r\n" +
	"Content-ID: <0x1a2b@meanwhile>\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\r\n+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n" +
	"--related_MW1a2_3b4c\r\n" +
	"Content-Type: text/html\r\n" +
	"Content-Disposition: inline\r\n" +
	"Content-Transfer-Encoding: 7bit\r\n" +
	"\r\n" +
	"caf&#233; <img src=\"cid:0x1a2b@meanwhile\"><br>bye\r\n" +
	"--related_MW1a2_3b4c--\r\n"

func TestMIMEToText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"libpurple inline image", purpleMIME, "café [image]\nbye"},
		{"quoted-printable plain", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak =C3=BC\r\n",
			"softbreak ü\r\n"},
		{"base64 html", "Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n", "hi"},
		{"alternative prefers html", "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<i>rich</i>\r\n--b--\r\n", "rich"},
		{"not MIME at all", "just <b>html</b>", "just html"},
		{"multipart without boundary", "Content-Type: multipart/related\r\n\r\n<b>x</b>", "Content-Type: multipart/related\r\n\r\nx"},
	} {
		if got := mimeToText(tc.in); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPlainTextKeepsTextMessages(t *testing.T) {
	m := stclient.MessageEvent{Format: stclient.FormatText, Text: "1 < 2 &amp; <b>literal</b>"}
	if got := plainText(m); got != m.Text {
		t.Errorf("plain text changed to %q", got)
	}
}

func TestMIMEDepthIsBounded(t *testing.T) {
	nest := func(levels int) string {
		doc := "Content-Type: text/html\r\n\r\n<b>deep</b>\r\n"
		for i := range levels {
			b := "b" + strings.Repeat("x", i)
			doc = "Content-Type: multipart/mixed; boundary=" + b + "\r\n\r\n--" + b + "\r\n" + doc + "--" + b + "--\r\n"
		}
		return doc
	}
	if got := mimeToText(nest(maxMIMEDepth)); got != "deep" {
		t.Errorf("%d levels: got %q, want deep", maxMIMEDepth, got)
	}
	// Deeper nesting is not followed: the document is read as HTML.
	deep := nest(maxMIMEDepth + 1)
	if got := mimeToText(deep); got != htmlToText(deep) {
		t.Errorf("%d levels were followed: %q", maxMIMEDepth+1, got)
	}
}

// FuzzMessageText feeds peer-controlled message text to the HTML and MIME
// converters: they must not panic and must keep valid UTF-8 valid.
func FuzzMessageText(f *testing.F) {
	for _, v := range htmlVectors {
		f.Add(v.in)
	}
	f.Add(purpleMIME)
	files, err := captures.Read("sametime-*")
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range files {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := htmlToText(s)
		m := mimeToText(s)
		if utf8.ValidString(s) && (!utf8.ValidString(h) || !utf8.ValidString(m)) {
			t.Fatalf("valid UTF-8 became invalid: %q → %q / %q", s, h, m)
		}
	})
}

func BenchmarkHTMLToText(b *testing.B) {
	msg := strings.Repeat(`Hello <b>there</b>, caf&#233; &amp; gr&#252;&#223;e<br><font color="#0000ff">blue</font> `, 20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		htmlToText(msg)
	}
}

func BenchmarkMIMEToText(b *testing.B) {
	b.SetBytes(int64(len(purpleMIME)))
	b.ReportAllocs()
	for b.Loop() {
		mimeToText(purpleMIME)
	}
}

// TestHTMLToTextIsLinear: many '<' without a closing '>' (or with one far
// away) must not make the conversion quadratic. 1 MiB takes milliseconds
// when linear and minutes when quadratic.
func TestHTMLToTextIsLinear(t *testing.T) {
	for _, s := range []string{strings.Repeat("<a", 1<<19), strings.Repeat("<3", 1<<19) + ">"} {
		start := time.Now()
		htmlToText(s)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q…: %v for %d bytes", s[:8], d, len(s))
		}
	}
}
