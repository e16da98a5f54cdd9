package session

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
)

// passwordVerifier lets a second device of a user join the existing
// backend session without a second IM login: its password is checked
// against a salted PBKDF2 hash of the password that opened the session.
// The password itself is never kept.
type passwordVerifier struct {
	salt [16]byte
	hash []byte
}

const verifierIterations = 4096

func newVerifier(password string) passwordVerifier {
	var v passwordVerifier
	rand.Read(v.salt[:])
	v.hash = derive(password, v.salt[:])
	return v
}

func (v passwordVerifier) matches(password string) bool {
	return len(v.hash) > 0 && subtle.ConstantTimeCompare(v.hash, derive(password, v.salt[:])) == 1
}

func derive(password string, salt []byte) []byte {
	key, err := pbkdf2.Key(sha256.New, password, salt, verifierIterations, 32)
	if err != nil { // only for invalid parameters, which are constant here
		panic(err)
	}
	return key
}
