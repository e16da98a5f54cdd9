package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// table collects rows and prints them aligned.
type table struct {
	c    *cli
	head []string
	rows [][]string
}

func (c *cli) table(head ...string) *table { return &table{c: c, head: head} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// flush prints the table, or empty (if not "") when it has no rows.
func (t *table) flush(empty string) {
	if len(t.rows) == 0 && empty != "" {
		fmt.Fprintln(t.c.stdout, empty)
		return
	}
	w := tabwriter.NewWriter(t.c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		clean := make([]string, len(r))
		for i, s := range r {
			clean[i] = cell(s)
		}
		fmt.Fprintln(w, strings.Join(clean, "\t"))
	}
	w.Flush()
}

// fields prints "name: value" pairs with the values aligned.
func (c *cli) fields(pairs ...string) {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(w, "%s:\t%s\n", pairs[i], cell(pairs[i+1]))
	}
	w.Flush()
}

// cell makes a value safe for one table cell: control characters (a
// plugin's multi-line error, say) and tabs become spaces.
func cell(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func onOffText(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func maxSizeText(n int64) string {
	if n == 0 {
		return "no limit"
	}
	return formatSize(n)
}

func blockedText(exts []string) string {
	switch {
	case len(exts) == 0:
		return "none"
	case len(exts) == 1 && exts[0] == "*":
		return "* (every file)"
	}
	return strings.Join(exts, ",")
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
