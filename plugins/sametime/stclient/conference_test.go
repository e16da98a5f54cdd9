package stclient_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

func sendConf(t *testing.T, sc *scriptConn, id uint32, msgType uint16, data []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	sc.sendOn(id, msgType, data)
}

func TestConferenceCreated(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ctx := context.Background()
	alice, bob := loginInfo("alice", "alice-login-0001"), loginInfo("bob", "bob-login-0002")

	type result struct {
		cf  *stclient.Conference
		err error
	}
	got := make(chan result, 1)
	go func() {
		cf, err := s.c.CreateConference(ctx, "Planning ✓")
		got <- result{cf, err}
	}()
	create := s.sc.nextCreate(stproto.ServiceConference)
	a, err := stproto.UnmarshalConfCreateAddtl(create.Addtl)
	if err != nil || !strings.HasPrefix(a.Name, "alice(") || a.Title != "Planning ✓" {
		t.Fatalf("create addtl %+v %v", a, err)
	}
	if create.ProtoType != 0x10 || create.ProtoVer != 2 || len(create.Encrypt.Items) != 0 {
		t.Errorf("conference create %+v", create)
	}
	s.sc.accept(create, nil, stproto.EncryptAnswer{})
	// Our own JOIN comes before the WELCOME and is not an event.
	data, err := stproto.MarshalConfJoin(stproto.ConfMember{ID: 1, Login: alice})
	sendConf(t, s.sc, create.ID, stproto.ConfMsgJoin, data, err)
	data, err = stproto.ConfWelcome{Name: a.Name, Title: a.Title, Members: []stproto.ConfMember{{ID: 1, Login: alice}}}.Marshal()
	sendConf(t, s.sc, create.ID, stproto.ConfMsgWelcome, data, err)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	cf := r.cf
	if ms := cf.Members(); len(ms) != 1 || ms[0].UserID != "alice" || cf.Title() != "Planning ✓" || cf.Name() != a.Name {
		t.Errorf("conference %q %q members %+v", cf.Name(), cf.Title(), ms)
	}

	if err := cf.Invite(ctx, "bob", "join us"); err != nil {
		t.Fatal(err)
	}
	_, inv := s.sc.nextSend(create.ID, stproto.ConfMsgInvite)
	if i, err := stproto.UnmarshalConfInvite(inv.Data); err != nil || i.Who.User != "bob" || i.Text != "join us" {
		t.Errorf("invite %+v %v", i, err)
	}
	data, err = stproto.MarshalConfJoin(stproto.ConfMember{ID: 2, Login: bob})
	sendConf(t, s.sc, create.ID, stproto.ConfMsgJoin, data, err)
	if ev := nextEvent[stclient.ConferenceMemberEvent](t, s.c); !ev.Joined || ev.Member.UserID != "bob" || ev.Conference != cf {
		t.Errorf("join event %+v", ev)
	}

	data, err = stproto.ConfText{MemberID: 2, Kind: stproto.IMKindText, Text: "hallo zusammen ✓"}.MarshalServer()
	sendConf(t, s.sc, create.ID, stproto.ConfMsgMessage, data, err)
	if ev := nextEvent[stclient.ConferenceMessageEvent](t, s.c); ev.From.UserID != "bob" || ev.Text != "hallo zusammen ✓" {
		t.Errorf("message event %+v", ev)
	}
	data, err = stproto.ConfText{MemberID: 2, Kind: stproto.IMKindData, Typing: true}.MarshalServer()
	sendConf(t, s.sc, create.ID, stproto.ConfMsgMessage, data, err)
	if ev := nextEvent[stclient.ConferenceTypingEvent](t, s.c); ev.From.UserID != "bob" || !ev.Typing {
		t.Errorf("typing event %+v", ev)
	}

	if err := cf.SendText(ctx, "Antwort: ja 👍"); err != nil {
		t.Fatal(err)
	}
	m, b := s.sc.nextSend(create.ID, stproto.ConfMsgMessage)
	if txt, err := stproto.UnmarshalConfTextClient(b.Data); err != nil || txt.Text != "Antwort: ja 👍" || m.Options&stproto.OptEncrypt != 0 {
		t.Errorf("conference text %+v %v (options %#x)", txt, err, m.Options)
	}
	if err := cf.SendTyping(ctx, true); err != nil {
		t.Fatal(err)
	}
	_, b = s.sc.nextSend(create.ID, stproto.ConfMsgMessage)
	if txt, _ := stproto.UnmarshalConfTextClient(b.Data); !txt.Typing {
		t.Errorf("conference typing %+v", txt)
	}

	data, err = stproto.MarshalConfPart(2)
	sendConf(t, s.sc, create.ID, stproto.ConfMsgPart, data, err)
	if ev := nextEvent[stclient.ConferenceMemberEvent](t, s.c); ev.Joined || ev.Member.UserID != "bob" {
		t.Errorf("part event %+v", ev)
	}
	if err := cf.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if id, d := s.sc.nextDestroy(); id != create.ID || d.Reason != 0 {
		t.Errorf("leave: destroy ch %d reason %v", id, d.Reason)
	}
	errorIs(t, cf.SendText(ctx, "anyone?"), stclient.ErrChannelClosed)
}

