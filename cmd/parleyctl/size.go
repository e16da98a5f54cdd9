package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// errBadSize is returned by parseSize for anything that is not a size.
var errBadSize = errors.New("not a size")

// sizeUnits are the suffixes parseSize accepts, longest first. K, M and G
// are powers of 1024, as GroupWise and Sametime administrators count.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// parseSize reads a byte count: a whole number with an optional unit
// (B, K/KB/KiB, M/MB/MiB, G/GB/GiB; case ignored), e.g. "10MB", "512KB",
// "1048576". 0 means no limit.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	if t == "" || strings.ContainsAny(t, "+-") {
		return 0, fmt.Errorf("%w: %q (want e.g. 10MB, 512KB or a byte count)", errBadSize, s)
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q (want e.g. 10MB, 512KB or a byte count)", errBadSize, s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w: %q is too large", errBadSize, s)
	}
	return n * mult, nil
}

// formatSize writes a byte count the way parseSize reads it, in the
// largest unit that divides it.
func formatSize(n int64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KB"
	}
	return strconv.FormatInt(n, 10)
}
