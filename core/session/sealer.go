package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
)

// Sealer protects cached IM passwords: AES-256-GCM with a key from the
// gateway's key file, bound to the session id.
type Sealer struct{ aead cipher.AEAD }

// LoadSealer reads a 32-byte key from path, creating the file (0600) with
// a random key if it does not exist.
func LoadSealer(path string) (*Sealer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("session: writing credential key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("session: reading credential key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("session: credential key %s must be 32 bytes, not %d", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session: credential key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("session: credential key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts a password for the session.
func (s *Sealer) Seal(sessionID, password string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(password)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(password), []byte(sessionID))
}

// Open decrypts a sealed password of the session.
func (s *Sealer) Open(sessionID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("session: sealed credential too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(sessionID))
	if err != nil {
		return "", fmt.Errorf("session: sealed credential: %w", err)
	}
	return string(plain), nil
}
