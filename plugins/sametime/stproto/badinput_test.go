package stproto

import (
	"errors"
	"strings"
	"testing"
)

func TestUnmarshalBadInput(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		want error
	}{
		{"empty", ``, ErrTruncated},
		{"short header", `0000 0000 0000`, ErrTruncated},
		{"attribs beyond input", `0003 8000 00000000 00000010 0000`, ErrTruncated},
		{"handshake cut", `0000 0000 00000000 001e 001d 00000000`, ErrTruncated},
		{"login opaque beyond input", `0001 0000 00000000 1700 0005 "alice" ffffffff 00`, ErrTruncated},
		{"string beyond input", `0001 0000 00000000 1700 0050 "alice"`, ErrTruncated},
		{"create without creator flag", `0002 0000 00000000 00000000 00000001 0000 0000 00000011 00000011 00030005 00000000 00000000`, ErrTruncated},
		{"create enc block beyond input", `0002 0000 00000000 00000000 00000001 0000 0000 00000011 00000011 00030005 00000000 00000000 00 0001 00000100 0000`, ErrTruncated},
		{"create enc count too large", `0002 0000 00000000 00000000 00000001 0000 0000 00000011 00000011 00030005 00000000 00000000 00 0001 00000009 7fffffff 0000000000`, ErrTooLarge},
		{"privacy count too large", `000b 0000 00000000 01 ffffffff`, ErrTooLarge},
		{"announce recipients too many", `0022 0000 00000000 00 0000 00000003 00 0000 00100000`, ErrTooLarge},
		{"destroy without data", `0003 0000 00000000 80000211`, ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Unmarshal(hx(t, c.msg))
			if !errors.Is(err, c.want) {
				t.Fatalf("Unmarshal = %v, %v; want error %v", m, err, c.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v does not name the field", err)
			}
		})
	}
}

