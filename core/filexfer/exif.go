package filexfer

import "encoding/binary"

// tagOrientation is the EXIF (TIFF) tag of the image orientation.
const tagOrientation = 0x0112

// exifOrientation returns the EXIF orientation (1 to 8) of a JPEG from its
// first bytes, or 1 when it has none or the data is malformed. It walks the
// marker segments up to the first scan and reads IFD0 of an "Exif" APP1
// segment; every offset is checked against the data before use.
func exifOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		switch {
		case marker == 0xFF: // fill byte before a marker
			i++
			continue
		case marker == 0x01 || marker >= 0xD0 && marker <= 0xD8: // markers without a length
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9: // scan data or the end: no EXIF before it
			return 1
		}
		length := int(binary.BigEndian.Uint16(b[i+2:]))
		start, end := i+4, i+2+length
		if length < 2 || end > len(b) {
			return 1
		}
		if marker == 0xE1 && end-start >= 6 && string(b[start:start+6]) == "Exif\x00\x00" {
			return tiffOrientation(b[start+6 : end])
		}
		i = end
	}
	return 1
}

// tiffOrientation reads the orientation tag of IFD0 of a TIFF header.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	ifd := uint64(bo.Uint32(t[4:]))
	if ifd+2 > uint64(len(t)) {
		return 1
	}
	entries := uint64(bo.Uint16(t[ifd:]))
	for k := range entries {
		e := ifd + 2 + 12*k
		if e+12 > uint64(len(t)) {
			return 1
		}
		if bo.Uint16(t[e:]) != tagOrientation {
			continue
		}
		// type SHORT (3), count 1, value in the first two bytes of the field
		if bo.Uint16(t[e+2:]) != 3 || bo.Uint32(t[e+4:]) != 1 {
			return 1
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}
