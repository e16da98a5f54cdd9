package stproto

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// The RC2 block cipher of RFC 2268 with 1024 effective key bits, as used by
// meanwhile. It is written here because golang.org/x/crypto has no RC2 and
// the RC2 packages that exist fix the effective key bits to 8 × key length,
// which gives different sub-keys than meanwhile.

// RC2BlockSize is the RC2 block size in bytes.
const RC2BlockSize = 8

// RC2IV is the fixed initial CBC vector meanwhile uses everywhere.
var RC2IV = [RC2BlockSize]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}

// Errors of the cipher layer.
var (
	// ErrKeySize means an RC2 key is empty.
	ErrKeySize = errors.New("stproto: RC2 key must be 1..128 bytes")
	// ErrCiphertext means ciphertext is empty or not a multiple of the block size.
	ErrCiphertext = errors.New("stproto: ciphertext is not a whole number of blocks")
	// ErrPadding means the padding length byte is out of range.
	ErrPadding = errors.New("stproto: invalid padding")
)

var piTable = [256]byte{
	0xd9, 0x78, 0xf9, 0xc4, 0x19, 0xdd, 0xb5, 0xed, 0x28, 0xe9, 0xfd, 0x79, 0x4a, 0xa0, 0xd8, 0x9d,
	0xc6, 0x7e, 0x37, 0x83, 0x2b, 0x76, 0x53, 0x8e, 0x62, 0x4c, 0x64, 0x88, 0x44, 0x8b, 0xfb, 0xa2,
	0x17, 0x9a, 0x59, 0xf5, 0x87, 0xb3, 0x4f, 0x13, 0x61, 0x45, 0x6d, 0x8d, 0x09, 0x81, 0x7d, 0x32,
	0xbd, 0x8f, 0x40, 0xeb, 0x86, 0xb7, 0x7b, 0x0b, 0xf0, 0x95, 0x21, 0x22, 0x5c, 0x6b, 0x4e, 0x82,
	0x54, 0xd6, 0x65, 0x93, 0xce, 0x60, 0xb2, 0x1c, 0x73, 0x56, 0xc0, 0x14, 0xa7, 0x8c, 0xf1, 0xdc,
	0x12, 0x75, 0xca, 0x1f, 0x3b, 0xbe, 0xe4, 0xd1, 0x42, 0x3d, 0xd4, 0x30, 0xa3, 0x3c, 0xb6, 0x26,
	0x6f, 0xbf, 0x0e, 0xda, 0x46, 0x69, 0x07, 0x57, 0x27, 0xf2, 0x1d, 0x9b, 0xbc, 0x94, 0x43, 0x03,
	0xf8, 0x11, 0xc7, 0xf6, 0x90, 0xef, 0x3e, 0xe7, 0x06, 0xc3, 0xd5, 0x2f, 0xc8, 0x66, 0x1e, 0xd7,
	0x08, 0xe8, 0xea, 0xde, 0x80, 0x52, 0xee, 0xf7, 0x84, 0xaa, 0x72, 0xac, 0x35, 0x4d, 0x6a, 0x2a,
	0x96, 0x1a, 0xd2, 0x71, 0x5a, 0x15, 0x49, 0x74, 0x4b, 0x9f, 0xd0, 0x5e, 0x04, 0x18, 0xa4, 0xec,
	0xc2, 0xe0, 0x41, 0x6e, 0x0f, 0x51, 0xcb, 0xcc, 0x24, 0x91, 0xaf, 0x50, 0xa1, 0xf4, 0x70, 0x39,
	0x99, 0x7c, 0x3a, 0x85, 0x23, 0xb8, 0xb4, 0x7a, 0xfc, 0x02, 0x36, 0x5b, 0x25, 0x55, 0x97, 0x31,
	0x2d, 0x5d, 0xfa, 0x98, 0xe3, 0x8a, 0x92, 0xae, 0x05, 0xdf, 0x29, 0x10, 0x67, 0x6c, 0xba, 0xc9,
	0xd3, 0x00, 0xe6, 0xcf, 0xe1, 0x9e, 0xa8, 0x2c, 0x63, 0x16, 0x01, 0x3f, 0x58, 0xe2, 0x89, 0xa9,
	0x0d, 0x38, 0x34, 0x1b, 0xab, 0x33, 0xff, 0xb0, 0xbb, 0x48, 0x0c, 0x5f, 0xb9, 0xb1, 0xcd, 0x2e,
	0xc5, 0xf3, 0xdb, 0x47, 0xe5, 0xa5, 0x9c, 0x77, 0x0a, 0xa6, 0x20, 0x68, 0xfe, 0x7f, 0xc1, 0xad,
}

