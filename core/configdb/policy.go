package configdb

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Policy is a group's file transfer policy, or the gateway's default one.
type Policy struct {
	// Group is the group the policy belongs to; "" marks the gateway's
	// default policy (returned by EffectivePolicy for users without one).
	Group string
	// FileTransfer allows sending and receiving files at all.
	FileTransfer bool
	// MaxFileBytes is the gateway's size limit for one file; 0 means no
	// gateway limit (the IM server's own limit still applies).
	MaxFileBytes int64
	// BlockedExtensions are lower-case extensions without the leading dot
	// ("exe", "tar.gz"); ["*"] blocks every file.
	BlockedExtensions []string
	// OptimizeAllowed lets recipients ask for files optimised for viewing
	// on the device.
	OptimizeAllowed bool
	// UpdatedAt is set by the database; zero for the default policy.
	UpdatedAt time.Time
}

// Blocks reports whether the policy's blocked extensions forbid a file
// name. The name's directory part is ignored, as are trailing dots and
// spaces (which some systems drop, turning "x.exe." into "x.exe").
func (p Policy) Blocks(name string) bool {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToLower(strings.TrimRight(name, ". "))
	for _, ext := range p.BlockedExtensions {
		if ext == "*" || strings.HasSuffix(name, "."+ext) {
			return true
		}
	}
	return false
}

// Check applies the policy to a file offered for transfer: it returns
// ErrTransferDisabled, a *FileTooLargeError, an error wrapping
// ErrFileTypeBlocked, or nil.
func (p Policy) Check(name string, size int64) error {
	if !p.FileTransfer {
		return ErrTransferDisabled
	}
	if p.MaxFileBytes > 0 && size > p.MaxFileBytes {
		return &FileTooLargeError{Size: size, Limit: p.MaxFileBytes}
	}
	if p.Blocks(name) {
		return fmt.Errorf("%w: %q", ErrFileTypeBlocked, name)
	}
	return nil
}

// normalize checks a policy and returns it with its extension list in
// canonical form.
func (p Policy) normalize() (Policy, error) {
	if p.MaxFileBytes < 0 {
		return p, fmt.Errorf("%w: max file size %d is negative", ErrInvalid, p.MaxFileBytes)
	}
	exts := make([]string, 0, len(p.BlockedExtensions))
	for _, e := range p.BlockedExtensions {
		n, err := normExtension(e)
		if err != nil {
			return p, err
		}
		exts = append(exts, n)
	}
	if slices.Contains(exts, "*") {
		exts = []string{"*"}
	}
	slices.Sort(exts)
	p.BlockedExtensions = slices.Compact(exts)
	return p, nil
}

// normExtension lower-cases an extension and drops a leading dot.
func normExtension(s string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "."))
	if ext == "*" {
		return ext, nil
	}
	if ext == "" || len(ext) > 32 || strings.HasSuffix(ext, ".") {
		return "", fmt.Errorf("%w: %q is not a file extension", ErrInvalid, s)
	}
	for _, r := range ext {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-~", r)) {
			return "", fmt.Errorf("%w: %q is not a file extension (letters, digits and . _ + - ~ only)", ErrInvalid, s)
		}
	}
	return ext, nil
}

// joinExtensions and splitExtensions convert the list to and from its
// column form.
func joinExtensions(exts []string) string { return strings.Join(exts, ",") }

func splitExtensions(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}
