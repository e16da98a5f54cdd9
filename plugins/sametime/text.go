package sametime

import (
	"encoding/base64"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"

	"github.com/parleygw/parley/plugins/sametime/stclient"
)

// maxMIMEDepth bounds the nesting of multipart bodies followed.
const maxMIMEDepth = 4

// plainText turns an incoming instant message into the plain text devices
// show. libpurple sends HTML with non-ASCII characters as &#NNNN; entities
// and newlines as <br>, and MIME (multipart/related with an HTML part) when
// the message holds images.
func plainText(m stclient.MessageEvent) string {
	switch m.Format {
	case stclient.FormatHTML:
		return htmlToText(m.Text)
	case stclient.FormatMIME:
		return mimeToText(m.Text)
	}
	return m.Text
}

// htmlToText drops the markup of an HTML fragment, turns line breaks into
// newlines and decodes character references. A '<' that does not start a
// tag (as in "<3") is kept as text. It runs in time linear in len(s).
func htmlToText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		name, isTag := tagName(s)
		if !isTag {
			b.WriteByte('<')
			s = s[1:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 { // no tag can end: the rest is text
			b.WriteString(s)
			break
		}
		s = s[end+1:]
		switch name {
		case "br", "/p", "/div", "/li":
			b.WriteByte('\n')
		case "img":
			b.WriteString("[image]")
		}
	}
	return html.UnescapeString(b.String())
}

// tagName returns the lower-case name of the tag s starts with ("br",
// "/p"), and whether s starts a tag or a comment at all.
func tagName(s string) (string, bool) {
	rest := s[1:]
	closing := strings.HasPrefix(rest, "/")
	if closing {
		rest = rest[1:]
	}
	if strings.HasPrefix(rest, "!") && !closing {
		return "!", true
	}
	n := 0
	for n < len(rest) && isASCIILetterOrDigit(rest[n]) && (n > 0 || !isDigit(rest[n])) {
		n++
	}
	if n == 0 {
		return "", false
	}
	name := strings.ToLower(rest[:n])
	if closing {
		name = "/" + name
	}
	return name, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isASCIILetterOrDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// mimeToText returns the text of a MIME message: its first text/html part
// as plain text, or else its first text/plain part. A document that is not
// valid MIME is read as HTML.
func mimeToText(doc string) string {
	msg, err := mail.ReadMessage(strings.NewReader(doc))
	if err != nil {
		return htmlToText(doc)
	}
	if text, ok := partText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); ok {
		return text
	}
	return htmlToText(doc)
}

// partText extracts the text of one MIME entity, descending into
// multipart bodies; the html part wins over a plain one.
func partText(contentType, encoding string, body io.Reader, depth int) (string, bool) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth >= maxMIMEDepth || params["boundary"] == "" {
			return "", false
		}
		mr := multipart.NewReader(body, params["boundary"])
		var plain string
		found := false
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			text, ok := partText(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if !ok {
				continue
			}
			if isHTML(p.Header.Get("Content-Type")) {
				return text, true
			}
			if !found {
				plain, found = text, true
			}
		}
		return plain, found
	case mediaType == "text/html":
		b, err := io.ReadAll(body)
		if err != nil {
			return "", false
		}
		return htmlToText(string(b)), true
	case mediaType == "text/plain":
		b, err := io.ReadAll(body)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	return "", false
}

func isHTML(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "text/html"
}
