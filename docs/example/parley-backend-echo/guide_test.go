package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// guidePath is docs/writing-a-plugin.md, relative to this package.
var guidePath = filepath.Join("..", "..", "writing-a-plugin.md")

// TestGuideShowsThisCode checks that the guide's code blocks, put together,
// are exactly this plugin's files, so a vendor who follows the guide builds
// the plugin these tests check. A block that belongs to a file is fenced as
// ```go <file name>; the blocks of one file are joined with a blank line.
func TestGuideShowsThisCode(t *testing.T) {
	guide, err := os.ReadFile(guidePath)
	if os.IsNotExist(err) {
		t.Skip("not in the Parley source tree: no guide to compare with")
	}
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeBlocks(guide)
	for _, name := range []string{"main.go", "echo_test.go"} {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(blocks[name], "\n")
		if got != string(want) {
			t.Errorf("the guide's %s blocks differ from %s at line %d", name, name, firstDifference(got, string(want)))
		}
	}
}

// codeBlocks returns the contents of the ```go <file> blocks of a Markdown
// document, by file name, in order.
func codeBlocks(doc []byte) map[string][]string {
	blocks := map[string][]string{}
	var file string
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case file == "" && strings.HasPrefix(line, "```go "):
			file = strings.TrimSpace(strings.TrimPrefix(line, "```go "))
			body.Reset()
		case file != "" && line == "```":
			blocks[file] = append(blocks[file], body.String())
			file = ""
		case file != "":
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	return blocks
}

func firstDifference(a, b string) int {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
