package filexfer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes bounds a file name.
const maxNameBytes = 255

// cleanName returns the last element of a file name a device offers (either
// kind of path separator), or an error for a name that names nothing.
func cleanName(name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "", name == ".", name == "..":
		return "", fmt.Errorf("%w: a file needs a name", ErrInvalidRequest)
	case len(name) > maxNameBytes:
		return "", fmt.Errorf("%w: file name longer than %d bytes", ErrInvalidRequest, maxNameBytes)
	case !utf8.ValidString(name), strings.ContainsFunc(name, unicode.IsControl):
		return "", fmt.Errorf("%w: file name %q has invalid characters", ErrInvalidRequest, name)
	}
	return name, nil
}

// extension is the lower-case extension of a name without the dot ("jpg"),
// ignoring the trailing dots and spaces some systems drop; "" if none.
func extension(name string) string {
	name = strings.TrimRight(name, ". ")
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return ""
	}
	return strings.ToLower(name[i+1:])
}

// isImageName reports whether the name has the extension of an image the
// gateway can optimise.
func isImageName(name string) bool {
	switch extension(name) {
	case "jpg", "jpeg", "jpe", "png", "gif":
		return true
	}
	return false
}
