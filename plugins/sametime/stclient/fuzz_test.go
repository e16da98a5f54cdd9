package stclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/internal/captures"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// frames concatenates encoded messages into one server stream.
func frames(tb testing.TB, ms ...*stproto.Message) []byte {
	tb.Helper()
	var out []byte
	for _, m := range ms {
		b, err := m.MarshalFrame()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

func sendMsg(id uint32, typ uint16, data []byte) *stproto.Message {
	return &stproto.Message{Channel: id, Body: &stproto.ChannelSend{Type: typ, Data: data}}
}

// seedStreams are server streams exercising every service handler, built
// from the spec §9 shapes.
func seedStreams(tb testing.TB) [][]byte {
	p := func(b []byte, err error) []byte {
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	carol := stproto.LoginInfo{LoginID: "carol-login-03", LoginType: stproto.LoginTypeJavaApp, UserID: "carol", UserName: "Carol C"}
	imAddtl := p(stproto.IMCreateAddtl{ClientType: stproto.IMClientNotesBuddy}.Marshal())
	ftAddtl := p(stproto.FTOffer{Filename: "carol.txt", Message: "a file for you", Size: 10244}.Marshal())
	confAddtl := p(stproto.ConfInvitation{Name: "carol(1,2)", Title: "t", Inviter: carol, Text: "join"}.Marshal())
	create := func(id uint32, svc stproto.ServiceID, proto stproto.ChannelProtocol, addtl []byte) *stproto.Message {
		return &stproto.Message{Body: &stproto.ChannelCreate{
			ID: id, Target: stproto.IDBlock{User: "alice"}, Service: svc,
			ProtoType: proto.Type, ProtoVer: proto.Version, Addtl: addtl, Creator: &carol,
		}}
	}
	imProto, _ := stproto.ProtocolOf(stproto.ServiceIM)
	ftProto, _ := stproto.ProtocolOf(stproto.ServiceFileTransfer)
	confProto, _ := stproto.ProtocolOf(stproto.ServiceConference)
	bob := stproto.AwareSnapshot{ID: stproto.AwareIDBlock{Type: stproto.AwareUser, User: "bob"}, Online: true,
		Status: stproto.UserStatus{Status: stproto.StatusAway, Desc: "lunch"}}
	return [][]byte{
		frames(tb,
			create(0x80000001, stproto.ServiceIM, imProto, imAddtl),
			sendMsg(0x80000001, stproto.IMMessageType, p(stproto.NewIMText("hello").Marshal())),
			sendMsg(0x80000001, stproto.IMMessageType, p(stproto.NewIMTyping(true).Marshal())),
			sendMsg(0x80000001, stproto.IMMessageType, p(stproto.IMMessage{Kind: stproto.IMKindData, DataType: stproto.IMDataMultipartStart}.Marshal())),
			sendMsg(0x80000001, stproto.IMMessageType, p(stproto.NewIMHTML("<b>hi</b>").Marshal())),
			sendMsg(0x80000001, stproto.IMMessageType, p(stproto.IMMessage{Kind: stproto.IMKindData, DataType: stproto.IMDataMultipartStop}.Marshal())),
			&stproto.Message{Channel: 0x80000001, Body: &stproto.ChannelDestroy{}},
		),
		frames(tb,
			create(0x80000002, stproto.ServiceFileTransfer, ftProto, ftAddtl),
			sendMsg(0x80000002, stproto.FTMsgData, make([]byte, 4096)),
			&stproto.Message{Channel: 0x80000002, Body: &stproto.ChannelDestroy{}},
		),
		frames(tb,
			create(0x80000003, stproto.ServiceConference, confProto, confAddtl),
			sendMsg(0x80000003, stproto.ConfMsgWelcome, p(stproto.ConfWelcome{Name: "c", Members: []stproto.ConfMember{{ID: 1, Login: carol}}}.Marshal())),
			sendMsg(0x80000003, stproto.ConfMsgJoin, p(stproto.MarshalConfJoin(stproto.ConfMember{ID: 2, Login: carol}))),
			sendMsg(0x80000003, stproto.ConfMsgMessage, p(stproto.ConfText{MemberID: 1, Kind: stproto.IMKindText, Text: "hi"}.MarshalServer())),
			sendMsg(0x80000003, stproto.ConfMsgPart, p(stproto.MarshalConfPart(2))),
		),
		frames(tb,
			sendMsg(2, stproto.AwareMsgSnapshot, p(stproto.AwareSnapshots{Snapshots: []stproto.AwareSnapshot{bob}}.Marshal())),
			sendMsg(2, stproto.AwareMsgOptGotSet, p(stproto.AttrGotSet{Who: bob.ID, Key: stproto.AttrFileTransfer, Value: stproto.AttrTrue}.Marshal())),
			sendMsg(3, stproto.StorageMsgLoaded, p(stproto.StorageLoaded{RequestID: 1}.Marshal())),
			sendMsg(1, stproto.ResolveMsgType, p(stproto.ResolveResponse{SearchID: 1}.Marshal())),
			&stproto.Message{Body: &stproto.SetUserStatus{Status: stproto.UserStatus{Status: stproto.StatusBusy}}},
			&stproto.Message{Body: &stproto.Admin{Text: "maintenance"}},
			&stproto.Message{Body: &stproto.ChannelDestroy{Reason: stproto.ReasonMultiLogin}},
		),
	}
}

// dispatchHarness is a logged-in client without a reader goroutine: the
// fuzz target plays the reader. Event consumers accept every offer and
// invitation so that those paths run too.
type dispatchHarness struct {
	c  *Client
	wg sync.WaitGroup
}

func newDispatchHarness(tb testing.TB, dh *stproto.DHKey) *dispatchHarness {
	cfg, err := Config{Host: "fuzz", User: "alice", RequestTimeout: time.Second, IOTimeout: time.Second}.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	h := &dispatchHarness{c: newClient(cfg, dh)}
	c := h.c
	client, server := net.Pipe()
	c.conn = client
	c.self = stproto.LoginInfo{LoginID: "alice-login-0001", UserID: "alice"}
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		_, _ = io.Copy(io.Discard, server)
	}()
	go func() {
		defer h.wg.Done()
		for ev := range c.events {
			switch ev := ev.(type) {
			case FileOfferEvent:
				h.wg.Add(1)
				go func() {
					defer h.wg.Done()
					_, _ = ev.Offer.Accept(context.Background(), io.Discard)
				}()
			case ConferenceInviteEvent:
				h.wg.Add(1)
				go func() {
					defer h.wg.Done()
					_, _ = ev.Invitation.Join(context.Background())
				}()
			}
		}
	}()
	c.startServices()
	for _, id := range []uint32{1, 2, 3} {
		ch := c.channels[id]
		c.onAccept(id, &stproto.ChannelAccept{Service: ch.service, ProtoType: ch.proto.Type, ProtoVer: ch.proto.Version})
	}
	return h
}

// feed dispatches every frame of stream, as the reader would.
func (h *dispatchHarness) feed(stream []byte) {
	fr := stproto.NewFrameReader(bytes.NewReader(stream), 0)
	for {
		b, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if m, err := stproto.Unmarshal(b); err == nil {
			h.c.dispatch(m)
		}
	}
}

func (h *dispatchHarness) close() {
	h.c.fail(ErrClosed)
	close(h.c.events)
	h.wg.Wait()
}

// FuzzDispatch feeds arbitrary server streams to a logged-in client: no
// input may panic it or leave goroutines behind.
func FuzzDispatch(f *testing.F) {
	streams, err := captures.Read("sametime-*.s2c.bin")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range streams {
		if len(s) > 0 {
			f.Add(s)
		}
	}
	for _, s := range seedStreams(f) {
		f.Add(s)
	}
	for _, h := range []string{
		// Spec §9.7 typing and §9.8 snapshot / attribute frames.
		"0000001e 0004 0000 80000001 0064 00000010 00000002 00000001 00000000 00000000",
		"00000043 0004 0000 00000002 01f4 00000035 00000001 00000031 0002 0003 626f62 0000 0000 01 0003 626f62 0020 00000000 0007 617420776f726b 000b 426f62204275696c646572",
		"00000031 0004 0000 00000002 0259 00000023 00000000 0002 0003 626f62 0000 00000000 00000002 00000000 00000006 00000002 0001",
	} {
		b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dh, err := stproto.GenerateDHKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		h := newDispatchHarness(t, dh)
		h.feed(stream)
		h.close()
	})
}
