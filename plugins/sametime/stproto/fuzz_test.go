package stproto

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func FuzzReadFrame(f *testing.F) {
	for _, s := range captureStreams(f) {
		f.Add(s)
	}
	var all []byte
	for _, fr := range goldenFrames(f) {
		f.Add(fr)
		all = append(append(all, 0x80), fr...)
	}
	f.Add(all)
	f.Add([]byte{0x80, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, stream []byte) {
		const max = 4096
		fr := NewFrameReader(bytes.NewReader(stream), max)
		consumed := 0
		for {
			b, err := fr.ReadFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error type: %v", err)
				}
				return
			}
			if len(b) == 0 || len(b) > max {
				t.Fatalf("frame of %d bytes", len(b))
			}
			consumed += len(b) + 4
			if consumed > len(stream) {
				t.Fatalf("returned %d bytes from a %d-byte stream", consumed, len(stream))
			}
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		enc, err := m.Marshal()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		m2, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n%x", err, enc)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message:\n%#v\n%#v", m, m2)
		}
	})
}

// roundTrip checks decode → encode → decode stability of one payload decoder.
func roundTrip[T interface{ Marshal() ([]byte, error) }](t *testing.T, name string, b []byte, decode func([]byte) (T, error)) {
	v, err := decode(b)
	if err != nil {
		return
	}
	enc, err := v.Marshal()
	if err != nil {
		t.Fatalf("%s: decoded value does not encode: %v", name, err)
	}
	v2, err := decode(enc)
	if err != nil {
		t.Fatalf("%s: re-encoded value does not decode: %v", name, err)
	}
	if !reflect.DeepEqual(v, v2) {
		t.Fatalf("%s: round trip changed the value:\n%#v\n%#v", name, v, v2)
	}
}

func FuzzIMPayload(f *testing.F) {
	seedPayloads(f, `00000001 0009 "hello bob"`, `00000002 00000004 00000000 00000004 "<b>x"`, `00000001 00033453 00000002 0020 00000000 0000`)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, "IM message", b, UnmarshalIMMessage)
		roundTrip(t, "IM create addtl", b, UnmarshalIMCreateAddtl)
		roundTrip(t, "IM accept addtl", b, UnmarshalIMAcceptAddtl)
	})
}

func FuzzAwarePayload(f *testing.F) {
	seedPayloads(f,
		`00000001 0002 0003 626f62 0000`,
		`00000000 0002 0003 626f62 0000 00000000 00000002 00000000 00000006 00000002 0001`,
		`00000000 00000002 00000000 00000001 00000002 0001`,
		`00000031 0002 0003 626f62 0000 0000 01 0003 626f62 0020 00000000 0007 617420776f726b 000b 426f62204275696c646572`)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, "id list", b, UnmarshalAwareIDList)
		roundTrip(t, "snapshots", b, UnmarshalAwareSnapshots)
		roundTrip(t, "do set", b, UnmarshalAttrDoSet)
		roundTrip(t, "do unset", b, UnmarshalAttrDoUnset)
		roundTrip(t, "watch", b, UnmarshalAttrWatch)
		roundTrip(t, "got set", b, UnmarshalAttrGotSet)
		roundTrip(t, "got unset", b, UnmarshalAttrGotUnset)
		if s, err := UnmarshalAwareUpdate(b); err == nil {
			enc, err := MarshalAwareUpdate(s)
			if err != nil {
				t.Fatal(err)
			}
			if s2, err := UnmarshalAwareUpdate(enc); err != nil || !reflect.DeepEqual(s, s2) {
				t.Fatalf("update round trip: %v\n%#v\n%#v", err, s, s2)
			}
		}
		AttrBool(b)
	})
}

func FuzzResolvePayload(f *testing.F) {
	seedPayloads(f,
		`00000000 00000001 00000001 0003 "bob" 0000000a`,
		`00000000 00000001 00000000 00000001 00000000 00000000 0003 "bob" 00000001 0003 "bob" 000b "Bob Builder" 0000 00000001`)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, "request", b, UnmarshalResolveRequest)
		roundTrip(t, "response", b, UnmarshalResolveResponse)
	})
}

func FuzzStoragePayload(f *testing.F) {
	seedPayloads(f, `00000001 00000001 00000000`, `00000002 00000000`,
		`00000001 00000000 00000001 00000052 00000000 0000003e 003c "Version=3.1.3\r\nG Buddies2 Buddies O\r\nU bob1:: Bob;Builder,\r\n"`)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, "load", b, UnmarshalStorageLoad)
		roundTrip(t, "loaded", b, UnmarshalStorageLoaded)
		roundTrip(t, "save", b, UnmarshalStorageSave)
		roundTrip(t, "saved", b, UnmarshalStorageSaved)
		if s, err := UnmarshalStringValue(b); err == nil {
			v, err := StringValue(s)
			if err != nil {
				t.Fatal(err)
			}
			if s2, err := UnmarshalStringValue(v); err != nil || s2 != s {
				t.Fatalf("string value round trip: %q %q %v", s, s2, err)
			}
		}
	})
}

