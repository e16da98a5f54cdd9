package gwproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// hexBytes decodes a hex dump written as whitespace-separated byte pairs.
func hexBytes(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Vectors of spec §9, transcribed byte for byte.
var (
	vecLoginRequest = hexBytes(`
		50 4f 53 54 20 2f 6c 6f 67 69 6e 20 48 54 54 50
		2f 31 2e 30 0d 0a 48 6f 73 74 3a 20 67 77 2e 65
		78 61 6d 70 6c 65 2e 63 6f 6d 3a 38 33 30 30 0d
		0a 0d 0a 26 74 61 67 3d 4e 4d 5f 41 5f 53 5a 5f
		55 53 45 52 49 44 26 63 6d 64 3d 30 26 76 61 6c
		3d 61 6c 69 63 65 26 74 79 70 65 3d 31 30 26 74
		61 67 3d 4e 4d 5f 41 5f 53 5a 5f 43 52 45 44 45
		4e 54 49 41 4c 53 26 63 6d 64 3d 30 26 76 61 6c
		3d 70 25 34 30 73 73 2b 77 30 72 64 26 74 79 70
		65 3d 31 30 26 74 61 67 3d 4e 4d 5f 41 5f 53 5a
		5f 55 53 45 52 5f 41 47 45 4e 54 26 63 6d 64 3d
		30 26 76 61 6c 3d 50 75 72 70 6c 65 25 32 66 32
		25 32 65 31 34 25 32 65 31 32 2b 25 32 38 4c 69
		6e 75 78 25 33 62 2b 36 25 32 65 31 25 32 65 30
		25 32 64 31 38 25 32 64 61 6d 64 36 34 25 32 39
		26 74 79 70 65 3d 31 30 26 74 61 67 3d 4e 4d 5f
		41 5f 55 44 5f 42 55 49 4c 44 26 63 6d 64 3d 30
		26 76 61 6c 3d 32 26 74 79 70 65 3d 38 26 74 61
		67 3d 6e 6e 6d 49 50 41 64 64 72 65 73 73 26 63
		6d 64 3d 30 26 76 61 6c 3d 31 39 32 25 32 65 30
		25 32 65 32 25 32 65 31 30 26 74 79 70 65 3d 31
		30 26 74 61 67 3d 4e 4d 5f 41 5f 53 5a 5f 54 52
		41 4e 53 41 43 54 49 4f 4e 5f 49 44 26 63 6d 64
		3d 30 26 76 61 6c 3d 31 26 74 79 70 65 3d 31 30
		0d 0a
	`)
	vecLoginResponse = hexBytes(`
		48 54 54 50 2f 31 2e 30 20 32 30 30 20 4f 4b 0d
		0a 0d 0a 0a 00 14 00 00 00 4e 4d 5f 41 5f 53 5a
		5f 52 45 53 55 4c 54 5f 43 4f 44 45 00 02 00 00
		00 30 00 0a 00 17 00 00 00 4e 4d 5f 41 5f 53 5a
		5f 54 52 41 4e 53 41 43 54 49 4f 4e 5f 49 44 00
		02 00 00 00 31 00 0d 00 0b 00 00 00 4e 4d 5f 41
		5f 53 5a 5f 44 4e 00 10 00 00 00 63 6e 3d 61 6c
		69 63 65 2c 6f 3d 61 63 6d 65 00 0a 00 0a 00 00
		00 46 75 6c 6c 20 4e 61 6d 65 00 08 00 00 00 41
		6c 69 63 65 20 41 00 09 00 15 00 00 00 4e 4d 5f
		41 5f 46 41 5f 43 4f 4e 54 41 43 54 5f 4c 49 53
		54 00 01 00 00 00 09 00 10 00 00 00 4e 4d 5f 41
		5f 46 41 5f 43 4f 4e 54 41 43 54 00 06 00 00 00
		0a 00 12 00 00 00 4e 4d 5f 41 5f 53 5a 5f 4f 42
		4a 45 43 54 5f 49 44 00 02 00 00 00 32 00 0a 00
		12 00 00 00 4e 4d 5f 41 5f 53 5a 5f 50 41 52 45
		4e 54 5f 49 44 00 02 00 00 00 30 00 0a 00 18 00
		00 00 4e 4d 5f 41 5f 53 5a 5f 53 45 51 55 45 4e
		43 45 5f 4e 55 4d 42 45 52 00 02 00 00 00 30 00
		0a 00 15 00 00 00 4e 4d 5f 41 5f 53 5a 5f 44 49
		53 50 4c 41 59 5f 4e 41 4d 45 00 04 00 00 00 42
		6f 62 00 0d 00 0b 00 00 00 4e 4d 5f 41 5f 53 5a
		5f 44 4e 00 0e 00 00 00 63 6e 3d 62 6f 62 2c 6f
		3d 61 63 6d 65 00 09 00 15 00 00 00 4e 4d 5f 41
		5f 46 41 5f 55 53 45 52 5f 44 45 54 41 49 4c 53
		00 03 00 00 00 0d 00 0b 00 00 00 4e 4d 5f 41 5f
		53 5a 5f 44 4e 00 0e 00 00 00 63 6e 3d 62 6f 62
		2c 6f 3d 61 63 6d 65 00 0a 00 0f 00 00 00 4e 4d
		5f 41 5f 53 5a 5f 53 54 41 54 55 53 00 02 00 00
		00 32 00 0a 00 0a 00 00 00 46 75 6c 6c 20 4e 61
		6d 65 00 06 00 00 00 42 6f 62 20 42 00 00
	`)
	vecEvent108 = hexBytes(`
		6c 00 00 00 0e 00 00 00 63 6e 3d 62 6f 62 2c 6f
		3d 61 63 6d 65 00 27 00 00 00 5b 41 31 42 32 43
		33 44 34 2d 31 31 31 31 31 31 31 31 2d 32 32 32
		32 32 32 32 32 2d 33 33 33 33 2d 34 34 34 34 5d
		00 00 00 00 00 6c 00 00 00 7b 5c 72 74 66 31 5c
		61 6e 73 69 0a 7b 5c 66 6f 6e 74 74 62 6c 7b 5c
		66 30 5c 66 6e 69 6c 20 55 6e 6b 6e 6f 77 6e 3b
		7d 7d 0a 7b 5c 63 6f 6c 6f 72 74 62 6c 20 3b 5c
		72 65 64 30 5c 67 72 65 65 6e 30 5c 62 6c 75 65
		30 3b 7d 0a 5c 75 63 31 5c 63 66 31 5c 66 30 5c
		66 73 32 34 20 48 69 20 5c 75 32 33 33 3f 5c 70
		61 72 0a 7d 00
	`)
	vecResultResponse = hexBytes(`
		48 54 54 50 2f 31 2e 30 20 32 30 30 20 4f 4b 0d
		0a 0d 0a 0a 00 14 00 00 00 4e 4d 5f 41 5f 53 5a
		5f 52 45 53 55 4c 54 5f 43 4f 44 45 00 02 00 00
		00 30 00 0a 00 17 00 00 00 4e 4d 5f 41 5f 53 5a
		5f 54 52 41 4e 53 41 43 54 49 4f 4e 5f 49 44 00
		02 00 00 00 32 00 00
	`)
	vecLoginFailed = hexBytes(`
		48 54 54 50 2f 31 2e 30 20 32 30 30 20 4f 4b 0d
		0a 0d 0a 0a 00 14 00 00 00 4e 4d 5f 41 5f 53 5a
		5f 52 45 53 55 4c 54 5f 43 4f 44 45 00 06 00 00
		00 35 33 35 31 36 00 0a 00 17 00 00 00 4e 4d 5f
		41 5f 53 5a 5f 54 52 41 4e 53 41 43 54 49 4f 4e
		5f 49 44 00 02 00 00 00 31 00 00
	`)
	vecCreateConfResponse = hexBytes(`
		48 54 54 50 2f 31 2e 30 20 32 30 30 20 4f 4b 0d
		0a 0d 0a 09 00 15 00 00 00 4e 4d 5f 41 5f 46 41
		5f 43 4f 4e 56 45 52 53 41 54 49 4f 4e 00 01 00
		00 00 0a 00 12 00 00 00 4e 4d 5f 41 5f 53 5a 5f
		4f 42 4a 45 43 54 5f 49 44 00 27 00 00 00 5b 41
		31 42 32 43 33 44 34 2d 31 31 31 31 31 31 31 31
		2d 32 32 32 32 32 32 32 32 2d 33 33 33 33 2d 34
		34 34 34 5d 00 0a 00 14 00 00 00 4e 4d 5f 41 5f
		53 5a 5f 52 45 53 55 4c 54 5f 43 4f 44 45 00 02
		00 00 00 30 00 0a 00 17 00 00 00 4e 4d 5f 41 5f
		53 5a 5f 54 52 41 4e 53 41 43 54 49 4f 4e 5f 49
		44 00 02 00 00 00 32 00 00
	`)
	vecEvent103 = hexBytes(`
		67 00 00 00 0e 00 00 00 63 6e 3d 62 6f 62 2c 6f
		3d 61 63 6d 65 00 04 00 0d 00 00 00 67 6f 6e 65
		20 66 69 73 68 69 6e 67 00
	`)

	// §9.6 createconf request (TID 2).
	vecCreateConfRequest = []byte("POST /createconf HTTP/1.0\r\n\r\n" +
		"&tag=NM_A_FA_CONVERSATION&cmd=0&val=1&type=9" +
		"&tag=NM_A_SZ_OBJECT_ID&cmd=0&val=%5b00000000%2d00000000%2d00000000%2d0000%2d0000%5d&type=10" +
		"&tag=NM_A_SZ_DN&cmd=0&val=cn%3dbob%2co%3dacme&type=13" +
		"&tag=NM_A_SZ_DN&cmd=0&val=cn%3dalice%2co%3dacme&type=13" +
		"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=2&type=10\r\n")

	// §9.7 sendmessage request (TID 1, text "a\nb").
	vecSendMessageRequest = []byte("POST /sendmessage HTTP/1.0\r\n\r\n" +
		"&tag=NM_A_FA_CONVERSATION&cmd=0&val=1&type=9" +
		"&tag=NM_A_SZ_OBJECT_ID&cmd=0&val=%5bA1B2C3D4%2d11111111%2d22222222%2d3333%2d4444%5d&type=10" +
		"&tag=NM_A_FA_MESSAGE&cmd=0&val=3&type=9" +
		"&tag=NM_A_SZ_MESSAGE_BODY&cmd=0&val=%7b%5crtf1%5cansi%0a%7b%5cfonttbl%7b%5cf0%5cfnil+Unknown%3b%7d%7d%0a%7b%5ccolortbl+%3b%5cred0%5cgreen0%5cblue0%3b%7d%0a%5cuc1%5ccf1%5cf0%5cfs24+a%5cpar+b%5cpar%0a%7d&type=10" +
		"&tag=NM_A_UD_MESSAGE_TYPE&cmd=0&val=0&type=8" +
		"&tag=NM_A_SZ_MESSAGE_TEXT&cmd=0&val=a%0ab&type=10" +
		"&tag=NM_A_SZ_DN&cmd=0&val=cn%3dbob%2cou%3dusers%2co%3dacme&type=13" +
		"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=1&type=10\r\n")

	// §9.8 typing event 112 (65 bytes).
	vecEvent112 = hexBytes(`
		70 00 00 00
		0e 00 00 00 63 6e 3d 62 6f 62 2c 6f 3d 61 63 6d 65 00
		27 00 00 00 5b 41 31 42 32 43 33 44 34 2d 31 31 31 31 31 31 31 31 2d 32 32 32
		32 32 32 32 32 2d 33 33 33 33 2d 34 34 34 34 5d 00
	`)
)

const testGUID = "[A1B2C3D4-11111111-22222222-3333-4444]"

func loginRequest() *Request {
	return &Request{
		Command: CmdLogin,
		Host:    "gw.example.com:8300",
		Fields: Fields{
			NewString(TagSzUserID, "alice"),
			NewString(TagSzCredentials, "p@ss w0rd"),
			NewString(TagSzUserAgent, "Purple/2.14.12 (Linux; 6.1.0-18-amd64)"),
			NewNumber(TagUdBuild, TypeUDWord, ProtocolVersion),
			NewString(TagIPAddress, "192.0.2.10"),
		},
		TID: "1",
	}
}

func loginResponse() *Response {
	return &Response{
		Status: 200,
		Fields: Fields{
			NewString(TagSzResultCode, "0"),
			NewString(TagSzTransactionID, "1"),
			NewDN(TagSzDN, "cn=alice,o=acme"),
			NewString(AttrFullName, "Alice A"),
			NewArray(TagFaContactList,
				NewArray(TagFaContact,
					NewString(TagSzObjectID, "2"),
					NewString(TagSzParentID, "0"),
					NewString(TagSzSequenceNumber, "0"),
					NewString(TagSzDisplayName, "Bob"),
					NewDN(TagSzDN, "cn=bob,o=acme"),
					NewArray(TagFaUserDetails,
						NewDN(TagSzDN, "cn=bob,o=acme"),
						NewString(TagSzStatus, "2"),
						NewString(AttrFullName, "Bob B"),
					),
				),
			),
		},
	}
}

func createConfRequest() *Request {
	return &Request{
		Command: CmdCreateConf,
		Fields: Fields{
			NewArray(TagFaConversation, NewString(TagSzObjectID, BlankGUID)),
			NewDN(TagSzDN, "cn=bob,o=acme"),
			NewDN(TagSzDN, "cn=alice,o=acme"),
		},
		TID: "2",
	}
}

func createConfResponse() *Response {
	return &Response{
		Status: 200,
		Fields: append(Fields{NewArray(TagFaConversation, NewString(TagSzObjectID, testGUID))},
			ResultFields(0, "2")...),
	}
}

func sendMessageRequest() *Request {
	return &Request{
		Command: CmdSendMessage,
		Fields: Fields{
			NewArray(TagFaConversation, NewString(TagSzObjectID, testGUID)),
			NewArray(TagFaMessage,
				NewString(TagSzMessageBody, RTFWrap("a\nb")),
				NewNumber(TagUdMessageType, TypeUDWord, 0),
				NewString(TagSzMessageText, "a\nb"),
			),
			NewDN(TagSzDN, "cn=bob,ou=users,o=acme"),
		},
		TID: "1",
	}
}

func event108() *Event {
	return &Event{
		Type:   EventReceiveMessage,
		Source: "cn=bob,o=acme",
		GUID:   testGUID,
		Text:   "{\\rtf1\\ansi\n{\\fonttbl{\\f0\\fnil Unknown;}}\n{\\colortbl ;\\red0\\green0\\blue0;}\n\\uc1\\cf1\\f0\\fs24 Hi \\u233?\\par\n}",
	}
}

func TestGoldenRequests(t *testing.T) {
	tests := []struct {
		name string
		req  *Request
		wire []byte
	}{
		{"9.1 login", loginRequest(), vecLoginRequest},
		{"9.6 createconf", createConfRequest(), vecCreateConfRequest},
		{"9.7 sendmessage", sendMessageRequest(), vecSendMessageRequest},
		{"9.7 ping", &Request{Command: CmdPing, TID: "7"},
			[]byte("POST /ping HTTP/1.0\r\n\r\n&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=7&type=10\r\n")},
		{"9.7 sendtyping", &Request{Command: CmdSendTyping, TID: "5", Fields: Fields{
			NewArray(TagFaConversation, NewString(TagSzObjectID, testGUID), NewString(TagSzType, "112"))}},
			[]byte("POST /sendtyping HTTP/1.0\r\n\r\n&tag=NM_A_FA_CONVERSATION&cmd=0&val=2&type=9" +
				"&tag=NM_A_SZ_OBJECT_ID&cmd=0&val=%5bA1B2C3D4%2d11111111%2d22222222%2d3333%2d4444%5d&type=10" +
				"&tag=NM_A_SZ_TYPE&cmd=0&val=112&type=10&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=5&type=10\r\n")},
		{"9.7 setstatus", &Request{Command: CmdSetStatus, TID: "3", Fields: Fields{
			NewString(TagSzStatus, StatusAway.Text()),
			NewString(TagSzStatusText, "out to lunch"),
			NewString(TagSzMessageBody, "auto reply text")}},
			[]byte("POST /setstatus HTTP/1.0\r\n\r\n&tag=NM_A_SZ_STATUS&cmd=0&val=4&type=10" +
				"&tag=NM_A_SZ_STATUS_TEXT&cmd=0&val=out+to+lunch&type=10" +
				"&tag=NM_A_SZ_MESSAGE_BODY&cmd=0&val=auto+reply+text&type=10" +
				"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=3&type=10\r\n")},
		{"9.7 createblock", &Request{Command: CmdCreateBlock, TID: "4", Fields: Fields{
			NewString(TagSzBlockingAllow, "cn=bob,o=acme").WithMethod(MethodAdd)}},
			[]byte("POST /createblock HTTP/1.0\r\n\r\n&tag=NM_A_SZ_BLOCKING_ALLOW_ITEM&cmd=1&val=cn%3dbob%2co%3dacme&type=10" +
				"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=4&type=10\r\n")},
		{"9.7 updateblocks delete", &Request{Command: CmdUpdateBlocks, TID: "5", Fields: Fields{
			NewDN(TagBlockingDenyList, "cn=bob,o=acme").WithMethod(MethodDelete)}},
			[]byte("POST /updateblocks HTTP/1.0\r\n\r\n&tag=nnmBlockingDenyList&cmd=2&val=cn%3dbob%2co%3dacme&type=13" +
				"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=5&type=10\r\n")},
		{"9.7 updateblocks default", &Request{Command: CmdUpdateBlocks, TID: "6", Fields: Fields{
			NewString(TagBlocking, "1").WithMethod(MethodUpdate)}},
			[]byte("POST /updateblocks HTTP/1.0\r\n\r\n&tag=nnmBlocking&cmd=F&val=1&type=10" +
				"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=6&type=10\r\n")},
		{"9.7 createfolder", &Request{Command: CmdCreateFolder, TID: "8", Fields: Fields{
			NewString(TagSzParentID, "0"),
			NewString(TagSzDisplayName, "New Folder"),
			NewString(TagSzSequenceNumber, "-1")}},
			[]byte("POST /createfolder HTTP/1.0\r\n\r\n&tag=NM_A_SZ_PARENT_ID&cmd=0&val=0&type=10" +
				"&tag=NM_A_SZ_DISPLAY_NAME&cmd=0&val=New+Folder&type=10" +
				"&tag=NM_A_SZ_SEQUENCE_NUMBER&cmd=0&val=%2d1&type=10" +
				"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=8&type=10\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.AppendTo(nil)
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			if !bytes.Equal(got, tt.wire) {
				t.Errorf("encoded request differs\n got %q\nwant %q", got, tt.wire)
			}
			parsed, err := ParseRequest(tt.wire)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if diff := cmp.Diff(tt.req, parsed); diff != "" {
				t.Errorf("parsed request differs (-want +got):\n%s", diff)
			}
			// one byte per read, as libpurple's many tiny TLS records
			one, err := NewRequestReader(iotest.OneByteReader(bytes.NewReader(tt.wire)), Limits{}).ReadRequest()
			if err != nil {
				t.Fatalf("ReadRequest one byte at a time: %v", err)
			}
			if diff := cmp.Diff(tt.req, one); diff != "" {
				t.Errorf("byte-wise parse differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGoldenLoginRequestLength(t *testing.T) {
	if len(vecLoginRequest) != 386 {
		t.Fatalf("§9.1 vector is %d bytes, spec says 386", len(vecLoginRequest))
	}
}

func TestGoldenResponses(t *testing.T) {
	tests := []struct {
		name    string
		resp    *Response
		wire    []byte
		size    int
		wantTID string
		wantErr error
	}{
		{"9.2 login", loginResponse(), vecLoginResponse, 494, "1", nil},
		{"9.4 result", &Response{Status: 200, Fields: ResultFields(0, "2")}, vecResultResponse, 87, "2", nil},
		{"9.5 wrong password", &Response{Status: 200, Fields: ResultFields(CodePasswordInvalid, "1")}, vecLoginFailed, 91, "1",
			&ResultError{Code: CodePasswordInvalid}},
		{"9.6 createconf", createConfResponse(), vecCreateConfResponse, 185, "2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.wire) != tt.size {
				t.Fatalf("vector is %d bytes, spec says %d", len(tt.wire), tt.size)
			}
			got, err := tt.resp.AppendTo(nil)
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			if !bytes.Equal(got, tt.wire) {
				t.Errorf("encoded response differs\n got % x\nwant % x", got, tt.wire)
			}
			parsed, err := ParseResponse(tt.wire)
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			if diff := cmp.Diff(tt.resp, parsed); diff != "" {
				t.Errorf("parsed response differs (-want +got):\n%s", diff)
			}
			if parsed.TID() != tt.wantTID {
				t.Errorf("TID = %q, want %q", parsed.TID(), tt.wantTID)
			}
			if err := parsed.Err(); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Err() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestGoldenWrongPassword(t *testing.T) {
	resp, err := ParseResponse(vecLoginFailed)
	if err != nil {
		t.Fatal(err)
	}
	var re *ResultError
	if !errors.As(resp.Err(), &re) {
		t.Fatalf("Err() = %v, want *ResultError", resp.Err())
	}
	if re.Code != 53516 || !re.IsWrongPassword() || re.Name() != "PASSWORD_INVALID" {
		t.Errorf("got code %d name %s wrongPassword=%v", re.Code, re.Name(), re.IsWrongPassword())
	}
	if !strings.Contains(re.Error(), "Incorrect password") {
		t.Errorf("Error() = %q, want libpurple's text", re.Error())
	}
}

func TestGoldenEvents(t *testing.T) {
	tests := []struct {
		name string
		ev   *Event
		wire []byte
		size int
	}{
		{"9.3 receive message", event108(), vecEvent108, 181},
		{"9.8 status change", &Event{Type: EventStatusChange, Source: "cn=bob,o=acme", Status: StatusAway, Text: "gone fishing"}, vecEvent103, 41},
		{"9.8 typing", &Event{Type: EventUserTyping, Source: "cn=bob,o=acme", GUID: testGUID}, vecEvent112, 65},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.wire) != tt.size {
				t.Fatalf("vector is %d bytes, spec says %d", len(tt.wire), tt.size)
			}
			got, err := tt.ev.AppendTo(nil)
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			if !bytes.Equal(got, tt.wire) {
				t.Errorf("encoded event differs\n got % x\nwant % x", got, tt.wire)
			}
			parsed, err := ParseEvent(tt.wire)
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			if diff := cmp.Diff(tt.ev, parsed); diff != "" {
				t.Errorf("parsed event differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGoldenEvent108Text(t *testing.T) {
	ev, err := ParseEvent(vecEvent108)
	if err != nil {
		t.Fatal(err)
	}
	text, err := RTFStrip(ev.Text)
	if err != nil {
		t.Fatal(err)
	}
	if text != "Hi é" {
		t.Errorf("message text = %q, want %q", text, "Hi é")
	}
}

// TestReaderStream reads a server stream holding every kind of message back
// to back, one byte per read, as a client sees it.
func TestReaderStream(t *testing.T) {
	var stream []byte
	for _, b := range [][]byte{vecLoginResponse, vecEvent103, vecResultResponse, vecEvent108, vecCreateConfResponse, vecEvent112, vecLoginFailed} {
		stream = append(stream, b...)
	}
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)), Limits{})
	var kinds []string
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %v: %v", kinds, err)
		}
		if m.Response != nil {
			kinds = append(kinds, "resp:"+m.Response.TID())
		} else {
			kinds = append(kinds, m.Event.Type.String())
		}
	}
	want := []string{"resp:1", "STATUS_CHANGE", "resp:2", "RECEIVE_MESSAGE", "resp:2", "USER_TYPING", "resp:1"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("message sequence (-want +got):\n%s", diff)
	}
}

// TestRequestStream reads back-to-back requests split at every piece
// boundary, the way libpurple writes them.
func TestRequestStream(t *testing.T) {
	stream := append(append(append([]byte{}, vecLoginRequest...), vecCreateConfRequest...), vecSendMessageRequest...)
	rr := NewRequestReader(&pieceReader{data: stream}, Limits{})
	var cmds []string
	for {
		req, err := rr.ReadRequest()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %v: %v", cmds, err)
		}
		cmds = append(cmds, req.Command+":"+req.TID)
	}
	if diff := cmp.Diff([]string{"login:1", "createconf:2", "sendmessage:1"}, cmds); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// pieceReader returns data in the chunks libpurple writes: it cuts before
// every '&' and before the final CR LF.
type pieceReader struct{ data []byte }

func (p *pieceReader) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + bytes.IndexAny(p.data[1:], "&\r")
	if n == 0 {
		n = len(p.data)
	}
	n = min(n, len(b))
	copy(b, p.data[:n])
	p.data = p.data[n:]
	return n, nil
}
