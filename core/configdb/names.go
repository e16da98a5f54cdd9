package configdb

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	groupNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	backendNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

const maxNameBytes = 256

// normLogin returns the canonical (lower-case) form of a gateway login.
func normLogin(login string) (string, error) {
	if err := checkText("login", login, maxNameBytes, true); err != nil {
		return "", err
	}
	return strings.ToLower(login), nil
}

func normGroup(name string) (string, error) {
	g := strings.ToLower(name)
	if !groupNameRE.MatchString(g) {
		return "", fmt.Errorf("%w: group name %q: 1 to 63 letters, digits, '.', '-' or '_', starting with a letter or digit", ErrInvalid, name)
	}
	return g, nil
}

func checkBackend(name string) error {
	if !backendNameRE.MatchString(name) {
		return fmt.Errorf("%w: backend name %q: 1 to 63 lower-case letters, digits, '-' or '_'", ErrInvalid, name)
	}
	return nil
}

// checkText accepts valid UTF-8 of at most max bytes without control
// characters or surrounding spaces; required rejects "".
func checkText(what, s string, max int, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	case len(s) > max:
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, what, max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%w: %s %q has leading or trailing spaces", ErrInvalid, what, s)
	case strings.ContainsFunc(s, unicode.IsControl):
		return fmt.Errorf("%w: %s %q contains control characters", ErrInvalid, what, s)
	}
	return nil
}