func TestUnmarshalTolerance(t *testing.T) {
	t.Run("trailing bytes ignored", func(t *testing.T) {
		m, err := Unmarshal(hx(t, `0003 0000 00000000 80000211 00000000 deadbeef`))
		if err != nil || m.Body.(*ChannelDestroy).Reason != ReasonIncorrectLogin {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("unknown type kept", func(t *testing.T) {
		m, err := Unmarshal(hx(t, `7777 0000 00000005 0102`))
		if err != nil {
			t.Fatal(err)
		}
		u, ok := m.Body.(*Unknown)
		if !ok || u.Type != 0x7777 || string(u.Data) != "\x01\x02" || m.Channel != 5 {
			t.Fatalf("got %#v", m.Body)
		}
	})
	t.Run("header attribs skipped", func(t *testing.T) {
		m, err := Unmarshal(hx(t, `0011 8000 00000000 00000002 abcd 00000015`))
		if err != nil || m.Body.(*SenseService).Service != ServiceResolve || string(m.Attribs) != "\xab\xcd" {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("ack without key selects RC2/40", func(t *testing.T) {
		m, err := Unmarshal(hx(t, `8000 0000 00000000 001e 0018 7f000001`))
		if err != nil || m.Body.(*HandshakeAck).UsesRC2_128() {
			t.Fatalf("got %v, %v", m, err)
		}
	})
	t.Run("create without encryption block", func(t *testing.T) {
		m, err := Unmarshal(hx(t, `0002 0000 00000000 00000000 00000001 0000 0000 00000011 00000011 00030005 00000000 00000000 00`))
		if err != nil || m.Body.(*ChannelCreate).Encrypt.Mode != PolicyNone {
			t.Fatalf("got %v, %v", m, err)
		}
	})
}

func TestMarshalErrors(t *testing.T) {
	if _, err := (&Message{}).Marshal(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil body: err = %v", err)
	}
	long := strings.Repeat("x", MaxString+1)
	if _, err := (&Message{Body: &Admin{Text: long}}).Marshal(); !errors.Is(err, ErrStringTooLong) {
		t.Fatalf("long string: err = %v", err)
	}
	if _, err := (&Message{Body: &Announce{Text: long}}).Marshal(); !errors.Is(err, ErrStringTooLong) {
		t.Fatalf("long announce text: err = %v", err)
	}
	if _, err := NewIMText(long).Marshal(); !errors.Is(err, ErrStringTooLong) {
		t.Fatalf("long IM text: err = %v", err)
	}
}

func TestCipherBadInput(t *testing.T) {
	if _, err := NewMeanwhileRC2(nil); !errors.Is(err, ErrKeySize) {
		t.Fatalf("empty key: %v", err)
	}
	if _, err := NewRC2([]byte{1}, 1025); !errors.Is(err, ErrKeySize) {
		t.Fatalf("1025 bits: %v", err)
	}
	for _, ct := range [][]byte{nil, make([]byte, 7), make([]byte, 9)} {
		if _, err := RC2Decrypt([]byte("key"), ct); !errors.Is(err, ErrCiphertext) {
			t.Fatalf("ciphertext of %d bytes: %v", len(ct), err)
		}
	}
	// A block whose last plaintext byte is 0 has invalid padding.
	b, _ := NewMeanwhileRC2([]byte("key"))
	ct := make([]byte, 8)
	pt := []byte{1, 2, 3, 4, 5, 6, 7, 0}
	for i := range pt {
		pt[i] ^= RC2IV[i]
	}
	b.Encrypt(ct, pt)
	if _, err := RC2Decrypt([]byte("key"), ct); !errors.Is(err, ErrPadding) {
		t.Fatalf("zero pad byte: %v", err)
	}
	if _, err := NewChannelCipherRC2_40("abc", "alice-login"); !errors.Is(err, ErrKeySize) {
		t.Fatalf("short login id: %v", err)
	}
	k := mustKey(t, []byte{5})
	for _, pub := range [][]byte{nil, {1}, DHPrime.Bytes()} {
		if _, err := k.SharedKey(pub); !errors.Is(err, ErrPublicKey) {
			t.Fatalf("public %x: %v", pub, err)
		}
	}
	if _, err := DecodeAuthRC2_40(hx(t, `00000000 00000008 0000000000000000`)); !errors.Is(err, ErrAuthData) {
		t.Fatalf("empty RC2/40 key: %v", err)
	}
	if _, err := LoginPassword(&Login{AuthType: AuthToken}, nil, 0); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("token login: %v", err)
	}
	if _, err := LoginPassword(&Login{AuthType: AuthRC2_128, AuthData: []byte{0, 1}}, nil, 0); !errors.Is(err, ErrAuthData) {
		t.Fatalf("RC2/128 without a server key: %v", err)
	}
}

func TestPayloadBadInput(t *testing.T) {
	check := func(name string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
	}
	_, err := UnmarshalIMCreateAddtl(hx(t, `00000001`))
	check("IM addtl short", err, ErrTruncated)
	_, err = UnmarshalIMCreateAddtl(hx(t, `00000002 00000001`))
	check("IM addtl marker", err, ErrMalformed)
	_, err = UnmarshalIMMessage(hx(t, `00000001 0010 "abc"`))
	check("IM text short", err, ErrTruncated)
	_, err = UnmarshalAwareIDList(hx(t, `10000000 0002`))
	check("aware list count", err, ErrTooLarge)
	_, err = UnmarshalAwareSnapshots(hx(t, `00000001 000000ff 0002 0003 626f62 0000 0000 00`))
	check("snapshot block_len beyond payload", err, ErrTruncated)
	_, err = UnmarshalAttrWatch(hx(t, `00000000 40000000`))
	check("watch count", err, ErrTooLarge)
	_, err = UnmarshalStorageLoaded(hx(t, `00000001 00000000 00000002 00000014 00000000 00000000`))
	check("storage units", err, ErrTooLarge)
	_, err = UnmarshalResolveResponse(hx(t, `00000000 00000001 00000000 00000001 00000000 00000000 0000 00001000`))
	check("resolve matches", err, ErrTooLarge)
	_, err = UnmarshalConfWelcome(hx(t, `0000 0000 0000 00000000 00010000`))
	check("welcome members", err, ErrTooLarge)
	_, err = UnmarshalFTOffer(hx(t, `00000000 0009 "small"`))
	check("offer filename", err, ErrTruncated)
	_, err = UnmarshalStringValue(hx(t, `00ff 41`))
	check("string value", err, ErrTruncated)

	for _, text := range []string{
		"Version=3\r\n",
		"U bob1:: Bob,\r\n",
		"G Buddies2 Buddies O\r\nU bob1 Bob\r\n",
		"G x\r\n",
		"G Buddies2 Buddies O\r\nU 1:: x,\r\n",
	} {
		if _, err := ParseBuddyList(text); !errors.Is(err, ErrBuddyList) {
			t.Errorf("ParseBuddyList(%q) err = %v", text, err)
		}
	}
}
