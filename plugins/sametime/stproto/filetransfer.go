package stproto

// File-transfer CHANNEL_SEND types (spec §5.5).
const (
	FTMsgData uint16 = 0x0001 // next chunk of the file
	FTMsgAck  uint16 = 0x0002 // empty, never encrypted, one per data message
)

// FTChunkSize is the chunk size libpurple sends.
const FTChunkSize = 8192

// FTOffer is the addtl of a file-transfer CHANNEL_CREATE: u32 0, string
// filename, string message, u32 size, u32 0, u16 0.
type FTOffer struct {
	Filename string
	Message  string
	Size     uint32 // declared size in bytes (truncated to 32 bits by libpurple)
}

// Marshal encodes the offer.
func (o FTOffer) Marshal() ([]byte, error) {
	return encodeWith("file offer", func(e *Encoder) {
		e.U32(0)
		e.String(o.Filename)
		e.String(o.Message)
		e.U32(o.Size)
		e.U32(0)
		e.U16(0)
	})
}

// UnmarshalFTOffer decodes the offer. The trailing u32 and u16 are
// optional on input.
func UnmarshalFTOffer(b []byte) (FTOffer, error) {
	return decodeWith("file offer", b, func(d *Decoder) FTOffer {
		d.U32("reserved")
		return FTOffer{Filename: d.String("filename"), Message: d.String("message"), Size: d.U32("size")}
	})
}
