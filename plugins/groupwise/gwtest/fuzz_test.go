package gwtest

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/internal/captures"
	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

func seedRequest(cmd string, fields ...gwproto.Field) []byte {
	b, err := (&gwproto.Request{Command: cmd, Fields: fields, TID: "9"}).AppendTo(nil)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzHandle feeds arbitrary request streams to a logged-in session and
// checks the server's promise to clients (contract G3): no panic, and every
// request is answered first with a response that echoes its transaction id.
func FuzzHandle(f *testing.F) {
	conv := gwproto.NewArray(gwproto.TagFaConversation, gwproto.NewString(gwproto.TagSzObjectID, gwproto.BlankGUID))
	for _, seed := range [][]byte{
		seedRequest(gwproto.CmdCreateConf, conv, gwproto.NewDN(gwproto.TagSzDN, DefaultDN("bob"))),
		seedRequest(gwproto.CmdSendMessage, conv, gwproto.NewArray(gwproto.TagFaMessage, gwproto.NewString(gwproto.TagSzMessageText, "x"))),
		seedRequest(gwproto.CmdCreateFolder, gwproto.NewString(gwproto.TagSzDisplayName, "F")),
		seedRequest(gwproto.CmdCreateContact, gwproto.NewString(gwproto.TagSzUserID, "carol")),
		seedRequest(gwproto.CmdMoveContact, gwproto.NewArray(gwproto.TagFaContactList,
			gwproto.NewArray(gwproto.TagFaContact, gwproto.NewString(gwproto.TagSzObjectID, "1"))), gwproto.NewString(gwproto.TagSzParentID, "0")),
		seedRequest(gwproto.CmdUpdateItem, gwproto.NewArray(gwproto.TagFaContactList,
			gwproto.NewArray(gwproto.TagFaContact, gwproto.NewString(gwproto.TagSzObjectID, "1"), gwproto.NewString(gwproto.TagSzDisplayName, "n")).WithMethod(gwproto.MethodAdd))),
		seedRequest(gwproto.CmdSendInvite, conv, gwproto.NewDN(gwproto.TagSzDN, "carol")),
		seedRequest(gwproto.CmdSetStatus, gwproto.NewString(gwproto.TagSzStatus, "4"), gwproto.NewString(gwproto.TagSzMessageBody, "away")),
	} {
		f.Add(seed)
	}
	streams, err := captures.Read("groupwise-*.c2s.bin")
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range streams {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := &Server{
			log:      hclog.NewNullLogger(),
			dir:      newDirectory(append(DemoUsers(), User{ID: "echo", Password: "x", Echo: true, Contacts: []string{"alice"}})),
			sessions: map[*session]struct{}{},
			confs:    map[string]*conference{},
			requests: map[string]int{},
		}
		alice, bob := fuzzSession(srv), fuzzSession(srv)
		login := func(s *session, id string) {
			srv.handle(s, &gwproto.Request{Command: gwproto.CmdLogin, TID: "1", Fields: gwproto.Fields{
				gwproto.NewString(gwproto.TagSzUserID, id), gwproto.NewString(gwproto.TagSzCredentials, "secret")}})
			drainQueue(s)
		}
		login(alice, "alice")
		login(bob, "bob")
		drainQueue(alice) // bob's presence
		rr := gwproto.NewRequestReader(bytes.NewReader(data), gwproto.Limits{})
		for {
			req, err := rr.ReadRequest()
			if err != nil {
				return
			}
			srv.handle(alice, req)
			out := drainQueue(alice)
			if len(out) == 0 {
				t.Fatalf("%s: no answer", req.Command)
			}
			resp, err := gwproto.ParseResponse(out[0])
			if err != nil {
				t.Fatalf("%s: first message is not a response: %v", req.Command, err)
			}
			if resp.TID() != req.TID {
				t.Fatalf("%s: response TID %q, want %q", req.Command, resp.TID(), req.TID)
			}
			for _, b := range out[1:] {
				if _, err := gwproto.ParseEvent(b); err != nil {
					t.Fatalf("%s: bad event after the response: %v", req.Command, err)
				}
			}
			drainQueue(bob)
		}
	})
}

// fuzzSession is a session whose output is only queued: its TLS
// connection runs over a pipe nobody reads.
func fuzzSession(srv *Server) *session {
	c1, _ := net.Pipe()
	s := newSession(srv, c1, &tls.Config{})
	srv.sessions[s] = struct{}{}
	return s
}

func drainQueue(s *session) [][]byte {
	var out [][]byte
	for {
		select {
		case b := <-s.out:
			out = append(out, b)
		default:
			return out
		}
	}
}
