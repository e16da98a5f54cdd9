package filexfer

import "errors"

// Errors of the transfer layer; the router maps them to device error codes.
var (
	// ErrUnknownTransfer: no transfer with that id for the session.
	ErrUnknownTransfer = errors.New("filexfer: no such transfer")
	// ErrInvalidRequest: the request is malformed (no name, a bad sha256,
	// no recipient).
	ErrInvalidRequest = errors.New("filexfer: invalid request")
	// ErrBusy: the session has too many transfers at once, or the spool
	// has no room for the file.
	ErrBusy = errors.New("filexfer: too many transfers")
	// ErrBadChunk: the device broke the chunk protocol (a gap, data beyond
	// the announced size, more than the window unacknowledged, a chunk
	// over the size limit).
	ErrBadChunk = errors.New("filexfer: chunk protocol violated")
	// ErrChecksum: the data the sender's device sent does not match the
	// sha256 it announced.
	ErrChecksum = errors.New("filexfer: data does not match the announced sha256")
	// ErrCorrupted: the data that arrived from the IM server does not match
	// the sender's sha256, or its size differs from the offer's.
	ErrCorrupted = errors.New("filexfer: received data does not match what was sent")
	// ErrAbandoned: the device did not come back to the transfer within
	// the resume window.
	ErrAbandoned = errors.New("filexfer: the device did not resume the transfer in time")
	// ErrOtherDevice: another device of the session handles the transfer.
	ErrOtherDevice = errors.New("filexfer: the transfer belongs to another device")
	// ErrClosed: the gateway is shutting down.
	ErrClosed = errors.New("filexfer: gateway shutting down")
)
