package stproto

import (
	"errors"
	"fmt"
	"io"
	"math/big"
)

// DHPublicSize is the length the server's HANDSHAKE_ACK key must have for
// the client to choose RC2/128 (the prime's size in bytes).
const DHPublicSize = 64

// DHPrime is meanwhile's 512-bit Diffie-Hellman prime (spec §3.3).
var DHPrime = mustHex("CF84AFCE86DDFA527F136D10357528EEFBA0AFEF808F29174E3B6A9E97000171" +
	"7C8F106C41C161A6CE91057B34DA62CBB87BFDC1B35C1B910FEA72249D566B9F")

// DHGenerator is the Diffie-Hellman generator.
var DHGenerator = big.NewInt(3)

// ErrPublicKey means a peer's DH public value is out of range.
var ErrPublicKey = errors.New("stproto: invalid Diffie-Hellman public value")

func mustHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("stproto: bad constant " + s)
	}
	return n
}

// DHKey is a Diffie-Hellman key pair over DHPrime.
type DHKey struct {
	private *big.Int
	public  *big.Int
}

// GenerateDHKey makes a key pair with a 512-bit private value from rand.
func GenerateDHKey(rand io.Reader) (*DHKey, error) {
	buf := make([]byte, DHPublicSize)
	two := big.NewInt(2)
	limit := new(big.Int).Sub(DHPrime, two)
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("stproto: DH private value: %w", err)
		}
		x := new(big.Int).SetBytes(buf)
		if x.Cmp(two) >= 0 && x.Cmp(limit) <= 0 {
			return NewDHKey(buf)
		}
	}
}

// NewDHKey makes a key pair from a given private value (big-endian). It is
// meant for test vectors; use GenerateDHKey otherwise.
func NewDHKey(private []byte) (*DHKey, error) {
	x := new(big.Int).SetBytes(private)
	if x.Sign() == 0 {
		return nil, fmt.Errorf("stproto: zero DH private value: %w", ErrMalformed)
	}
	return &DHKey{private: x, public: new(big.Int).Exp(DHGenerator, x, DHPrime)}, nil
}

// Public returns the public value, minimal big-endian (as meanwhile
// writes it in LOGIN and channel offers).
func (k *DHKey) Public() []byte { return k.public.Bytes() }

// PublicPadded returns the public value left-padded to DHPublicSize bytes,
// as the HANDSHAKE_ACK needs it.
func (k *DHKey) PublicPadded() []byte { return k.public.FillBytes(make([]byte, DHPublicSize)) }

// SharedKey computes s = peer^private mod p and returns the 16-byte RC2
// key: s mod 2^128 as big-endian bytes, i.e. the last 16 bytes of the
// minimal encoding.
func (k *DHKey) SharedKey(peerPublic []byte) ([]byte, error) {
	y := new(big.Int).SetBytes(peerPublic)
	pm1 := new(big.Int).Sub(DHPrime, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pm1) >= 0 {
		return nil, ErrPublicKey
	}
	s := new(big.Int).Exp(y, k.private, DHPrime).Bytes()
	key := make([]byte, 16)
	if len(s) >= 16 {
		copy(key, s[len(s)-16:])
	} else {
		copy(key[16-len(s):], s)
	}
	return key, nil
}
