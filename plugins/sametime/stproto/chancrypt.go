package stproto

import (
	"errors"
	"fmt"
)

// ErrNoCipher means a channel accept names a cipher that was not offered
// or that this package does not know.
var ErrNoCipher = errors.New("stproto: no usable channel cipher")

// RC2_40ChannelKey returns the RC2/40 key a sender with this login_id uses
// on channels: the first 5 bytes of the login id (spec §4.5.2).
func RC2_40ChannelKey(loginID string) ([]byte, error) {
	if len(loginID) < rc2_40LoginKeySize {
		return nil, fmt.Errorf("stproto: login id of %d bytes is too short for an RC2/40 key: %w", len(loginID), ErrKeySize)
	}
	return []byte(loginID[:rc2_40LoginKeySize]), nil
}

// ChannelCipher holds both directions of an encrypted channel. Each
// direction has its own chained CBC state starting at RC2IV.
type ChannelCipher struct {
	send *CBCStream
	recv *CBCStream
}

// NewChannelCipherRC2_40 returns the cipher of an RC2/40 channel: outgoing
// data is keyed by the own login id, incoming data by the peer's.
func NewChannelCipherRC2_40(ownLoginID, peerLoginID string) (*ChannelCipher, error) {
	sk, err := RC2_40ChannelKey(ownLoginID)
	if err != nil {
		return nil, err
	}
	rk, err := RC2_40ChannelKey(peerLoginID)
	if err != nil {
		return nil, err
	}
	return newChannelCipher(sk, rk)
}

// NewChannelCipherRC2_128 returns the cipher of an RC2/128 channel: both
// directions use the DH key shared between own and the peer's public value.
func NewChannelCipherRC2_128(own *DHKey, peerPublic []byte) (*ChannelCipher, error) {
	k, err := own.SharedKey(peerPublic)
	if err != nil {
		return nil, err
	}
	return newChannelCipher(k, k)
}

func newChannelCipher(sendKey, recvKey []byte) (*ChannelCipher, error) {
	sb, err := NewMeanwhileRC2(sendKey)
	if err != nil {
		return nil, err
	}
	rb, err := NewMeanwhileRC2(recvKey)
	if err != nil {
		return nil, err
	}
	return &ChannelCipher{send: NewCBCStream(sb), recv: NewCBCStream(rb)}, nil
}

// Seal encrypts the payload of the next outgoing CHANNEL_SEND. The caller
// sets OptEncrypt on the message.
func (c *ChannelCipher) Seal(plaintext []byte) []byte { return c.send.Encrypt(plaintext) }

// Open decrypts the payload of the next incoming CHANNEL_SEND that had
// OptEncrypt set.
func (c *ChannelCipher) Open(ciphertext []byte) ([]byte, error) { return c.recv.Decrypt(ciphertext) }

// OfferAll returns the encryption offer meanwhile puts on IM and file
// channels: policy "whatever" with RC2/40 and RC2/128 (own public value).
func OfferAll(own *DHKey) EncryptOffer {
	return EncryptOffer{
		Mode: PolicyWhatever,
		Items: []EncryptItem{
			{Cipher: CipherRC2_40},
			{Cipher: CipherRC2_128, Info: own.Public()},
		},
		Extra: uint16(PolicyWhatever),
	}
}

// Offered returns the offered item for cipher id, if any.
func (o *EncryptOffer) Offered(id CipherID) (EncryptItem, bool) {
	for _, it := range o.Items {
		if it.Cipher == id {
			return it, true
		}
	}
	return EncryptItem{}, false
}

// AnswerRC2_128 returns the accept block choosing RC2/128 with own public
// value, for an offer that contains it.
func AnswerRC2_128(offer *EncryptOffer, own *DHKey) (EncryptAnswer, error) {
	if _, ok := offer.Offered(CipherRC2_128); !ok {
		return EncryptAnswer{}, ErrNoCipher
	}
	return EncryptAnswer{
		Mode:  PolicyRC2_128,
		Item:  &EncryptItem{Cipher: CipherRC2_128, Info: own.Public()},
		Extra: uint16(offer.Mode),
	}, nil
}

// AnswerRC2_40 returns the accept block choosing RC2/40.
func AnswerRC2_40(offer *EncryptOffer) (EncryptAnswer, error) {
	if _, ok := offer.Offered(CipherRC2_40); !ok {
		return EncryptAnswer{}, ErrNoCipher
	}
	return EncryptAnswer{Mode: PolicyRC2_40, Item: &EncryptItem{Cipher: CipherRC2_40}, Extra: uint16(offer.Mode)}, nil
}

// CreatorCipher returns the channel cipher the creator of a channel uses
// after the peer's accept: nil for a plaintext channel. own is the
// creator's DH key (the one whose public value was offered), ownLoginID
// its login id and peerLoginID the acceptor's.
func CreatorCipher(offer *EncryptOffer, answer *EncryptAnswer, own *DHKey, ownLoginID, peerLoginID string) (*ChannelCipher, error) {
	if !answer.Encrypted() {
		return nil, nil
	}
	if _, ok := offer.Offered(answer.Item.Cipher); !ok {
		return nil, ErrNoCipher
	}
	return cipherFor(answer.Item, own, ownLoginID, peerLoginID)
}

// AcceptorCipher returns the channel cipher the acceptor uses after
// sending answer for offer: nil for a plaintext channel.
func AcceptorCipher(offer *EncryptOffer, answer *EncryptAnswer, own *DHKey, ownLoginID, peerLoginID string) (*ChannelCipher, error) {
	if !answer.Encrypted() {
		return nil, nil
	}
	it, ok := offer.Offered(answer.Item.Cipher)
	if !ok {
		return nil, ErrNoCipher
	}
	return cipherFor(&it, own, ownLoginID, peerLoginID)
}

// cipherFor builds the cipher for item, whose Info is the peer's public
// value in the RC2/128 case.
func cipherFor(item *EncryptItem, own *DHKey, ownLoginID, peerLoginID string) (*ChannelCipher, error) {
	switch item.Cipher {
	case CipherRC2_40:
		return NewChannelCipherRC2_40(ownLoginID, peerLoginID)
	case CipherRC2_128:
		if own == nil {
			return nil, ErrNoCipher
		}
		return NewChannelCipherRC2_128(own, item.Info)
	}
	return nil, fmt.Errorf("stproto: cipher 0x%04x: %w", uint16(item.Cipher), ErrNoCipher)
}