type rc2Cipher struct {
	k [64]uint16
}

// NewRC2 returns an RC2 block cipher for key (1..128 bytes; longer keys are
// truncated to 128 as meanwhile does) with the given effective key bits
// (1..1024). meanwhile always uses 1024.
func NewRC2(key []byte, effectiveBits int) (cipher.Block, error) {
	if len(key) == 0 {
		return nil, ErrKeySize
	}
	if effectiveBits < 1 || effectiveBits > 1024 {
		return nil, fmt.Errorf("stproto: RC2 effective key bits %d: %w", effectiveBits, ErrKeySize)
	}
	if len(key) > 128 {
		key = key[:128]
	}
	var l [128]byte
	t := len(key)
	copy(l[:], key)
	for i := t; i < 128; i++ {
		l[i] = piTable[l[i-1]+l[i-t]]
	}
	// RFC 2268 effective key reduction; with T1 = 1024 it reduces to
	// L[0] = PITABLE[L[0]].
	t8 := (effectiveBits + 7) / 8
	tm := byte(0xff >> (8*t8 - effectiveBits))
	l[128-t8] = piTable[l[128-t8]&tm]
	for i := 127 - t8; i >= 0; i-- {
		l[i] = piTable[l[i+1]^l[i+t8]]
	}
	c := &rc2Cipher{}
	for j := range c.k {
		c.k[j] = uint16(l[2*j]) | uint16(l[2*j+1])<<8
	}
	return c, nil
}

// NewMeanwhileRC2 returns RC2 with the 1024 effective key bits meanwhile uses.
func NewMeanwhileRC2(key []byte) (cipher.Block, error) { return NewRC2(key, 1024) }

func (c *rc2Cipher) BlockSize() int { return RC2BlockSize }

func (c *rc2Cipher) Encrypt(dst, src []byte) {
	r0 := binary.LittleEndian.Uint16(src[0:])
	r1 := binary.LittleEndian.Uint16(src[2:])
	r2 := binary.LittleEndian.Uint16(src[4:])
	r3 := binary.LittleEndian.Uint16(src[6:])
	j := 0
	for round := 0; round < 16; round++ {
		r0 += c.k[j] + (r3 & r2) + (^r3 & r1)
		r0 = bits.RotateLeft16(r0, 1)
		r1 += c.k[j+1] + (r0 & r3) + (^r0 & r2)
		r1 = bits.RotateLeft16(r1, 2)
		r2 += c.k[j+2] + (r1 & r0) + (^r1 & r3)
		r2 = bits.RotateLeft16(r2, 3)
		r3 += c.k[j+3] + (r2 & r1) + (^r2 & r0)
		r3 = bits.RotateLeft16(r3, 5)
		j += 4
		if round == 4 || round == 10 {
			r0 += c.k[r3&63]
			r1 += c.k[r0&63]
			r2 += c.k[r1&63]
			r3 += c.k[r2&63]
		}
	}
	binary.LittleEndian.PutUint16(dst[0:], r0)
	binary.LittleEndian.PutUint16(dst[2:], r1)
	binary.LittleEndian.PutUint16(dst[4:], r2)
	binary.LittleEndian.PutUint16(dst[6:], r3)
}

