package stproto

import "encoding/binary"

// Awareness CHANNEL_SEND types (spec §5.2).
const (
	AwareMsgAdd         uint16 = 0x0068
	AwareMsgRemove      uint16 = 0x0069
	AwareMsgOptDoSet    uint16 = 0x00c9
	AwareMsgOptDoUnset  uint16 = 0x00ca
	AwareMsgOptWatch    uint16 = 0x00cb
	AwareMsgSnapshot    uint16 = 0x01f4
	AwareMsgUpdate      uint16 = 0x01f5
	AwareMsgGroup       uint16 = 0x01f6
	AwareMsgOptGotSet   uint16 = 0x0259
	AwareMsgOptGotUnset uint16 = 0x025a
)

// Awareness attribute keys.
const (
	AttrAVPrefs      uint32 = 0x01
	AttrMicrophone   uint32 = 0x02
	AttrSpeakers     uint32 = 0x03
	AttrVideoCamera  uint32 = 0x04
	AttrFileTransfer uint32 = 0x06 // the user can receive files
)

// AttrTrue is the boolean attribute value meanwhile sends for true.
var AttrTrue = []byte{0x00, 0x01}

// AttrBool decodes a boolean attribute value as meanwhile does: 4 or more
// bytes → u32 ≠ 0, 2–3 bytes → u16 ≠ 0, 1 byte → byte ≠ 0.
func AttrBool(v []byte) bool {
	switch {
	case len(v) >= 4:
		return binary.BigEndian.Uint32(v) != 0
	case len(v) >= 2:
		return binary.BigEndian.Uint16(v) != 0
	case len(v) == 1:
		return v[0] != 0
	}
	return false
}

// minAwareIDBlock is the smallest encoded AwareIDBlock (type + two empty strings).
const minAwareIDBlock = 6

// AwareIDList is the payload of AWARE_ADD and AWARE_REMOVE.
type AwareIDList struct {
	IDs []AwareIDBlock
}

// Marshal encodes the list.
func (l AwareIDList) Marshal() ([]byte, error) {
	return encodeWith("aware id list", func(e *Encoder) {
		e.U32(uint32(len(l.IDs)))
		for i := range l.IDs {
			l.IDs[i].Encode(e)
		}
	})
}

