package admin

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"unicode"
)

const (
	// tokenBytes is the randomness of a generated token (64 hex digits).
	tokenBytes = 32
	// minTokenLen and maxTokenLen bound a token an admin writes by hand.
	minTokenLen = 16
	maxTokenLen = 1024
)

// EnsureToken returns the token kept in the file at path, creating the file
// (mode 0600, its directory 0700 if missing) with a new random token of 32
// bytes in hex if there is none. An existing file must not be accessible to
// other users and must hold one token of 16 to 1024 printable characters.
func EnsureToken(path string) (string, error) {
	tok, err := ReadToken(path)
	if err == nil {
		info, statErr := os.Stat(path)
		if statErr != nil {
			return "", fmt.Errorf("admin: token file: %w", statErr)
		}
		if info.Mode().Perm()&0o007 != 0 {
			return "", fmt.Errorf("%w: %s has mode %v; chmod 600 it", ErrTokenFileMode, path, info.Mode().Perm())
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("admin: token file: %w", err)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("admin: token: %w", err)
	}
	tok = hex.EncodeToString(raw)
	if err := createExclusive(path, []byte(tok+"\n")); errors.Is(err, fs.ErrExist) {
		return ReadToken(path) // another process made it first
	} else if err != nil {
		return "", err
	}
	return tok, nil
}

// createExclusive writes data to a temporary file beside path and links it
// to path, so that a reader never sees a half-written token and an existing
// file is never replaced (fs.ErrExist).
func createExclusive(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".admin-token-*")
	if err != nil {
		return fmt.Errorf("admin: token file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("admin: token file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("admin: token file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("admin: token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("admin: token file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("admin: token file: %w", err)
	}
	return nil
}

// ReadToken reads the token from a token file: its content without
// surrounding white space. The error matches fs.ErrNotExist when there is
// no file and ErrBadToken when the content is not a usable token.
func ReadToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("admin: token file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenLen+2))
	if err != nil {
		return "", fmt.Errorf("admin: token file %s: %w", path, err)
	}
	tok := string(bytes.TrimSpace(data))
	if err := CheckToken(tok); err != nil {
		return "", fmt.Errorf("%w (in %s)", err, path)
	}
	return tok, nil
}

// CheckToken reports whether tok can be a token: 16 to 1024 printable,
// non-space characters.
func CheckToken(tok string) error {
	if len(tok) < minTokenLen || len(tok) > maxTokenLen {
		return fmt.Errorf("%w: a token has %d to %d characters, this one %d", ErrBadToken, minTokenLen, maxTokenLen, len(tok))
	}
	for _, r := range tok {
		if r > unicode.MaxASCII || !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: a token is printable ASCII without spaces", ErrBadToken)
		}
	}
	return nil
}

// tokenMatches compares a presented token with the expected one in
// constant time (the hashes make the time independent of the lengths too).
func tokenMatches(want, got string) bool {
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(w[:], g[:]) == 1
}
