package stproto

import (
	"errors"
	"fmt"
	"io"
)

// Login errors.
var (
	// ErrMagicMismatch means an RC2/128 login did not echo the server's magic.
	ErrMagicMismatch = errors.New("stproto: login magic does not match")
	// ErrAuthData means the auth_data of a LOGIN could not be decoded.
	ErrAuthData = errors.New("stproto: malformed login auth data")
)

// rc2_40LoginKeySize is the size of the random key of the RC2/40 scheme.
const rc2_40LoginKeySize = 5

// UsesRC2_128 reports whether a client must log in with RC2/128 after this
// HANDSHAKE_ACK (a key of at least 64 bytes), otherwise RC2/40.
func (h *HandshakeAck) UsesRC2_128() bool { return len(h.PubKey) >= DHPublicSize }

// EncodeAuthRC2_40 builds the RC2/40 auth_data: opaque key5, opaque
// RC2(key5) of the raw password bytes.
func EncodeAuthRC2_40(key5 []byte, password string) ([]byte, error) {
	if len(key5) != rc2_40LoginKeySize {
		return nil, fmt.Errorf("stproto: RC2/40 login key of %d bytes: %w", len(key5), ErrKeySize)
	}
	ct, err := RC2Encrypt(key5, []byte(password))
	if err != nil {
		return nil, err
	}
	e := NewEncoder(nil)
	e.Opaque(key5)
	e.Opaque(ct)
	return e.Bytes(), nil
}

// EncodeAuthRC2_128 builds the RC2/128 auth_data: u16 1, opaque client
// public value, opaque RC2(K) of u32 magic ‖ string password, where K is
// the DH key shared with the server's HANDSHAKE_ACK key.
func EncodeAuthRC2_128(client *DHKey, serverPublic []byte, magic uint32, password string) ([]byte, error) {
	key, err := client.SharedKey(serverPublic)
	if err != nil {
		return nil, err
	}
	pt := NewEncoder(nil)
	pt.U32(magic)
	pt.String(password)
	if err := pt.Err(); err != nil {
		return nil, err
	}
	ct, err := RC2Encrypt(key, pt.Bytes())
	if err != nil {
		return nil, err
	}
	e := NewEncoder(nil)
	e.U16(1)
	e.Opaque(client.Public())
	e.Opaque(ct)
	return e.Bytes(), nil
}

// NewLogin builds the LOGIN a client sends after ack, choosing the scheme
// as meanwhile does (RC2/128 if the ack carries a 64-byte key, else
// RC2/40), with key material from rand.
func NewLogin(ack *HandshakeAck, userID, password string, rand io.Reader) (*Login, error) {
	l := &Login{LoginType: LoginTypeMeanwhile, UserID: userID}
	var err error
	if ack.UsesRC2_128() {
		var k *DHKey
		if k, err = GenerateDHKey(rand); err != nil {
			return nil, err
		}
		l.AuthType = AuthRC2_128
		l.AuthData, err = EncodeAuthRC2_128(k, ack.PubKey, ack.Magic, password)
	} else {
		key5 := make([]byte, rc2_40LoginKeySize)
		if _, err = io.ReadFull(rand, key5); err != nil {
			return nil, fmt.Errorf("stproto: RC2/40 login key: %w", err)
		}
		l.AuthType = AuthRC2_40
		l.AuthData, err = EncodeAuthRC2_40(key5, password)
	}
	if err != nil {
		return nil, fmt.Errorf("stproto: login %s: %w", l.AuthType, err)
	}
	return l, nil
}

// DecodeAuthRC2_40 recovers the password from RC2/40 auth_data.
func DecodeAuthRC2_40(authData []byte) (string, error) {
	d := NewDecoder(authData)
	key := d.Opaque("key")
	ct := d.Opaque("cipher")
	if err := d.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthData, err)
	}
	if len(key) == 0 {
		return "", fmt.Errorf("%w: empty key", ErrAuthData)
	}
	pt, err := RC2Decrypt(key, ct)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthData, err)
	}
	return string(pt), nil
}

// DecodeAuthRC2_128 recovers the password from RC2/128 auth_data using the
// server's key pair behind the HANDSHAKE_ACK and the magic it sent.
func DecodeAuthRC2_128(server *DHKey, magic uint32, authData []byte) (string, error) {
	d := NewDecoder(authData)
	d.U16("marker")
	pub := d.Opaque("client_pub")
	ct := d.Opaque("cipher")
	if err := d.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthData, err)
	}
	key, err := server.SharedKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthData, err)
	}
	pt, err := RC2Decrypt(key, ct)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthData, err)
	}
	pd := NewDecoder(pt)
	got := pd.U32("magic")
	password := pd.String("password")
	if err := pd.Err(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuthData, err)
	}
	if got != magic {
		return "", ErrMagicMismatch
	}
	return password, nil
}

// LoginPassword recovers the password of a LOGIN on the server side.
// server and magic are those of the HANDSHAKE_ACK (server may be nil when
// no key was sent). PLAIN logins carry the raw password bytes (spec §3.4
// assumption); TOKEN logins return ErrUnsupported.
func LoginPassword(l *Login, server *DHKey, magic uint32) (string, error) {
	switch l.AuthType {
	case AuthRC2_40:
		return DecodeAuthRC2_40(l.AuthData)
	case AuthRC2_128:
		if server == nil {
			return "", fmt.Errorf("stproto: RC2/128 login without a server key: %w", ErrAuthData)
		}
		return DecodeAuthRC2_128(server, magic, l.AuthData)
	case AuthPlain:
		return string(l.AuthData), nil
	}
	return "", fmt.Errorf("stproto: login scheme %s: %w", l.AuthType, ErrUnsupported)
}
