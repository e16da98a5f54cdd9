package stproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Vectors of spec §9, transcribed literally. Every frame includes its
// 4-byte length prefix.

const (
	vecHandshake  = `00000022 0000 0000 00000000 001e 001d 00000000 00000000 1700 00000000 0100 00000000 0000`
	vecLoginPlain = `00000021000100000000000017000005616c6963650000000870617373776f726400000000`
	vecLoginRC240 = `00000036000100000000000017000005616c6963650000001d000000050102030405000000109fdd5d767dce9061a82fad30dc22e5be00020000`

	vecServerPriv  = `1f2e3d4c5b6a79880102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738`
	vecServerPub   = `8b1780d71bbcf4a143e286e466558308f33122f96cd2bc095b1061552f9b80b2343143276e167d9e238b6ac921db879c4e399d122e6057dc356c72109a60dd7c`
	vecAckRC2128   = `000000588000000000000000001e001d7f00000101234567000000408b1780d71bbcf4a143e286e466558308f33122f96cd2bc095b1061552f9b80b2343143276e167d9e238b6ac921db879c4e399d122e6057dc356c72109a60dd7c`
	vecClientPub   = `33c31110c7d845875c0b8ec3606dc82e2c89ac4067116102ad33bcebe826fc0c18516bf1479882d03f03dca2428ee0424416d4fc8d376d773a7f256cfa5e3fcd`
	vecShared      = `608d5be87a7dab715c18645ff7f5d27c6610bd59be00298db9c9454bf548acf2a4da0556d847e50c0bbccdd0b4b3decd9ebd8fee712bc044f09a749a0f6714ab`
	vecLoginKey    = `9ebd8fee712bc044f09a749a0f6714ab`
	vecLoginRC2128 = `00000073000100000000000017000005616c6963650000005a00010000004033c31110c7d845875c0b8ec3606dc82e2c89ac4067116102ad33bcebe826fc0c18516bf1479882d03f03dca2428ee0424416d4fc8d376d773a7f256cfa5e3fcd000000108057d00d2e4e3e50240ab427d94e8bcb00040000`
	vecLoginAck    = `0000005680010000000000000010616c6963652d6c6f67696e2d3030303117000005616c696365000d416c696365204578616d706c6500000100007f000001000a66616b65736572766572000000000000000020000000000000`

	vecPeerPub     = `4d5d60fdf4f9fa1ed1b29d4484a6d9575b75526266eb3287155a42aea0f81d8d1b82533187c9484cd3517e8cb683b01e4a09f5beea37491eb95f4c4227e34d18`
	vecChannelKey  = `3337bac6d5a6cbd38b63876f32f2c0e1`
	vecBuddyText   = "Version=3.1.3\r\nG Buddies2 Buddies O\r\nU bob1:: Bob;Builder,\r\n"
	vecClientPriv1 = "0badc0de"
	vecPeerPriv1   = "1234567890abcdef"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func repeatHex(t testing.TB, s string, n int) []byte {
	return bytes.Repeat(unhex(t, s), n)
}

func mustKey(t testing.TB, priv []byte) *DHKey {
	t.Helper()
	k, err := NewDHKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGoldenHandshake(t *testing.T) {
	checkFrame(t, hx(t, vecHandshake), &Message{Body: NewHandshake()})
}

func TestGoldenLoginPlain(t *testing.T) {
	want := &Message{Body: &Login{LoginType: LoginTypeMeanwhile, UserID: "alice", AuthData: []byte("password"), AuthType: AuthPlain}}
	checkFrame(t, unhex(t, vecLoginPlain), want)
	pw, err := LoginPassword(want.Body.(*Login), nil, 0)
	if err != nil || pw != "password" {
		t.Fatalf("LoginPassword = %q, %v", pw, err)
	}
}

func TestGoldenRC2Login40(t *testing.T) {
	key := unhex(t, "0102030405")
	ct, err := RC2Encrypt(key, []byte("password"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(ct), "9fdd5d767dce9061a82fad30dc22e5be"; got != want {
		t.Fatalf("RC2(password) = %s, want %s", got, want)
	}
	auth, err := EncodeAuthRC2_40(key, "password")
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{Body: &Login{LoginType: LoginTypeMeanwhile, UserID: "alice", AuthData: auth, AuthType: AuthRC2_40}}
	checkFrame(t, unhex(t, vecLoginRC240), want)
	pw, err := LoginPassword(want.Body.(*Login), nil, 0)
	if err != nil || pw != "password" {
		t.Fatalf("LoginPassword = %q, %v", pw, err)
	}
}

func TestGoldenRC2Login128(t *testing.T) {
	server := mustKey(t, unhex(t, vecServerPriv))
	if got := hex.EncodeToString(server.PublicPadded()); got != vecServerPub {
		t.Fatalf("server public = %s", got)
	}
	ack := &HandshakeAck{Major: 0x1e, Minor: 0x1d, SrvrCalcAddr: 0x7f000001, Magic: 0x01234567, PubKey: server.PublicPadded()}
	checkFrame(t, unhex(t, vecAckRC2128), &Message{Body: ack})
	if !ack.UsesRC2_128() {
		t.Fatal("a 64-byte key must select RC2/128")
	}

	client := mustKey(t, repeatHex(t, vecClientPriv1, 16))
	if got := hex.EncodeToString(client.Public()); got != vecClientPub {
		t.Fatalf("client public = %s", got)
	}
	s := new(big.Int).Exp(new(big.Int).SetBytes(server.Public()), new(big.Int).SetBytes(repeatHex(t, vecClientPriv1, 16)), DHPrime)
	if got := hex.EncodeToString(s.Bytes()); got != vecShared {
		t.Fatalf("shared secret = %s", got)
	}
	for name, k := range map[string]*DHKey{"client": client, "server": server} {
		peer := server.Public()
		if k == server {
			peer = client.Public()
		}
		key, err := k.SharedKey(peer)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(key); got != vecLoginKey {
			t.Fatalf("%s shared key = %s, want %s", name, got, vecLoginKey)
		}
	}
	pt := hx(t, `01234567 0008 70617373776f7264`)
	ct, err := RC2Encrypt(unhex(t, vecLoginKey), pt)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(ct); got != "8057d00d2e4e3e50240ab427d94e8bcb" {
		t.Fatalf("login ciphertext = %s", got)
	}
	auth, err := EncodeAuthRC2_128(client, ack.PubKey, ack.Magic, "password")
	if err != nil {
		t.Fatal(err)
	}
	login := &Login{LoginType: LoginTypeMeanwhile, UserID: "alice", AuthData: auth, AuthType: AuthRC2_128}
	checkFrame(t, unhex(t, vecLoginRC2128), &Message{Body: login})

	pw, err := LoginPassword(login, server, 0x01234567)
	if err != nil || pw != "password" {
		t.Fatalf("LoginPassword = %q, %v", pw, err)
	}
	if _, err := LoginPassword(login, server, 0x01234568); !errors.Is(err, ErrMagicMismatch) {
		t.Fatalf("wrong magic: err = %v, want ErrMagicMismatch", err)
	}
}

func TestGoldenLoginAck(t *testing.T) {
	want := &Message{Body: &LoginAck{
		Login: LoginInfo{
			LoginID: "alice-login-0001", LoginType: LoginTypeMeanwhile, UserID: "alice",
			UserName: "Alice Example", Full: true, IPAddr: 0x7f000001, ServerID: "fakeserver",
		},
		Status: UserStatus{Status: StatusActive},
	}}
	checkFrame(t, unhex(t, vecLoginAck), want)
}

func TestGoldenChannelCrypto(t *testing.T) {
	client := mustKey(t, repeatHex(t, vecClientPriv1, 16))
	peer := mustKey(t, repeatHex(t, vecPeerPriv1, 4))
	if got := hex.EncodeToString(peer.Public()); got != vecPeerPub {
		t.Fatalf("peer public = %s", got)
	}
	key, err := peer.SharedKey(client.Public())
	if err != nil || hex.EncodeToString(key) != vecChannelKey {
		t.Fatalf("channel key = %x, %v", key, err)
	}
	sender, err := NewChannelCipherRC2_128(client, peer.Public())
	if err != nil {
		t.Fatal(err)
	}
	receiver, err := NewChannelCipherRC2_128(peer, client.Public())
	if err != nil {
		t.Fatal(err)
	}
	hello := mustMarshal(t, NewIMText("hello bob"))
	if !bytes.Equal(hello, hx(t, `00000001 0009 68656c6c6f20626f62`)) {
		t.Fatalf("IM TEXT = %x", hello)
	}
	ct1 := sender.Seal(hello)
	if got := hex.EncodeToString(ct1); got != "044d80f35fa757a69f0cf4dd0f35ff2f" {
		t.Fatalf("first ciphertext = %s", got)
	}
	checkFrame(t, hx(t, `0000001e 0004 4000 00000004 0064 00000010 044d80f35fa757a69f0cf4dd0f35ff2f`),
		&Message{Options: OptEncrypt, Channel: 4, Body: &ChannelSend{Type: IMMessageType, Data: ct1}})
	hi := mustMarshal(t, NewIMText("hi"))
	ct2 := sender.Seal(hi)
	if got := hex.EncodeToString(ct2); got != "bfd4c915d409adb68b01f414366afe89" {
		t.Fatalf("chained ciphertext = %s", got)
	}
	fresh, _ := RC2Encrypt(key, hi)
	if got := hex.EncodeToString(fresh); got != "5c8634e9171c74dc32fdaafc96f75e9f" {
		t.Fatalf("fresh-IV ciphertext = %s", got)
	}
	for i, c := range []struct{ ct, pt []byte }{{ct1, hello}, {ct2, hi}} {
		got, err := receiver.Open(c.ct)
		if err != nil || !bytes.Equal(got, c.pt) {
			t.Fatalf("message %d: Open = %x, %v", i+1, got, err)
		}
	}

	alice, err := NewChannelCipherRC2_40("alice-login-0001", "bob-login-0002")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(alice.Seal(hello)); got != "0f1931bb9c3faf93a729dc1cb06ab065" {
		t.Fatalf("RC2/40 ciphertext = %s", got)
	}
	bob, _ := NewChannelCipherRC2_40("bob-login-0002", "alice-login-0001")
	if got, err := bob.Open(unhex(t, "0f1931bb9c3faf93a729dc1cb06ab065")); err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("RC2/40 Open = %x, %v", got, err)
	}

	raw, _ := RC2Encrypt(unhex(t, "0102030405"), []byte("secret12"))
	if got := hex.EncodeToString(raw); got != "ee34c7b8b59e2fef428e7e4672dc6a39" {
		t.Fatalf("RC2 sanity = %s", got)
	}
}

// TestRC2RFC2268 checks the known answers of RFC 2268 section 5.
func TestRC2RFC2268(t *testing.T) {
	cases := []struct {
		bits          int
		key, pt, want string
	}{
		{63, "0000000000000000", "0000000000000000", "ebb773f993278eff"},
		{64, "ffffffffffffffff", "ffffffffffffffff", "278b27e42e2f0d49"},
		{64, "3000000000000000", "1000000000000001", "30649edf9be7d2c2"},
		{64, "88", "0000000000000000", "61a8a244adacccf0"},
		{64, "88bca90e90875a", "0000000000000000", "6ccf4308974c267f"},
		{64, "88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "1a807d272bbe5db1"},
		{128, "88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "2269552ab0f85ca6"},
		{129, "88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", "0000000000000000", "5b78d3a43dfff1f1"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", c.bits, c.key), func(t *testing.T) {
			b, err := NewRC2(unhex(t, c.key), c.bits)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 8)
			b.Encrypt(got, unhex(t, c.pt))
			if hex.EncodeToString(got) != c.want {
				t.Fatalf("encrypt = %x, want %s", got, c.want)
			}
			back := make([]byte, 8)
			b.Decrypt(back, got)
			if hex.EncodeToString(back) != c.pt {
				t.Fatalf("decrypt = %x, want %s", back, c.pt)
			}
		})
	}
}

func mustMarshal(t testing.TB, p interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkFrame asserts that frame decodes to want and that want encodes to frame.
func checkFrame(t *testing.T, frame []byte, want *Message) {
	t.Helper()
	if n := int(frame[0])<<24 | int(frame[1])<<16 | int(frame[2])<<8 | int(frame[3]); n != len(frame)-4 {
		t.Fatalf("vector length prefix %d != %d message bytes", n, len(frame)-4)
	}
	got, err := Unmarshal(frame[4:])
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decoded message differs (-want +got):\n%s", diff)
	}
	enc, err := want.MarshalFrame()
	if err != nil {
		t.Fatalf("MarshalFrame: %v", err)
	}
	if !bytes.Equal(enc, frame) {
		t.Fatalf("encoded frame\n got %x\nwant %x", enc, frame)
	}
}