func (c *rc2Cipher) Decrypt(dst, src []byte) {
	r0 := binary.LittleEndian.Uint16(src[0:])
	r1 := binary.LittleEndian.Uint16(src[2:])
	r2 := binary.LittleEndian.Uint16(src[4:])
	r3 := binary.LittleEndian.Uint16(src[6:])
	j := 63
	for round := 15; round >= 0; round-- {
		r3 = bits.RotateLeft16(r3, -5)
		r3 -= c.k[j] + (r2 & r1) + (^r2 & r0)
		r2 = bits.RotateLeft16(r2, -3)
		r2 -= c.k[j-1] + (r1 & r0) + (^r1 & r3)
		r1 = bits.RotateLeft16(r1, -2)
		r1 -= c.k[j-2] + (r0 & r3) + (^r0 & r2)
		r0 = bits.RotateLeft16(r0, -1)
		r0 -= c.k[j-3] + (r3 & r2) + (^r3 & r1)
		j -= 4
		if round == 5 || round == 11 {
			r3 -= c.k[r2&63]
			r2 -= c.k[r1&63]
			r1 -= c.k[r0&63]
			r0 -= c.k[r3&63]
		}
	}
	binary.LittleEndian.PutUint16(dst[0:], r0)
	binary.LittleEndian.PutUint16(dst[2:], r1)
	binary.LittleEndian.PutUint16(dst[4:], r2)
	binary.LittleEndian.PutUint16(dst[6:], r3)
}

// CBCStream is one direction of an RC2-CBC stream with meanwhile's padding.
// Its IV starts at RC2IV and chains across messages: each message's IV is
// the last ciphertext block of the previous one (spec §3.2). A fresh
// CBCStream per message gives the login behaviour.
type CBCStream struct {
	block cipher.Block
	iv    [RC2BlockSize]byte
}

// NewCBCStream returns a stream over block starting at RC2IV.
func NewCBCStream(block cipher.Block) *CBCStream {
	return &CBCStream{block: block, iv: RC2IV}
}

// Encrypt pads plaintext with 1..8 bytes of the pad length, encrypts it
// and advances the IV.
func (s *CBCStream) Encrypt(plaintext []byte) []byte {
	pad := RC2BlockSize - len(plaintext)%RC2BlockSize
	out := make([]byte, len(plaintext)+pad)
	copy(out, plaintext)
	for i := len(plaintext); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(s.block, s.iv[:]).CryptBlocks(out, out)
	copy(s.iv[:], out[len(out)-RC2BlockSize:])
	return out
}

// Decrypt decrypts ciphertext, strips the padding and advances the IV.
// Like meanwhile it checks only that the pad length is 1..8.
func (s *CBCStream) Decrypt(ciphertext []byte) ([]byte, error) {
	if len(ciphertext) == 0 || len(ciphertext)%RC2BlockSize != 0 {
		return nil, fmt.Errorf("stproto: %d bytes: %w", len(ciphertext), ErrCiphertext)
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(s.block, s.iv[:]).CryptBlocks(out, ciphertext)
	copy(s.iv[:], ciphertext[len(ciphertext)-RC2BlockSize:])
	pad := int(out[len(out)-1])
	if pad < 1 || pad > RC2BlockSize {
		return nil, fmt.Errorf("stproto: pad length %d: %w", pad, ErrPadding)
	}
	return out[:len(out)-pad], nil
}

// RC2Encrypt encrypts plaintext with key and a fresh IV (login use).
func RC2Encrypt(key, plaintext []byte) ([]byte, error) {
	b, err := NewMeanwhileRC2(key)
	if err != nil {
		return nil, err
	}
	return NewCBCStream(b).Encrypt(plaintext), nil
}

// RC2Decrypt decrypts ciphertext with key and a fresh IV (login use).
func RC2Decrypt(key, ciphertext []byte) ([]byte, error) {
	b, err := NewMeanwhileRC2(key)
	if err != nil {
		return nil, err
	}
	return NewCBCStream(b).Decrypt(ciphertext)
}