func FuzzConferencePayload(f *testing.F) {
	seedPayloads(f,
		`0004 "room" 0005 "title" 00000000`,
		`00000000 0004 "room" 0005 "title" 00000000 0005 "alice" 1700 0005 "alice" 0000 0000 00 00000000 0002 "hi"`,
		`0004 "room" 0005 "title" 0000 00000000 00000001 0001 0005 "alice" 1700 0005 "alice" 0000 0000 00`,
		`0001 00000000 00000001 0002 "hi"`, `00000002 00000001 00000000 00000000`)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, "create addtl", b, UnmarshalConfCreateAddtl)
		roundTrip(t, "invitation", b, UnmarshalConfInvitation)
		roundTrip(t, "welcome", b, UnmarshalConfWelcome)
		roundTrip(t, "invite", b, UnmarshalConfInvite)
		if m, err := UnmarshalConfJoin(b); err == nil {
			enc, _ := MarshalConfJoin(m)
			if m2, err := UnmarshalConfJoin(enc); err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("join round trip: %v", err)
			}
		}
		if c, err := UnmarshalConfTextClient(b); err == nil {
			enc, _ := c.MarshalClient()
			if c2, err := UnmarshalConfTextClient(enc); err != nil || !reflect.DeepEqual(c, c2) {
				t.Fatalf("client message round trip: %v\n%#v\n%#v", err, c, c2)
			}
		}
		if c, err := UnmarshalConfTextServer(b); err == nil {
			enc, _ := c.MarshalServer()
			if c2, err := UnmarshalConfTextServer(enc); err != nil || !reflect.DeepEqual(c, c2) {
				t.Fatalf("server message round trip: %v\n%#v\n%#v", err, c, c2)
			}
		}
	})
}

func FuzzFTOffer(f *testing.F) {
	seedPayloads(f, `00000000 0009 736d616c6c2e62696e 0000 00004e20 00000000 0000`)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, "offer", b, UnmarshalFTOffer)
	})
}

// normalizeBuddyList applies the defaults String() writes for zero fields.
func normalizeBuddyList(l BuddyList) BuddyList {
	if l.Version == "" {
		l.Version = BuddyListVersion
	}
	for i := range l.Groups {
		g := &l.Groups[i]
		if g.Type == 0 {
			g.Type = GroupNormal
		}
		for j := range g.Users {
			if g.Users[j].Type == 0 {
				g.Users[j].Type = BuddyNormal
			}
		}
	}
	return l
}

func FuzzParseBuddyList(f *testing.F) {
	f.Add(vecBuddyText)
	f.Add("Version=3.1.3\nG Friends;and;more2 Friends;and;more C\nU carol1:: Carol,Caz\nU dave2::\n")
	f.Fuzz(func(t *testing.T, text string) {
		l, err := ParseBuddyList(text)
		if err != nil {
			return
		}
		l2, err := ParseBuddyList(l.String())
		if err != nil {
			t.Fatalf("formatted list does not parse: %v\n%q", err, l.String())
		}
		if !reflect.DeepEqual(normalizeBuddyList(l), l2) {
			t.Fatalf("round trip changed the list:\n%#v\n%#v", l, l2)
		}
	})
}

func FuzzLoginAuth(f *testing.F) {
	f.Add(hx(f, `000000050102030405000000109fdd5d767dce9061a82fad30dc22e5be`), "password")
	f.Add(unhex(f, vecLoginRC2128)[4+8+2+7+4:], "secret")
	server := mustKey(f, unhex(f, vecServerPriv))
	client := mustKey(f, repeatHex(f, vecClientPriv1, 16))
	f.Fuzz(func(t *testing.T, authData []byte, password string) {
		DecodeAuthRC2_40(authData)
		DecodeAuthRC2_128(server, 0x01234567, authData)
		if len(password) > MaxString-4 {
			return
		}
		key5 := []byte{1, 2, 3, 4, 5}
		copy(key5, authData)
		a40, err := EncodeAuthRC2_40(key5, password)
		if err != nil {
			t.Fatal(err)
		}
		if pw, err := DecodeAuthRC2_40(a40); err != nil || pw != password {
			t.Fatalf("RC2/40 round trip: %q, %v", pw, err)
		}
		a128, err := EncodeAuthRC2_128(client, server.PublicPadded(), 0x01234567, password)
		if err != nil {
			t.Fatal(err)
		}
		if pw, err := DecodeAuthRC2_128(server, 0x01234567, a128); err != nil || pw != password {
			t.Fatalf("RC2/128 round trip: %q, %v", pw, err)
		}
	})
}
