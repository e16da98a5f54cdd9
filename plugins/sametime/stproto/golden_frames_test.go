package stproto

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// payloadCase decodes a CHANNEL_SEND or addtl payload and re-encodes it.
type payloadCase struct {
	decode func([]byte) (any, error)
	want   interface{ Marshal() ([]byte, error) }
}

func checkPayload(t *testing.T, data []byte, pc payloadCase) {
	t.Helper()
	got, err := pc.decode(data)
	if err != nil {
		t.Fatalf("payload decode: %v", err)
	}
	if diff := cmp.Diff(pc.want, got); diff != "" {
		t.Fatalf("payload differs (-want +got):\n%s", diff)
	}
	enc := mustMarshal(t, pc.want)
	if !bytes.Equal(enc, data) {
		t.Fatalf("payload encoding\n got %x\nwant %x", enc, data)
	}
}

func dec[T any](f func([]byte) (T, error)) func([]byte) (any, error) {
	return func(b []byte) (any, error) { return f(b) }
}

// marshalFunc adapts a plain encoder function to the Marshal interface.
type marshalFunc func() ([]byte, error)

func (f marshalFunc) Marshal() ([]byte, error) { return f() }

func bobLogin() *LoginInfo {
	return &LoginInfo{LoginID: "bob-login-0002", LoginType: LoginTypeMeanwhile, UserID: "bob", UserName: "Bob Builder",
		Full: true, IPAddr: 0x7f000001, ServerID: "fakeserver"}
}

