package gwclient

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

const testGUID = "[11111111-22222222-33333333-4444-5555]"

func TestEventsAreTyped(t *testing.T) {
	h := Header{Source: bobDN}
	rtf := gwproto.RTFWrap("Grüße\n{ok}")
	for _, tc := range []struct {
		in   gwproto.Event
		want Event
	}{
		{gwproto.Event{Type: gwproto.EventInvalidRecipient, Source: bobDN}, InvalidRecipient{h}},
		{gwproto.Event{Type: gwproto.EventUndeliverableStatus, Source: bobDN, GUID: testGUID}, Undeliverable{h, testGUID}},
		{gwproto.Event{Type: gwproto.EventStatusChange, Source: bobDN, Status: gwproto.StatusBusy, Text: "busy ☎"},
			StatusChanged{h, gwproto.StatusBusy, "busy ☎"}},
		{gwproto.Event{Type: gwproto.EventContactAdd, Source: bobDN}, ContactAdded{h}},
		{gwproto.Event{Type: gwproto.EventReceiveMessage, Source: bobDN, GUID: testGUID, Flags: 1, Text: rtf},
			MessageReceived{h, testGUID, 1, "Grüße\n{ok}", false}},
		{gwproto.Event{Type: gwproto.EventReceiveAutoReply, Source: bobDN, GUID: testGUID, Text: "away {not rtf}"},
			MessageReceived{h, testGUID, 0, "away {not rtf}", true}},
		{gwproto.Event{Type: gwproto.EventConferenceJoined, Source: bobDN, GUID: testGUID, Flags: 2}, ConferenceJoined{h, testGUID, 2}},
		{gwproto.Event{Type: gwproto.EventConferenceLeft, Source: bobDN, GUID: testGUID, Flags: 2}, ConferenceLeft{h, testGUID, 2}},
		{gwproto.Event{Type: gwproto.EventReceiveFile, Source: bobDN}, FileOffered{h}},
		{gwproto.Event{Type: gwproto.EventUserTyping, Source: bobDN, GUID: testGUID}, Typing{h, testGUID, true}},
		{gwproto.Event{Type: gwproto.EventUserNotTyping, Source: bobDN, GUID: testGUID}, Typing{h, testGUID, false}},
		{gwproto.Event{Type: gwproto.EventConferenceInvite, Source: bobDN, GUID: testGUID, Text: "come in"}, Invited{h, testGUID, "come in"}},
		{gwproto.Event{Type: gwproto.EventConferenceInviteNotify, Source: bobDN, GUID: testGUID}, ParticipantInvited{h, testGUID}},
		{gwproto.Event{Type: gwproto.EventConferenceReject, Source: bobDN, GUID: testGUID}, InviteRejected{h, testGUID}},
		{gwproto.Event{Type: gwproto.EventConferenceClosed, Source: bobDN, GUID: testGUID}, ConferenceClosed{h, testGUID}},
	} {
		t.Run(tc.in.Type.String(), func(t *testing.T) {
			srv := newScriptServer(t)
			c, p := loggedIn(t, srv, srv.config())
			p.event(tc.in)
			got := nextEvent(t, c)
			if got.EventHeader().Received.IsZero() {
				t.Error("event has no arrival time")
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Header{}, "Received")); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConferenceStateFollowsEvents(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	// A message on a new GUID creates the conference with its sender.
	p.event(gwproto.Event{Type: gwproto.EventReceiveMessage, Source: bobDN, GUID: testGUID, Text: gwproto.RTFWrap("hi")})
	nextEvent(t, c)
	// GUIDs compare on their first 27 characters, case-insensitively, as in
	// libpurple; the user's own DN is never listed as a participant.
	for _, dn := range []string{carolDN, aliceDN} {
		p.event(gwproto.Event{Type: gwproto.EventConferenceJoined, Source: dn, GUID: strings.ToLower(testGUID[:27]) + "-ffff-ffff]"})
		nextEvent(t, c)
	}
	if got, _ := c.Participants(testGUID); !cmp.Equal(got, []string{bobDN, carolDN}) {
		t.Errorf("participants = %v", got)
	}
	p.event(gwproto.Event{Type: gwproto.EventConferenceLeft, Source: bobDN, GUID: testGUID})
	nextEvent(t, c)
	if got, _ := c.Participants(testGUID); !cmp.Equal(got, []string{carolDN}) {
		t.Errorf("participants after bob left = %v", got)
	}
	// OpenIM finds the conference whose only other participant is carol.
	if guid, err := c.OpenIM(t.Context(), carolDN); err != nil || guid != testGUID {
		t.Errorf("OpenIM(carol) = %q, %v", guid, err)
	}
	p.event(gwproto.Event{Type: gwproto.EventConferenceClosed, Source: carolDN, GUID: testGUID})
	nextEvent(t, c)
	if _, ok := c.Participants(testGUID); ok {
		t.Error("conference still known after event 105")
	}
	if err := c.SendTyping(t.Context(), testGUID, true); !errors.Is(err, ErrUnknownConference) {
		t.Errorf("SendTyping on a closed conference = %v, want ErrUnknownConference", err)
	}
}

func TestUnknownSenderLookedUpBeforeDelivery(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	events := c.Events() // look-ups start once a consumer is chosen
	const daveDN = "cn=dave,ou=users,o=acme"
	p.event(gwproto.Event{Type: gwproto.EventReceiveMessage, Source: daveDN, GUID: testGUID, Text: gwproto.RTFWrap("who am I?")})
	p.event(gwproto.Event{Type: gwproto.EventUserTyping, Source: bobDN, GUID: testGUID})
	req := p.expect(gwproto.CmdGetDetails)
	if key, _ := req.Fields.String(gwproto.TagSzUserID); key != daveDN {
		t.Errorf("getdetails key = %q, want %q", key, daveDN)
	}
	// Neither the message nor the later typing event may overtake the
	// look-up.
	select {
	case ev := <-events:
		t.Fatalf("event %#v delivered before the sender's details arrived", ev)
	default:
	}
	p.reply(req, nil, gwproto.NewArray(gwproto.TagFaResults, userRecord(daveDN, "dave", "Dave Acme", gwproto.StatusAvailable)...))
	if ev, ok := nextEvent(t, c).(MessageReceived); !ok || ev.Source != daveDN || ev.Text != "who am I?" {
		t.Errorf("first event = %#v, want dave's message", ev)
	}
	if u, ok := c.User(daveDN); !ok || u.FullName != "Dave Acme" {
		t.Errorf("User(dave) = %+v, %v", u, ok)
	}
	if ev, ok := nextEvent(t, c).(Typing); !ok || ev.Source != bobDN {
		t.Errorf("second event = %#v, want bob typing", ev)
	}
}

func TestUnknownSenderLookupFailureStillDelivers(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	c.Events() // look-ups start once a consumer is chosen
	const ghostDN = "cn=ghost,o=acme"
	p.event(gwproto.Event{Type: gwproto.EventConferenceInvite, Source: ghostDN, GUID: testGUID, Text: "boo"})
	p.replyCode(p.expect(gwproto.CmdGetDetails), gwproto.CodeUserNotFound, nil)
	if ev, ok := nextEvent(t, c).(Invited); !ok || ev.Source != ghostDN {
		t.Errorf("event = %#v", ev)
	}
}

func TestMessageBodies(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"libpurple template", gwproto.RTFWrap("été 😀 \\ {x}"), "été 😀 \\ {x}"},
		{"charset and unicode", `{\rtf1{\fonttbl{\f0 A;}{\f1\fcharset204 B;}}\f1 \'c0\'c1 \f0 x \u128512? z}`, "АБ x 😀 z"},
		{"plain text, not RTF", "plain text first", "plain text first"},
		{"broken RTF delivered as sent", `{\rtf1 unbalanced}}`, `{\rtf1 unbalanced}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t)
			c, p := loggedIn(t, srv, srv.config())
			p.event(gwproto.Event{Type: gwproto.EventReceiveMessage, Source: bobDN, GUID: testGUID, Text: tc.body})
			if ev, ok := nextEvent(t, c).(MessageReceived); !ok || ev.Text != tc.want {
				t.Errorf("text = %q, want %q", ev.Text, tc.want)
			}
		})
	}
}

func TestEventOverflowEndsConnection(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	cfg.EventBuffer = 2
	c, p := loggedIn(t, srv, cfg)
	// Nobody reads Events: two events fit the buffer, one more may wait in
	// the hand-over to the channel, then the buffer overflows.
	for range 4 {
		p.event(gwproto.Event{Type: gwproto.EventUserTyping, Source: bobDN, GUID: testGUID})
	}
	if err := waitDone(t, c); !errors.Is(err, ErrEventOverflow) {
		t.Fatalf("Err() = %v, want ErrEventOverflow", err)
	}
	// Events accepted before the overflow are still delivered, then the
	// channel closes.
	n := 0
	for range c.Events() {
		n++
	}
	if n < cfg.EventBuffer || n > cfg.EventBuffer+1 {
		t.Errorf("delivered %d events after the overflow, want %d or %d", n, cfg.EventBuffer, cfg.EventBuffer+1)
	}
}

func TestUnknownEventTypeIsProtocolError(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	// A GroupWise 7 broadcast (122): its payload is unknown, so the stream
	// cannot continue.
	b := binary.LittleEndian.AppendUint32(nil, 122)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(bobDN)+1))
	p.write(append(append(b, bobDN...), 0))
	err := waitDone(t, c)
	if !errors.Is(err, ErrProtocol) || !errors.Is(err, gwproto.ErrUnknownEvent) {
		t.Errorf("Err() = %v, want ErrProtocol wrapping gwproto.ErrUnknownEvent", err)
	}
}

func TestOversizedFieldIsProtocolError(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	// A string field claiming 1 GiB: refused before anything is allocated.
	b := []byte("HTTP/1.0 200 OK\r\n\r\n\x0a\x00\x14\x00\x00\x00NM_A_SZ_RESULT_CODE\x00")
	b = binary.LittleEndian.AppendUint32(b, 1<<30)
	p.write(b)
	if err := waitDone(t, c); !errors.Is(err, ErrProtocol) || !errors.Is(err, gwproto.ErrValueTooLong) {
		t.Errorf("Err() = %v, want ErrProtocol wrapping gwproto.ErrValueTooLong", err)
	}
}

func TestServerDisconnectEvent(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	p.event(gwproto.Event{Type: gwproto.EventServerDisconnect, Source: aliceDN})
	if _, ok := nextEvent(t, c).(ServerDisconnected); !ok {
		t.Error("no ServerDisconnected event")
	}
	if err := waitDone(t, c); !errors.Is(err, ErrServerDisconnect) {
		t.Errorf("Err() = %v, want ErrServerDisconnect", err)
	}
}