// UnmarshalAwareIDList decodes AWARE_ADD / AWARE_REMOVE.
func UnmarshalAwareIDList(b []byte) (AwareIDList, error) {
	return decodeWith("aware id list", b, func(d *Decoder) AwareIDList {
		var l AwareIDList
		n := d.Count("count", minAwareIDBlock)
		if n > 0 {
			l.IDs = make([]AwareIDBlock, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			l.IDs = append(l.IDs, DecodeAwareIDBlock(d))
		}
		return l
	})
}

// AttrDoSet is OPT_DO_SET: publish one of the own attributes.
type AttrDoSet struct {
	Key   uint32
	Value []byte
}

// Marshal encodes u32 0, u32 len, u32 0, u32 key, opaque value.
func (a AttrDoSet) Marshal() ([]byte, error) {
	return encodeWith("OPT_DO_SET", func(e *Encoder) {
		e.U32(0)
		e.U32(uint32(len(a.Value)))
		e.U32(0)
		e.U32(a.Key)
		e.Opaque(a.Value)
	})
}

// UnmarshalAttrDoSet decodes OPT_DO_SET.
func UnmarshalAttrDoSet(b []byte) (AttrDoSet, error) {
	return decodeWith("OPT_DO_SET", b, func(d *Decoder) AttrDoSet {
		d.U32("reserved")
		d.U32("len")
		d.U32("reserved2")
		return AttrDoSet{Key: d.U32("key"), Value: d.Opaque("value")}
	})
}

// AttrDoUnset is OPT_DO_UNSET: withdraw one of the own attributes.
type AttrDoUnset struct {
	Key uint32
}

// Marshal encodes u32 0, u32 key.
func (a AttrDoUnset) Marshal() ([]byte, error) {
	return encodeWith("OPT_DO_UNSET", func(e *Encoder) {
		e.U32(0)
		e.U32(a.Key)
	})
}

// UnmarshalAttrDoUnset decodes OPT_DO_UNSET.
func UnmarshalAttrDoUnset(b []byte) (AttrDoUnset, error) {
	return decodeWith("OPT_DO_UNSET", b, func(d *Decoder) AttrDoUnset {
		d.U32("reserved")
		return AttrDoUnset{Key: d.U32("key")}
	})
}

// AttrWatch is OPT_WATCH: the attribute keys of others to report.
type AttrWatch struct {
	Keys []uint32
}

// Marshal encodes u32 0, u32 count, keys.
func (a AttrWatch) Marshal() ([]byte, error) {
	return encodeWith("OPT_WATCH", func(e *Encoder) {
		e.U32(0)
		e.U32(uint32(len(a.Keys)))
		for _, k := range a.Keys {
			e.U32(k)
		}
	})
}

// UnmarshalAttrWatch decodes OPT_WATCH.
func UnmarshalAttrWatch(b []byte) (AttrWatch, error) {
	return decodeWith("OPT_WATCH", b, func(d *Decoder) AttrWatch {
		var a AttrWatch
		d.U32("reserved")
		n := d.Count("count", 4)
		if n > 0 {
			a.Keys = make([]uint32, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			a.Keys = append(a.Keys, d.U32("key"))
		}
		return a
	})
}

// minSnapshot is the smallest encoded AwareSnapshot.
const minSnapshot = 4 + minAwareIDBlock + 2 + 1

// AwareSnapshots is the payload of AWARE_SNAPSHOT.
type AwareSnapshots struct {
	Snapshots []AwareSnapshot
}

// Marshal encodes u32 count and the records.
func (s AwareSnapshots) Marshal() ([]byte, error) {
	return encodeWith("AWARE_SNAPSHOT", func(e *Encoder) {
		e.U32(uint32(len(s.Snapshots)))
		for i := range s.Snapshots {
			s.Snapshots[i].Encode(e)
		}
	})
}

// UnmarshalAwareSnapshots decodes AWARE_SNAPSHOT.
func UnmarshalAwareSnapshots(b []byte) (AwareSnapshots, error) {
	return decodeWith("AWARE_SNAPSHOT", b, func(d *Decoder) AwareSnapshots {
		var s AwareSnapshots
		n := d.Count("count", minSnapshot)
		if n > 0 {
			s.Snapshots = make([]AwareSnapshot, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			s.Snapshots = append(s.Snapshots, DecodeAwareSnapshot(d))
		}
		return s
	})
}

// MarshalAwareUpdate encodes AWARE_UPDATE: one snapshot without a count.
func MarshalAwareUpdate(s AwareSnapshot) ([]byte, error) {
	return encodeWith("AWARE_UPDATE", s.Encode)
}

// UnmarshalAwareUpdate decodes AWARE_UPDATE.
func UnmarshalAwareUpdate(b []byte) (AwareSnapshot, error) {
	return decodeWith("AWARE_UPDATE", b, DecodeAwareSnapshot)
}

// AttrGotSet is OPT_GOT_SET: a watched user's attribute value.
type AttrGotSet struct {
	Who   AwareIDBlock
	Key   uint32
	Value []byte
}

// Marshal encodes u32 0, who, u32 0, u32 len, u32 0, u32 key, [opaque value].
func (a AttrGotSet) Marshal() ([]byte, error) {
	return encodeWith("OPT_GOT_SET", func(e *Encoder) {
		e.U32(0)
		a.Who.Encode(e)
		e.U32(0)
		e.U32(uint32(len(a.Value)))
		e.U32(0)
		e.U32(a.Key)
		if len(a.Value) > 0 {
			e.Opaque(a.Value)
		}
	})
}

// UnmarshalAttrGotSet decodes OPT_GOT_SET.
func UnmarshalAttrGotSet(b []byte) (AttrGotSet, error) {
	return decodeWith("OPT_GOT_SET", b, func(d *Decoder) AttrGotSet {
		var a AttrGotSet
		d.U32("reserved")
		a.Who = DecodeAwareIDBlock(d)
		d.U32("reserved2")
		n := d.U32("len")
		d.U32("reserved3")
		a.Key = d.U32("key")
		if n != 0 {
			a.Value = d.Opaque("value")
		}
		return a
	})
}

// AttrGotUnset is OPT_GOT_UNSET: a watched user withdrew an attribute.
type AttrGotUnset struct {
	Who AwareIDBlock
	Key uint32
}

// Marshal encodes u32 0, who, u32 key.
func (a AttrGotUnset) Marshal() ([]byte, error) {
	return encodeWith("OPT_GOT_UNSET", func(e *Encoder) {
		e.U32(0)
		a.Who.Encode(e)
		e.U32(a.Key)
	})
}

// UnmarshalAttrGotUnset decodes OPT_GOT_UNSET.
func UnmarshalAttrGotUnset(b []byte) (AttrGotUnset, error) {
	return decodeWith("OPT_GOT_UNSET", b, func(d *Decoder) AttrGotUnset {
		d.U32("reserved")
		return AttrGotUnset{Who: DecodeAwareIDBlock(d), Key: d.U32("key")}
	})
}
