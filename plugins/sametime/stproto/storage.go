package stproto

// Storage CHANNEL_SEND types (spec §5.4). A reply's type is the request
// type + 1.
const (
	StorageMsgLoad   uint16 = 0x0004
	StorageMsgLoaded uint16 = 0x0005
	StorageMsgSave   uint16 = 0x0006
	StorageMsgSaved  uint16 = 0x0007
)

// Storage keys.
const (
	StorageKeyBuddyList     uint32 = 0x00
	StorageKeyChatInvite    uint32 = 0x06
	StorageKeyMeetingInvite uint32 = 0x0e
	StorageKeyAwayMessages  uint32 = 0x50
	StorageKeyBusyMessages  uint32 = 0x5a
	StorageKeyActiveMessage uint32 = 0x64
)

// storageUnitOverhead is what meanwhile adds to a value's length in the
// unit_len field.
const storageUnitOverhead = 20

// StorageUnit is one stored key/value pair.
type StorageUnit struct {
	Key   uint32
	Value []byte
}

func (u *StorageUnit) encode(e *Encoder) {
	e.U32(uint32(storageUnitOverhead + len(u.Value)))
	e.U32(u.Key)
	e.Opaque(u.Value)
}

func decodeStorageUnit(d *Decoder) StorageUnit {
	d.U32("unit.len") // ignored by meanwhile
	return StorageUnit{Key: d.U32("unit.key"), Value: d.Opaque("unit.value")}
}

// StorageLoad is LOAD: u32 req_id, u32 count, count × u32 key.
type StorageLoad struct {
	RequestID uint32
	Keys      []uint32
}

// Marshal encodes the request.
func (s StorageLoad) Marshal() ([]byte, error) {
	return encodeWith("storage load", func(e *Encoder) {
		e.U32(s.RequestID)
		e.U32(uint32(len(s.Keys)))
		for _, k := range s.Keys {
			e.U32(k)
		}
	})
}

// UnmarshalStorageLoad decodes LOAD.
func UnmarshalStorageLoad(b []byte) (StorageLoad, error) {
	return decodeWith("storage load", b, func(d *Decoder) StorageLoad {
		s := StorageLoad{RequestID: d.U32("req_id")}
		n := d.Count("count", 4)
		if n > 0 {
			s.Keys = make([]uint32, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			s.Keys = append(s.Keys, d.U32("key"))
		}
		return s
	})
}

// StorageLoaded is LOADED: u32 req_id, u32 result, u32 count, units.
type StorageLoaded struct {
	RequestID uint32
	Result    ReasonError // non-zero: libpurple ignores the reply
	Units     []StorageUnit
}

// Marshal encodes the reply.
func (s StorageLoaded) Marshal() ([]byte, error) {
	return encodeWith("storage loaded", func(e *Encoder) {
		e.U32(s.RequestID)
		e.U32(uint32(s.Result))
		e.U32(uint32(len(s.Units)))
		for i := range s.Units {
			s.Units[i].encode(e)
		}
	})
}

// UnmarshalStorageLoaded decodes LOADED.
func UnmarshalStorageLoaded(b []byte) (StorageLoaded, error) {
	return decodeWith("storage loaded", b, func(d *Decoder) StorageLoaded {
		s := StorageLoaded{RequestID: d.U32("req_id"), Result: ReasonError(d.U32("result"))}
		n := d.Count("count", 12)
		if n > 0 {
			s.Units = make([]StorageUnit, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			s.Units = append(s.Units, decodeStorageUnit(d))
		}
		return s
	})
}

// StorageSave is SAVE: u32 req_id, u32 count, units.
type StorageSave struct {
	RequestID uint32
	Units     []StorageUnit
}

// Marshal encodes the request.
func (s StorageSave) Marshal() ([]byte, error) {
	return encodeWith("storage save", func(e *Encoder) {
		e.U32(s.RequestID)
		e.U32(uint32(len(s.Units)))
		for i := range s.Units {
			s.Units[i].encode(e)
		}
	})
}

// UnmarshalStorageSave decodes SAVE.
func UnmarshalStorageSave(b []byte) (StorageSave, error) {
	return decodeWith("storage save", b, func(d *Decoder) StorageSave {
		s := StorageSave{RequestID: d.U32("req_id")}
		n := d.Count("count", 12)
		if n > 0 {
			s.Units = make([]StorageUnit, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			s.Units = append(s.Units, decodeStorageUnit(d))
		}
		return s
	})
}

// StorageSaved is SAVED: u32 req_id, u32 result.
type StorageSaved struct {
	RequestID uint32
	Result    ReasonError
}

// Marshal encodes the reply.
func (s StorageSaved) Marshal() ([]byte, error) {
	return encodeWith("storage saved", func(e *Encoder) {
		e.U32(s.RequestID)
		e.U32(uint32(s.Result))
	})
}

// UnmarshalStorageSaved decodes SAVED.
func UnmarshalStorageSaved(b []byte) (StorageSaved, error) {
	return decodeWith("storage saved", b, func(d *Decoder) StorageSaved {
		return StorageSaved{RequestID: d.U32("req_id"), Result: ReasonError(d.U32("result"))}
	})
}

// StringValue encodes a text value the way storage keys hold text (the
// buddy list included): one string (u16 length + bytes).
func StringValue(s string) ([]byte, error) {
	return encodeWith("storage string value", func(e *Encoder) { e.String(s) })
}

// UnmarshalStringValue decodes a storage text value. An empty value is "".
func UnmarshalStringValue(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	return decodeWith("storage string value", b, func(d *Decoder) string { return d.String("value") })
}