func inviteAlice(t *testing.T, sc *scriptConn, id uint32) stproto.LoginInfo {
	t.Helper()
	carol := loginInfo("carol", "carol-login-03")
	addtl, err := stproto.ConfInvitation{Name: "carol(6523a1b2,0a0b)", Title: "Lunch", Inviter: carol, Text: "come along"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sc.send(&stproto.Message{Body: &stproto.ChannelCreate{
		ID: id, Target: stproto.IDBlock{User: "alice"}, Service: stproto.ServiceConference,
		ProtoType: 0x10, ProtoVer: 2, Addtl: addtl, Creator: &carol,
	}})
	return carol
}

func TestConferenceInvitation(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ctx := context.Background()
	const id = 0x80000005
	carol := inviteAlice(t, s.sc, id)
	inv := nextEvent[stclient.ConferenceInviteEvent](t, s.c).Invitation
	if inv.From.UserID != "carol" || inv.Text != "come along" || inv.Conference.Title() != "Lunch" {
		t.Errorf("invitation %+v", inv)
	}
	type result struct {
		cf  *stclient.Conference
		err error
	}
	got := make(chan result, 1)
	go func() {
		cf, err := inv.Join(ctx)
		got <- result{cf, err}
	}()
	if m := s.sc.next(stproto.TypeChannelAccept); m.Channel != id {
		t.Fatalf("accept on ch %#x", m.Channel)
	}
	if m, b := s.sc.nextSend(id, stproto.ConfMsgJoin); len(b.Data) != 0 || m.Options != 0 {
		t.Errorf("JOIN %+v", b)
	}
	data, err := stproto.ConfWelcome{Name: "carol(6523a1b2,0a0b)", Title: "Lunch", Members: []stproto.ConfMember{
		{ID: 1, Login: carol}, {ID: 2, Login: loginInfo("alice", "alice-login-0001")},
	}}.Marshal()
	sendConf(t, s.sc, id, stproto.ConfMsgWelcome, data, err)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if ms := r.cf.Members(); len(ms) != 2 || ms[0].UserID != "carol" || ms[1].UserID != "alice" {
		t.Errorf("members %+v", ms)
	}
	_, err = inv.Join(ctx)
	errorIs(t, err, stclient.ErrAlreadyAnswered)

	s.sc.send(&stproto.Message{Channel: id, Body: &stproto.ChannelDestroy{Reason: stproto.ReasonSuccess}})
	if ev := nextEvent[stclient.ConferenceClosedEvent](t, s.c); ev.Conference != r.cf {
		t.Errorf("closed event %+v", ev)
	}

	// A second invitation, declined.
	inviteAlice(t, s.sc, id+1)
	inv = nextEvent[stclient.ConferenceInviteEvent](t, s.c).Invitation
	if err := inv.Decline(ctx); err != nil {
		t.Fatal(err)
	}
	if gotID, d := s.sc.nextDestroy(); gotID != id+1 || d.Reason != 0 {
		t.Errorf("decline: destroy ch %#x reason %v", gotID, d.Reason)
	}
}
