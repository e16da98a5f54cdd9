// Package stproto is the wire format of the IBM Lotus Sametime Community
// protocol as spoken by meanwhile 1.1.1 and libpurple's "sametime" plugin.
//
// It covers the transport framing (u32 length prefix, 0x80 keepalive bytes
// between frames), the message header and every master-channel message,
// the primitive and compound encodings, the RC2 cipher with 1024 effective
// key bits used by meanwhile, the Diffie-Hellman constants, both password
// schemes of the LOGIN message, channel encryption, the payloads of the IM,
// awareness, resolve, storage, conference and file-transfer services and
// the text format of the stored buddy list.
//
// The package holds no connection state beyond the per-channel cipher
// streams; a client and a fake server are both built on top of it. All
// multi-byte integers are big-endian. Decoders never panic on bad input:
// they return errors that match ErrTruncated, ErrTooLarge, ErrMalformed and
// friends with errors.Is. Decoded byte slices (opaques) alias the input.
package stproto
