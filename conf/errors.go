package conf

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ErrInvalid is matched (errors.Is) by every *Error.
var ErrInvalid = errors.New("conf: invalid configuration")

// Error reports every problem found in a configuration, one per line, each
// prefixed with file:line,column of the attribute or block at fault, e.g.
//
//	conf: parley.hcl:12,17-22: Invalid sessions.detach_ttl; "30x" is not a duration ...
type Error struct {
	// Diagnostics are the problems, in the order found.
	Diagnostics hcl.Diagnostics
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("conf: ")
	for i, diag := range e.Diagnostics {
		if i > 0 {
			b.WriteByte('\n')
		}
		if diag.Subject != nil {
			b.WriteString(position(*diag.Subject))
			b.WriteString(": ")
		}
		b.WriteString(diag.Summary)
		if diag.Detail != "" {
			b.WriteString("; ")
			b.WriteString(diag.Detail)
		}
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// position formats a range as file:line,col-col, or just the name for a
// position outside any file (a command-line flag).
func position(r hcl.Range) string {
	if r.Start.Line == 0 {
		return r.Filename
	}
	return r.String()
}

// sortByPosition orders diagnostics by file (in order of first appearance),
// then line and column, so that an admin can fix them top to bottom.
func sortByPosition(diags hcl.Diagnostics) {
	fileOrder := make(map[string]int)
	key := func(d *hcl.Diagnostic) (int, int) {
		if d.Subject == nil {
			return len(fileOrder) + 1, 0
		}
		return fileOrder[d.Subject.Filename], d.Subject.Start.Byte
	}
	for _, d := range diags {
		if d.Subject != nil {
			if _, ok := fileOrder[d.Subject.Filename]; !ok {
				fileOrder[d.Subject.Filename] = len(fileOrder)
			}
		}
	}
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		fa, pa := key(a)
		fb, pb := key(b)
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(pa, pb))
	})
}