func TestGoldenChannelFrames(t *testing.T) {
	clientPub := mustKey(t, repeatHex(t, vecClientPriv1, 16)).Public()
	pub := fmt.Sprintf("%x", clientPub)
	offer := EncryptOffer{Mode: PolicyWhatever, Items: []EncryptItem{{Cipher: CipherRC2_40}, {Cipher: CipherRC2_128, Info: clientPub}}, Extra: 1}
	serviceCreate := func(id uint32, svc ServiceID, pt, pv uint32) *Message {
		return &Message{Body: &ChannelCreate{ID: id, Service: svc, ProtoType: pt, ProtoVer: pv}}
	}
	cases := []struct {
		name    string
		frame   string
		want    *Message
		payload *payloadCase
	}{
		{"aware create", `00000035 | 0002 0000 00000000 | 00000000 | 00000002 | 0000 0000 |
			00000011 | 00000011 | 00030005 | 00000000 | 00000000 | 00 | 0000 | 00000000 00000000 0007`,
			serviceCreate(2, ServiceAware, 0x11, 0x00030005), nil},
		{"resolve create", `00000035 0002 0000 00000000 00000000 00000001 0000 0000 00000015 00000015 00000000 00000000 00000000 00 0000 00000000 00000000 0007`,
			serviceCreate(1, ServiceResolve, 0x15, 0), nil},
		{"storage create", `00000035 0002 0000 00000000 00000000 00000003 0000 0000 00000018 00000025 00000001 00000000 00000000 00 0000 00000000 00000000 0007`,
			serviceCreate(3, ServiceStorage, 0x25, 1), nil},
		{"aware accept", `00000025 0006 0000 00000002 00000011 00000011 00030005 00000000 00 0000 00000000 00000000 0007`,
			&Message{Channel: 2, Body: &ChannelAccept{Service: ServiceAware, ProtoType: 0x11, ProtoVer: 0x00030005}}, nil},
		{"IM create", `00000097 | 0002 0000 00000000 | 00000000 | 00000004 | 0003 "bob" 0000 |
			00001000 00001000 00000003 00000000 | 00000008 00000001 00033453 | 00 |
			0001 | 00000053 [ 00000002 | 0000 00000000 | 0001 00000040 ` + pub + ` | 0001 | 00 ] |
			00000000 00000000 0007`,
			&Message{Body: &ChannelCreate{ID: 4, Target: IDBlock{User: "bob"}, Service: ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
				Addtl: hx(t, `00000001 00033453`), Encrypt: offer}},
			&payloadCase{dec(UnmarshalIMCreateAddtl), IMCreateAddtl{ClientType: IMClientNotesBuddy}}},
		{"IM accept", `00000072 | 0006 0000 00000004 | 00001000 00001000 00000003 |
			00000014 [ 00000001 00033453 00000002 0020 00000000 0000 ] | 01 |
			000e "bob-login-0002" 1700 0003 "bob" 000b "Bob Builder" 0000 01 0000 7f000001 000a "fakeserver" |
			0000 | 00000000 00000000 0007`,
			&Message{Channel: 4, Body: &ChannelAccept{Service: ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
				Addtl: hx(t, `00000001 00033453 00000002 0020 00000000 0000`), Acceptor: bobLogin()}},
			&payloadCase{dec(UnmarshalIMAcceptAddtl), IMAcceptAddtl{ClientType: IMClientNotesBuddy, Status: UserStatus{Status: StatusActive}}}},
		{"IM accept RC2/128", `000000bf | 0006 0000 00000004 | 00001000 00001000 00000003 |
			00000014 [ 00000001 00033453 00000002 0020 00000000 0000 ] | 01 |
			000e "bob-login-0002" 1700 0003 "bob" 000b "Bob Builder" 0000 01 0000 7f000001 000a "fakeserver" |
			2000 | 00000049 [ 0001 00000040 ` + pub + ` | 0001 | 00 ] | 00000000 00000000 0007`,
			&Message{Channel: 4, Body: &ChannelAccept{Service: ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
				Addtl: hx(t, `00000001 00033453 00000002 0020 00000000 0000`), Acceptor: bobLogin(),
				Encrypt: EncryptAnswer{Mode: PolicyRC2_128, Item: &EncryptItem{Cipher: CipherRC2_128, Info: clientPub}, Extra: 1}}}, nil},
		{"IM text", `0000001d 0004 0000 00000004 0064 0000000f 00000001 0009 68656c6c6f20626f62`,
			&Message{Channel: 4, Body: &ChannelSend{Type: IMMessageType, Data: hx(t, `00000001 0009 68656c6c6f20626f62`)}},
			&payloadCase{dec(UnmarshalIMMessage), NewIMText("hello bob")}},
		{"IM HTML", `00000038 0004 0000 00000004 0064 0000002a 00000002 00000004 00000000 0000001a 7365636f6e64203c623e626f6c643c2f623e206d657373616765`,
			&Message{Channel: 4, Body: &ChannelSend{Type: IMMessageType, Data: hx(t, `00000002 00000004 00000000 0000001a "second <b>bold</b> message"`)}},
			&payloadCase{dec(UnmarshalIMMessage), NewIMHTML("second <b>bold</b> message")}},
		{"IM typing", `0000001e 0004 0000 80000001 0064 00000010 00000002 00000001 00000000 00000000`,
			&Message{Channel: 0x80000001, Body: &ChannelSend{Type: IMMessageType, Data: hx(t, `00000002 00000001 00000000 00000000`)}},
			&payloadCase{dec(UnmarshalIMMessage), NewIMTyping(true)}},
		{"incoming IM create", `00000079 | 0002 0000 00000000 | 00000000 | 80000001 | 0005 "alice" 0000 |
			00001000 00001000 00000003 00000000 | 00000008 00000001 00000001 | 01 |
			000e "carol-login-03" 1003 0005 "carol" 0007 "Carol C" 0000 01 0000 7f000001 000a "fakeserver" |
			0000 | 00000000 00000000 0007`,
			&Message{Body: &ChannelCreate{ID: 0x80000001, Target: IDBlock{User: "alice"}, Service: ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
				Addtl: hx(t, `00000001 00000001`),
				Creator: &LoginInfo{LoginID: "carol-login-03", LoginType: LoginTypeJavaApp, UserID: "carol", UserName: "Carol C",
					Full: true, IPAddr: 0x7f000001, ServerID: "fakeserver"}}},
			&payloadCase{dec(UnmarshalIMCreateAddtl), IMCreateAddtl{ClientType: IMClientPlain}}},
		{"libpurple IM accept", `00000039 | 0006 0000 80000001 | 00001000 00001000 00000003 |
			00000014 [ 00000001 00000001 00000002 0020 00000000 0000 ] | 00 | 0000 | 00000000 00000000 0007`,
			&Message{Channel: 0x80000001, Body: &ChannelAccept{Service: ServiceIM, ProtoType: 0x1000, ProtoVer: 3,
				Addtl: hx(t, `00000001 00000001 00000002 0020 00000000 0000`)}},
			&payloadCase{dec(UnmarshalIMAcceptAddtl), IMAcceptAddtl{ClientType: IMClientPlain, Status: UserStatus{Status: StatusActive}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame := hx(t, c.frame)
			checkFrame(t, frame, c.want)
			if c.payload != nil {
				checkPayload(t, payloadOf(c.want), *c.payload)
			}
		})
	}
}

func payloadOf(m *Message) []byte {
	switch b := m.Body.(type) {
	case *ChannelSend:
		return b.Data
	case *ChannelCreate:
		return b.Addtl
	case *ChannelAccept:
		return b.Addtl
	}
	return nil
}

func TestGoldenPresenceStorageFrames(t *testing.T) {
	bob := AwareIDBlock{Type: AwareUser, User: "bob"}
	list := BuddyList{Version: "3.1.3", Groups: []BuddyGroup{{ID: "Buddies", Type: GroupNormal, Alias: "Buddies", Open: true,
		Users: []BuddyUser{{ID: "bob", Type: BuddyNormal, Name: "Bob Builder"}}}}}
	value := hx(t, `003c "`+"Version=3.1.3\\r\\nG Buddies2 Buddies O\\r\\nU bob1:: Bob;Builder,\\r\\n"+`"`)
	send := func(ch uint32, typ uint16, data string) *Message {
		return &Message{Channel: ch, Body: &ChannelSend{Type: typ, Data: hx(t, data)}}
	}
	cases := []struct {
		name    string
		frame   string
		want    *Message
		payload *payloadCase
	}{
		{"AWARE_ADD", `0000001b 0004 0000 00000002 0068 0000000d 00000001 0002 0003 626f62 0000`,
			send(2, AwareMsgAdd, `00000001 0002 0003 626f62 0000`),
			&payloadCase{dec(UnmarshalAwareIDList), AwareIDList{IDs: []AwareIDBlock{bob}}}},
		{"OPT_WATCH", `0000002a 0004 0000 00000002 00cb 0000001c 00000000 00000005 00000001 00000002 00000004 00000006 00000003`,
			send(2, AwareMsgOptWatch, `00000000 00000005 00000001 00000002 00000004 00000006 00000003`),
			&payloadCase{dec(UnmarshalAttrWatch), AttrWatch{Keys: []uint32{1, 2, 4, 6, 3}}}},
		{"OPT_DO_SET", `00000024 0004 0000 00000002 00c9 00000016 00000000 00000002 00000000 00000001 00000002 0001`,
			send(2, AwareMsgOptDoSet, `00000000 00000002 00000000 00000001 00000002 0001`),
			&payloadCase{dec(UnmarshalAttrDoSet), AttrDoSet{Key: AttrAVPrefs, Value: AttrTrue}}},
		{"OPT_DO_UNSET", `00000016 0004 0000 00000002 00ca 00000008 00000000 00000002`,
			send(2, AwareMsgOptDoUnset, `00000000 00000002`),
			&payloadCase{dec(UnmarshalAttrDoUnset), AttrDoUnset{Key: AttrMicrophone}}},
		{"SNAPSHOT", `00000043 0004 0000 00000002 01f4 00000035 | 00000001 | 00000031 0002 0003 626f62 0000 | 0000 | 01 | 0003 626f62 | 0020 00000000 0007 617420776f726b | 000b 426f62204275696c646572`,
			send(2, AwareMsgSnapshot, `00000001 | 00000031 0002 0003 626f62 0000 | 0000 | 01 | 0003 626f62 | 0020 00000000 0007 617420776f726b | 000b 426f62204275696c646572`),
			&payloadCase{dec(UnmarshalAwareSnapshots), AwareSnapshots{Snapshots: []AwareSnapshot{{ID: bob, Online: true, AltID: "bob",
				Status: UserStatus{Status: StatusActive, Desc: "at work"}, Name: "Bob Builder"}}}}},
		{"OPT_GOT_SET", `00000031 0004 0000 00000002 0259 00000023 00000000 0002 0003 626f62 0000 00000000 00000002 00000000 00000006 00000002 0001`,
			send(2, AwareMsgOptGotSet, `00000000 0002 0003 626f62 0000 00000000 00000002 00000000 00000006 00000002 0001`),
			&payloadCase{dec(UnmarshalAttrGotSet), AttrGotSet{Who: bob, Key: AttrFileTransfer, Value: AttrTrue}}},
		{"storage LOAD", `0000001a 0004 0000 00000003 0004 0000000c 00000001 00000001 00000000`,
			send(3, StorageMsgLoad, `00000001 00000001 00000000`),
			&payloadCase{dec(UnmarshalStorageLoad), StorageLoad{RequestID: 1, Keys: []uint32{StorageKeyBuddyList}}}},
		{"storage LOADED", `00000064 0004 0000 00000003 0005 00000056 | 00000001 00000000 00000001 00000052 00000000 | 0000003e ` + fmt.Sprintf("%x", value),
			&Message{Channel: 3, Body: &ChannelSend{Type: StorageMsgLoaded, Data: append(hx(t, `00000001 00000000 00000001 00000052 00000000 0000003e`), value...)}},
			&payloadCase{dec(UnmarshalStorageLoaded), StorageLoaded{RequestID: 1, Units: []StorageUnit{{Key: StorageKeyBuddyList, Value: value}}}}},
		{"SET_USER_STATUS", `00000010 0009 0000 00000000 0020 00000000 0000`,
			&Message{Body: &SetUserStatus{Status: UserStatus{Status: StatusActive}}}, nil},
		{"SET_PRIVACY_LIST", `0000000d 000b 0000 00000000 01 00000000`,
			&Message{Body: &SetPrivacyList{Privacy: PrivacyInfo{Deny: true}}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkFrame(t, hx(t, c.frame), c.want)
			if c.payload != nil {
				checkPayload(t, payloadOf(c.want), *c.payload)
			}
		})
	}

	t.Run("storage SAVE and SAVED", func(t *testing.T) {
		save := append(hx(t, `00000002 00000001 00000052 00000000 0000003e`), value...)
		checkPayload(t, save, payloadCase{dec(UnmarshalStorageSave), StorageSave{RequestID: 2, Units: []StorageUnit{{Key: StorageKeyBuddyList, Value: value}}}})
		checkPayload(t, hx(t, `00000002 00000000`), payloadCase{dec(UnmarshalStorageSaved), StorageSaved{RequestID: 2}})
	})
	t.Run("buddy list text", func(t *testing.T) {
		text, err := UnmarshalStringValue(value)
		if err != nil || text != vecBuddyText {
			t.Fatalf("value = %q, %v", text, err)
		}
		got, err := ParseBuddyList(text)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(list, got); diff != "" {
			t.Fatalf("buddy list differs (-want +got):\n%s", diff)
		}
		if s := list.String(); s != vecBuddyText {
			t.Fatalf("String() = %q", s)
		}
		if v, _ := StringValue(list.String()); !bytes.Equal(v, value) {
			t.Fatalf("StringValue = %x", v)
		}
	})
	t.Run("keepalive", func(t *testing.T) {
		if Keepalive != 0x80 {
			t.Fatalf("Keepalive = %#x", Keepalive)
		}
	})
}

func TestGoldenFileTransferAndCloseFrames(t *testing.T) {
	clientPub := mustKey(t, repeatHex(t, vecClientPriv1, 16)).Public()
	pub := fmt.Sprintf("%x", clientPub)
	chunk := bytes.Repeat([]byte{0xa5}, 8192)
	cases := []struct {
		name    string
		frame   []byte
		want    *Message
		payload *payloadCase
	}{
		{"offer", hx(t, `000000aa 0002 0000 00000000 00000000 00000005 0003 626f62 0000 00000038 00000000 00000001 00000000
			0000001b 00000000 0009 736d616c6c2e62696e 0000 00004e20 00000000 0000 00
			0001 00000053 [ 00000002 | 0000 00000000 | 0001 00000040 `+pub+` | 0001 | 00 ] 00000000 00000000 0007`),
			&Message{Body: &ChannelCreate{ID: 5, Target: IDBlock{User: "bob"}, Service: ServiceFileTransfer, ProtoType: 0, ProtoVer: 1,
				Addtl:   hx(t, `00000000 0009 736d616c6c2e62696e 0000 00004e20 00000000 0000`),
				Encrypt: EncryptOffer{Mode: PolicyWhatever, Items: []EncryptItem{{Cipher: CipherRC2_40}, {Cipher: CipherRC2_128, Info: clientPub}}, Extra: 1}}},
			&payloadCase{dec(UnmarshalFTOffer), FTOffer{Filename: "small.bin", Size: 20000}}},
		{"data chunk", append(hx(t, `0000200e 0004 0000 00000005 0001 00002000`), chunk...),
			&Message{Channel: 5, Body: &ChannelSend{Type: FTMsgData, Data: chunk}}, nil},
		{"ack", hx(t, `0000000e 0004 0000 00000005 0002 00000000`),
			&Message{Channel: 5, Body: &ChannelSend{Type: FTMsgAck}}, nil},
		{"completion", hx(t, `00000010 0003 0000 00000005 00000000 00000000`),
			&Message{Channel: 5, Body: &ChannelDestroy{}}, nil},
		{"server refusal", hx(t, `00000010 0003 0000 00000006 80000003 00000000`),
			&Message{Channel: 6, Body: &ChannelDestroy{Reason: ReasonNotAuthorized}}, nil},
		{"receiver decline", hx(t, `00000010 0003 0000 80000002 08000606 00000000`),
			&Message{Channel: 0x80000002, Body: &ChannelDestroy{Reason: ReasonFileTransferRejected}}, nil},
		{"receiver accept", hx(t, `00000025 0006 0000 80000002 00000038 00000000 00000001 00000000 00 0000 00000000 00000000 0007`),
			&Message{Channel: 0x80000002, Body: &ChannelAccept{Service: ServiceFileTransfer, ProtoVer: 1}}, nil},
		{"failed login", hx(t, `00000010 0003 0000 00000000 80000211 00000000`),
			&Message{Body: &ChannelDestroy{Reason: ReasonIncorrectLogin}}, nil},
		{"redirect", hx(t, `00000020 0018 0000 00000000 0009 3132372e302e302e31 000b 6f74686572736572766572`),
			&Message{Body: &LoginRedirect{Host: "127.0.0.1", ServerID: "otherserver"}}, nil},
		{"login continue", hx(t, `00000008 0016 0000 00000000`), &Message{Body: &LoginContinue{}}, nil},
		{"logoff", hx(t, `00000010 0003 0000 00000000 00000000 00000000`), &Message{Body: &ChannelDestroy{}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkFrame(t, c.frame, c.want)
			if c.payload != nil {
				checkPayload(t, payloadOf(c.want), *c.payload)
			}
		})
	}
}
