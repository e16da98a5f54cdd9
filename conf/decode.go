package conf

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// decoder collects diagnostics while layers of configuration are applied to
// one Config, and remembers where each setting was last assigned so that a
// problem found later (one setting against another) can point at the line
// that caused it.
type decoder struct {
	diags hcl.Diagnostics
	set   map[string]hcl.Range // dotted attribute path -> value range
}

func newDecoder() *decoder {
	return &decoder{set: make(map[string]hcl.Range)}
}

// errorf records an error at rng.
func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// invalid records that the value of the attribute at path is unacceptable.
func (d *decoder) invalid(path string, rng hcl.Range, err error) {
	d.errorf(rng, "Invalid "+path, "%s", err)
}

// rangeOf returns where the first of paths that was set was assigned,
// preferring paths set by a file over those set only by the defaults.
func (d *decoder) rangeOf(paths ...string) hcl.Range {
	for _, p := range paths {
		if r, ok := d.set[p]; ok && r.Filename != defaultFilename {
			return r
		}
	}
	for _, p := range paths {
		if r, ok := d.set[p]; ok {
			return r
		}
	}
	return hcl.Range{Filename: defaultFilename}
}

// value evaluates e as a constant of type ty. It reports false when the
// attribute is absent (null) or its value is unusable; the latter is
// recorded as a diagnostic.
func (d *decoder) value(path string, e hcl.Expression, ty cty.Type) (cty.Value, bool) {
	v, diags := e.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.errorf(e.Range(), "Invalid "+path, "the value must be a constant")
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errorf(e.Range(), "Invalid "+path, "%s", err)
		return cty.NilVal, false
	}
	if cv.IsNull() {
		return cty.NilVal, false
	}
	d.set[path] = e.Range()
	return cv, true
}

// str assigns a string attribute; check, when not nil, validates it.
func (d *decoder) str(path string, e hcl.Expression, dst *string, check func(string) error) {
	v, ok := d.value(path, e, cty.String)
	if !ok {
		return
	}
	s := v.AsString()
	if check != nil {
		if err := check(s); err != nil {
			d.invalid(path, e.Range(), err)
			return
		}
	}
	*dst = s
}

// boolean assigns a bool attribute.
func (d *decoder) boolean(path string, e hcl.Expression, dst *bool) {
	if v, ok := d.value(path, e, cty.Bool); ok {
		*dst = v.True()
	}
}

// integer assigns a whole-number attribute within [lo, hi].
func integer[T int | int64](d *decoder, path string, e hcl.Expression, dst *T, lo, hi int64) {
	v, ok := d.value(path, e, cty.Number)
	if !ok {
		return
	}
	var n int64
	if err := gocty.FromCtyValue(v, &n); err != nil {
		d.errorf(e.Range(), "Invalid "+path, "a whole number is required")
		return
	}
	if n < lo || n > hi {
		d.errorf(e.Range(), "Invalid "+path, "%d is out of range: it must be from %d to %d", n, lo, hi)
		return
	}
	*dst = T(n)
}

// duration assigns a duration attribute written as a Go duration string
// ("90s", "30m", "1h30m") within [lo, hi].
func (d *decoder) duration(path string, e hcl.Expression, dst *time.Duration, lo, hi time.Duration) {
	v, ok := d.value(path, e, cty.String)
	if !ok {
		return
	}
	dur, err := parseDuration(v.AsString())
	if err != nil {
		d.invalid(path, e.Range(), err)
		return
	}
	if dur < lo || dur > hi {
		d.errorf(e.Range(), "Invalid "+path, "%s is out of range: it must be from %s to %s", dur, lo, hi)
		return
	}
	*dst = dur
}

// stringList assigns a list-of-strings attribute, each element normalised by
// norm.
func (d *decoder) stringList(path string, e hcl.Expression, dst *[]string, norm func(string) (string, error)) {
	v, ok := d.value(path, e, cty.List(cty.String))
	if !ok {
		return
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			d.errorf(e.Range(), "Invalid "+path, "the list must not contain null")
			return
		}
		s, err := norm(ev.AsString())
		if err != nil {
			d.invalid(path, e.Range(), err)
			return
		}
		out = append(out, s)
	}
	*dst = out
}

// parseDuration parses a Go duration string. Unlike time.ParseDuration it
// rejects negative values and explains the expected form.
func parseDuration(s string) (time.Duration, error) {
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (examples: \"90s\", \"30m\", \"1h30m\")", s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return dur, nil
}
