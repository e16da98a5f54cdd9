package gwproto

// Limits bound what the parsers accept. A zero member means "use the
// default" from DefaultLimits.
type Limits struct {
	// MaxHeaderBytes bounds the status/request line plus all header lines.
	MaxHeaderBytes int
	// MaxTagLen bounds a tag in bytes including its NUL (libpurple: 64).
	MaxTagLen int
	// MaxValueLen bounds a string value in bytes (libpurple refuses
	// binary strings of 32768 bytes or more). For requests it bounds the
	// decoded value.
	MaxValueLen int
	// MaxDepth bounds list nesting (a top-level field is depth 1).
	MaxDepth int
	// MaxFields bounds the number of fields in one message, nested ones
	// included.
	MaxFields int
	// MaxMessageBytes bounds the total size of one response or request.
	MaxMessageBytes int
	// MaxEventString bounds the source and message strings of an event
	// (libpurple: 100000 for messages).
	MaxEventString int
	// MaxGUIDLen bounds an event's conference GUID (libpurple: 1000).
	MaxGUIDLen int
}

// DefaultLimits are the limits used for zero members of a Limits value.
var DefaultLimits = Limits{
	MaxHeaderBytes:  8 << 10,
	MaxTagLen:       64,
	MaxValueLen:     32767,
	MaxDepth:        16,
	MaxFields:       65536,
	MaxMessageBytes: 4 << 20,
	MaxEventString:  100000,
	MaxGUIDLen:      1000,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	if l.MaxTagLen > 0 {
		d.MaxTagLen = l.MaxTagLen
	}
	if l.MaxValueLen > 0 {
		d.MaxValueLen = l.MaxValueLen
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxFields > 0 {
		d.MaxFields = l.MaxFields
	}
	if l.MaxMessageBytes > 0 {
		d.MaxMessageBytes = l.MaxMessageBytes
	}
	if l.MaxEventString > 0 {
		d.MaxEventString = l.MaxEventString
	}
	if l.MaxGUIDLen > 0 {
		d.MaxGUIDLen = l.MaxGUIDLen
	}
	return d
}
