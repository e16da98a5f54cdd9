package main

import (
	"flag"
	"fmt"
	"strings"
)

// onOff is a flag that is either unset, on or off.
type onOff struct {
	set, on bool
}

func (o *onOff) String() string {
	switch {
	case !o.set:
		return ""
	case o.on:
		return "on"
	}
	return "off"
}

func (o *onOff) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		o.set, o.on = true, true
	case "off", "false", "no", "0":
		o.set, o.on = true, false
	default:
		return fmt.Errorf("%q: want on or off", s)
	}
	return nil
}

// optString is a string flag that remembers whether it was given.
type optString struct {
	set bool
	val string
}

func (o *optString) String() string { return o.val }

func (o *optString) Set(s string) error {
	o.set, o.val = true, s
	return nil
}

// sizeFlag is a byte count flag read by parseSize.
type sizeFlag struct {
	set bool
	n   int64
}

func (f *sizeFlag) String() string {
	if !f.set {
		return ""
	}
	return formatSize(f.n)
}

func (f *sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	f.set, f.n = true, n
	return nil
}

// parseInterspersed parses fs over args with flags and positional
// arguments in any order ("user add alice -backend groupwise") and returns
// the positional ones. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
