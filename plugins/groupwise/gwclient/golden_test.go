package gwclient

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// Client→server vectors of spec §9.6 and §9.7 (exact ASCII produced by
// libpurple 2.14.12).
const (
	// §9.6: createconf for buddy cn=bob,o=acme by cn=alice,o=acme, TID 2.
	vectorCreateConfRequest = "POST /createconf HTTP/1.0\r\n\r\n" +
		"&tag=NM_A_FA_CONVERSATION&cmd=0&val=1&type=9" +
		"&tag=NM_A_SZ_OBJECT_ID&cmd=0&val=%5b00000000%2d00000000%2d00000000%2d0000%2d0000%5d&type=10" +
		"&tag=NM_A_SZ_DN&cmd=0&val=cn%3dbob%2co%3dacme&type=13" +
		"&tag=NM_A_SZ_DN&cmd=0&val=cn%3dalice%2co%3dacme&type=13" +
		"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=2&type=10\r\n"
	// §9.7: sendmessage "a" LF "b" to cn=bob,ou=users,o=acme, TID 1.
	vectorSendMessageRequest = "POST /sendmessage HTTP/1.0\r\n\r\n" +
		"&tag=NM_A_FA_CONVERSATION&cmd=0&val=1&type=9" +
		"&tag=NM_A_SZ_OBJECT_ID&cmd=0&val=%5bA1B2C3D4%2d11111111%2d22222222%2d3333%2d4444%5d&type=10" +
		"&tag=NM_A_FA_MESSAGE&cmd=0&val=3&type=9" +
		"&tag=NM_A_SZ_MESSAGE_BODY&cmd=0&val=%7b%5crtf1%5cansi%0a%7b%5cfonttbl%7b%5cf0%5cfnil+Unknown%3b%7d%7d%0a%7b%5ccolortbl+%3b%5cred0%5cgreen0%5cblue0%3b%7d%0a%5cuc1%5ccf1%5cf0%5cfs24+a%5cpar+b%5cpar%0a%7d&type=10" +
		"&tag=NM_A_UD_MESSAGE_TYPE&cmd=0&val=0&type=8" +
		"&tag=NM_A_SZ_MESSAGE_TEXT&cmd=0&val=a%0ab&type=10" +
		"&tag=NM_A_SZ_DN&cmd=0&val=cn%3dbob%2cou%3dusers%2co%3dacme&type=13" +
		"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=1&type=10\r\n"
)

// withTID returns a copy of a binary response vector whose one-digit
// transaction id is replaced by tid (also one digit).
func withTID(t testing.TB, vector []byte, tid byte) []byte {
	t.Helper()
	marker := []byte("NM_A_SZ_TRANSACTION_ID\x00\x02\x00\x00\x00")
	i := bytes.Index(vector, marker)
	if i < 0 {
		t.Fatal("vector has no one-digit transaction id")
	}
	out := bytes.Clone(vector)
	out[i+len(marker)] = tid
	return out
}

// requestTID replaces the final transaction id of a text request vector.
func requestTID(vector, from, to string) string {
	return strings.TrimSuffix(vector, "val="+from+"&type=10\r\n") + "val=" + to + "&type=10\r\n"
}

// TestGoldenSession replays the server side of spec §9 byte for byte and
// checks what the client makes of it and what it sends.
func TestGoldenSession(t *testing.T) {
	srv := newScriptServer(t)
	c, err := Dial(context.Background(), srv.config())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	p := srv.accept()
	go func() {
		p.rawRequest() // login, checked in TestLoginRequestMatchesLibpurple
		p.write(vectorLoginResponse)
		p.expect(gwproto.CmdSetStatus) // TID 2
		p.write(vectorResultResponse)
	}()
	info, err := c.Login(context.Background(), "alice", "p@ss w0rd")
	if err != nil {
		t.Fatalf("Login with the §9.2 response: %v", err)
	}
	bob := User{DN: "cn=bob,o=acme", DisplayID: "bob.acme", FullName: "Bob B", Status: gwproto.StatusAvailable}
	want := LoginInfo{
		Self:     User{DN: "cn=alice,o=acme", DisplayID: "alice.acme", FullName: "Alice A"},
		Contacts: ContactList{Contacts: []Contact{{ID: 2, DisplayName: "Bob", DN: "cn=bob,o=acme", Details: bob}}},
	}
	want.Self.Status = gwproto.StatusAvailable // set by the setstatus that followed
	if diff := cmp.Diff(&want, info, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("login info (-want +got):\n%s", diff)
	}

	// §9.3: a message from Bob opens a conference.
	p.write(vectorMessageEvent)
	msg, ok := nextEvent(t, c).(MessageReceived)
	const guid = "[A1B2C3D4-11111111-22222222-3333-4444]"
	if !ok || msg.Text != "Hi é" || msg.GUID != guid || msg.Source != "cn=bob,o=acme" || msg.Received.IsZero() {
		t.Errorf("§9.3 event = %#v", msg)
	}

	// The reply goes to the GUID learned from the event (§9.7, TID 3).
	sent := make(chan string, 1)
	go func() {
		sent <- string(p.rawRequest())
		p.write(withTID(t, vectorResultResponse, '3'))
	}()
	if err := c.SendMessage(context.Background(), guid, "a\nb"); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	wantSend := strings.Replace(requestTID(vectorSendMessageRequest, "1", "3"),
		"cn%3dbob%2cou%3dusers%2co%3dacme", "cn%3dbob%2co%3dacme", 1)
	if diff := cmp.Diff(wantSend, <-sent); diff != "" {
		t.Errorf("sendmessage differs from §9.7 (-want +got):\n%s", diff)
	}

	// §9.8: Bob goes away.
	p.write(vectorStatusEvent)
	st, ok := nextEvent(t, c).(StatusChanged)
	if !ok || st.Source != "cn=bob,o=acme" || st.Status != gwproto.StatusAway || st.Text != "gone fishing" {
		t.Errorf("§9.8 event = %#v", st)
	}

	// §9.6: createconf and its response (TID 4).
	go func() {
		sent <- string(p.rawRequest())
		p.write(withTID(t, vectorCreateConfResponse, '4'))
	}()
	got, err := c.CreateConference(context.Background(), "cn=bob,o=acme")
	if err != nil || got != guid {
		t.Errorf("CreateConference = %q, %v; want %q", got, err, guid)
	}
	if diff := cmp.Diff(requestTID(vectorCreateConfRequest, "2", "4"), <-sent); diff != "" {
		t.Errorf("createconf differs from §9.6 (-want +got):\n%s", diff)
	}
}

func TestGoldenWrongPassword(t *testing.T) {
	srv := newScriptServer(t)
	c, err := Dial(context.Background(), srv.config())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	p := srv.accept()
	go func() {
		p.expect(gwproto.CmdLogin)
		p.write(vectorWrongPasswordResponse)
	}()
	_, err = c.Login(context.Background(), "alice", "wrong")
	if !errors.Is(err, ErrWrongPassword) || !errors.Is(err, &gwproto.ResultError{Code: 53516}) {
		t.Errorf("Login with the §9.5 response = %v, want ErrWrongPassword (53516)", err)
	}
}
