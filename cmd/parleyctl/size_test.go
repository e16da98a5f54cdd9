package main

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "10MB": 10 << 20, "10mb": 10 << 20, "10 MiB": 10 << 20, "10M": 10 << 20,
		"512KB": 512 << 10, "512k": 512 << 10, "2GB": 2 << 30, "100B": 100, " 7KiB ": 7 << 10,
		"8589934591GB": 8589934591 << 30,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1", "+5", "1.5MB", "10TB", "ten", "10 M B", "8589934592GB", "99999999999999999999"} {
		if n, err := parseSize(in); !errors.Is(err, errBadSize) {
			t.Errorf("parseSize(%q) = %d, %v; want errBadSize", in, n, err)
		}
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 1000: "1000", 1024: "1KB", 10 << 20: "10MB", 3 << 30: "3GB", 1536 << 10: "1536KB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := parseSize(want); err != nil || back != n {
			t.Errorf("parseSize(%q) = %d, %v; want %d", want, back, err, n)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"10MB", "512KB", "1048576", "0", "1GiB", "-1", "9223372036854775807", "8589934592GB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			if !errors.Is(err, errBadSize) {
				t.Fatalf("parseSize(%q): untyped error %v", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		if back, err := parseSize(formatSize(n)); err != nil || back != n {
			t.Fatalf("%q → %d → %q → %d, %v", s, n, formatSize(n), back, err)
		}
	})
}
