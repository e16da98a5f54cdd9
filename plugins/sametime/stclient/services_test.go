package stclient_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// unhex decodes a spec hex dump (spaces and | allowed).
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameOf re-encodes a received message as a frame.
func frameOf(t testing.TB, m *stproto.Message) []byte {
	t.Helper()
	b, err := m.MarshalFrame()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storageServer answers storage requests from a map, as a server would.
func storageServer(t *testing.T, sc *scriptConn, ch uint32, store map[uint32][]byte, requests int) {
	t.Helper()
	for served := 0; served < requests; {
		m := sc.next(stproto.TypeChannelSend)
		b := m.Body.(*stproto.ChannelSend)
		if m.Channel != ch {
			continue // awareness chatter
		}
		served++
		switch b.Type {
		case stproto.StorageMsgLoad:
			req, err := stproto.UnmarshalStorageLoad(b.Data)
			if err != nil {
				t.Fatal(err)
			}
			reply := stproto.StorageLoaded{RequestID: req.RequestID, Result: stproto.ReasonNoElement}
			if v, ok := store[req.Keys[0]]; ok {
				reply.Result = 0
				reply.Units = []stproto.StorageUnit{{Key: req.Keys[0], Value: v}}
			}
			data, _ := reply.Marshal()
			sc.sendOn(ch, stproto.StorageMsgLoaded, data)
		case stproto.StorageMsgSave:
			req, err := stproto.UnmarshalStorageSave(b.Data)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range req.Units {
				store[u.Key] = append([]byte(nil), u.Value...)
			}
			data, _ := stproto.StorageSaved{RequestID: req.RequestID}.Marshal()
			sc.sendOn(ch, stproto.StorageMsgSaved, data)
		default:
			t.Fatalf("unexpected storage message %#x", b.Type)
		}
	}
}

func TestBuddyListRoundTrip(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ch := s.services[stproto.ServiceStorage]
	ctx := context.Background()

	// The list libpurple stored (spec §9.8), as the server holds it.
	stored := "Version=3.1.3\r\nG Buddies2 Buddies O\r\nU bob1:: Bob;Builder,\r\n"
	v, _ := stproto.StringValue(stored)
	store := map[uint32][]byte{stproto.StorageKeyBuddyList: v}

	type result struct {
		l   stproto.BuddyList
		err error
	}
	got := make(chan result, 1)
	go func() {
		l, err := s.c.LoadBuddyList(ctx)
		got <- result{l, err}
	}()
	// The first LOAD is byte-identical to libpurple's (spec §9.8).
	m, _ := s.sc.nextSend(ch, stproto.StorageMsgLoad)
	want := unhex(t, "0000001a 0004 0000 00000003 0004 0000000c 00000001 00000001 00000000")
	if f := frameOf(t, m); string(f) != string(want) {
		t.Errorf("LOAD frame\n got %x\nwant %x", f, want)
	}
	data, _ := stproto.StorageLoaded{RequestID: 1, Units: []stproto.StorageUnit{{Key: 0, Value: v}}}.Marshal()
	s.sc.sendOn(ch, stproto.StorageMsgLoaded, data)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	wantList := stproto.BuddyList{Version: "3.1.3", Groups: []stproto.BuddyGroup{{
		ID: "Buddies", Type: stproto.GroupNormal, Alias: "Buddies", Open: true,
		Users: []stproto.BuddyUser{{ID: "bob", Type: stproto.BuddyNormal, Name: "Bob Builder"}},
	}}}
	if diff := cmp.Diff(wantList, r.l); diff != "" {
		t.Fatalf("loaded list (-want +got):\n%s", diff)
	}

	// Add a buddy with non-ASCII and spaces, save, load back.
	r.l.Groups[0].Users = append(r.l.Groups[0].Users, stproto.BuddyUser{ID: "zoë", Type: stproto.BuddyNormal, Name: "Zoë Ünal", Alias: "Z"})
	r.l.Groups = append(r.l.Groups, stproto.BuddyGroup{ID: "Work", Type: stproto.GroupNormal, Alias: "Work mates"})
	errc := make(chan error, 1)
	go func() { errc <- s.c.SaveBuddyList(ctx, r.l) }()
	storageServer(t, s.sc, ch, store, 1)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	go func() {
		l, err := s.c.LoadBuddyList(ctx)
		got <- result{l, err}
	}()
	storageServer(t, s.sc, ch, store, 1)
	back := <-got
	if back.err != nil {
		t.Fatal(back.err)
	}
	if diff := cmp.Diff(r.l, back.l); diff != "" {
		t.Fatalf("round trip (-saved +loaded):\n%s", diff)
	}
}

func TestStorageNotFound(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ch := s.services[stproto.ServiceStorage]
	type result struct {
		l   stproto.BuddyList
		err error
	}
	got := make(chan result, 2)
	go func() {
		_, err := s.c.Load(context.Background(), stproto.StorageKeyAwayMessages)
		got <- result{err: err}
		l, err := s.c.LoadBuddyList(context.Background())
		got <- result{l, err}
	}()
	storageServer(t, s.sc, ch, map[uint32][]byte{}, 2)
	errorIs(t, (<-got).err, stclient.ErrNotFound)
	if r := <-got; r.err != nil || len(r.l.Groups) != 0 {
		t.Fatalf("empty server list: %+v, %v", r.l, r.err)
	}
}

func TestPresence(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ctx := context.Background()
	aware := s.services[stproto.ServiceAware]
	if aware != 2 {
		t.Fatalf("aware channel %d; the spec vectors below assume 2", aware)
	}

	// At open the client asks for attributes and says it takes files.
	_, w := s.sc.nextSend(aware, stproto.AwareMsgOptWatch)
	watch, _ := stproto.UnmarshalAttrWatch(w.Data)
	if !containsKey(watch.Keys, stproto.AttrFileTransfer) {
		t.Errorf("OPT_WATCH keys %v lack 0x06", watch.Keys)
	}
	_, set := s.sc.nextSend(aware, stproto.AwareMsgOptDoSet)
	if attr, _ := stproto.UnmarshalAttrDoSet(set.Data); attr.Key != stproto.AttrFileTransfer || !stproto.AttrBool(attr.Value) {
		t.Errorf("OPT_DO_SET %+v", attr)
	}

	if err := s.c.Watch(ctx, "bob", "dave"); err != nil {
		t.Fatal(err)
	}
	_, add := s.sc.nextSend(aware, stproto.AwareMsgAdd)
	ids, _ := stproto.UnmarshalAwareIDList(add.Data)
	if len(ids.IDs) != 2 || ids.IDs[0].User != "bob" || ids.IDs[1].User != "dave" || ids.IDs[0].Type != stproto.AwareUser {
		t.Errorf("AWARE_ADD %+v", ids)
	}

	// The server's snapshot and attribute frames, verbatim from spec §9.8.
	write := func(h string) {
		if _, err := s.sc.conn.Write(unhex(t, h)); err != nil {
			t.Fatal(err)
		}
	}
	write("00000043 0004 0000 00000002 01f4 00000035 | 00000001 | 00000031 0002 0003 626f62 0000 | 0000 | 01 | 0003 626f62 | 0020 00000000 0007 617420776f726b | 000b 426f62204275696c646572")
	ev := nextEvent[stclient.PresenceEvent](t, s.c)
	want := stclient.PresenceEvent{User: "bob", Name: "Bob Builder", Online: true, Status: stproto.StatusActive, Message: "at work"}
	if ev != want {
		t.Errorf("snapshot event %+v, want %+v", ev, want)
	}
	write("00000031 0004 0000 00000002 0259 00000023 00000000 0002 0003 626f62 0000 00000000 00000002 00000000 00000006 00000002 0001")
	attr := nextEvent[stclient.AttributeEvent](t, s.c)
	if attr.User != "bob" || attr.Key != stproto.AttrFileTransfer || !attr.Bool() {
		t.Errorf("attribute event %+v", attr)
	}
	if !s.c.SupportsFileTransfer("bob") || s.c.SupportsFileTransfer("dave") {
		t.Error("file-transfer capability not tracked")
	}

	// Updates for users we do not watch are ignored.
	update := func(user string, online bool, st stproto.StatusCode, msg string) {
		snap := stproto.AwareSnapshot{ID: stproto.AwareIDBlock{Type: stproto.AwareUser, User: user}, Online: online}
		if online {
			snap.AltID, snap.Status, snap.Name = user, stproto.UserStatus{Status: st, Desc: msg}, user
		}
		data, _ := stproto.MarshalAwareUpdate(snap)
		s.sc.sendOn(aware, stproto.AwareMsgUpdate, data)
	}
	update("mallory", true, stproto.StatusActive, "")
	update("bob", true, stproto.StatusAway, "lunch")
	if ev := nextEvent[stclient.PresenceEvent](t, s.c); ev.User != "bob" || ev.Status != stproto.StatusAway || ev.Message != "lunch" {
		t.Errorf("update event %+v", ev)
	}
	update("bob", false, 0, "")
	if ev := nextEvent[stclient.PresenceEvent](t, s.c); ev.User != "bob" || ev.Online || ev.Status != stproto.StatusOffline {
		t.Errorf("offline event %+v", ev)
	}
	if s.c.SupportsFileTransfer("bob") {
		t.Error("attributes kept after going offline")
	}

	// Our own presence, the other way.
	if err := s.c.SetStatus(ctx, stproto.StatusBusy, "in a meeting"); err != nil {
		t.Fatal(err)
	}
	st := s.sc.next(stproto.TypeSetUserStatus).Body.(*stproto.SetUserStatus)
	for st.Status.Status == stproto.StatusActive { // the login-time status may come first
		st = s.sc.next(stproto.TypeSetUserStatus).Body.(*stproto.SetUserStatus)
	}
	if st.Status.Status != stproto.StatusBusy || st.Status.Desc != "in a meeting" {
		t.Errorf("SET_USER_STATUS %+v", st.Status)
	}

	if err := s.c.Unwatch(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	_, rm := s.sc.nextSend(aware, stproto.AwareMsgRemove)
	if ids, _ := stproto.UnmarshalAwareIDList(rm.Data); len(ids.IDs) != 1 || ids.IDs[0].User != "bob" {
		t.Errorf("AWARE_REMOVE %+v", ids)
	}
}

func containsKey(keys []uint32, k uint32) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func TestWatchBeforeAwareOpens(t *testing.T) {
	srv := newScriptServer(t)
	done := dialAsync(srv.config("alice", "pw"))
	sc := srv.accept()
	sc.handshake(true)
	sc.login()
	sc.sendLoginAck("alice", "alice-login-0001")
	c, err := waitDial(t, done)
	if err != nil {
		t.Fatal(err)
	}
	create := sc.nextCreate(stproto.ServiceAware)
	errc := make(chan error, 1)
	go func() { errc <- c.Watch(context.Background(), "bob") }()
	sc.accept(create, nil, stproto.EncryptAnswer{})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// The subscription reaches the server once the channel is open.
	_, add := sc.nextSend(create.ID, stproto.AwareMsgAdd)
	if ids, _ := stproto.UnmarshalAwareIDList(add.Data); len(ids.IDs) != 1 || ids.IDs[0].User != "bob" {
		t.Errorf("AWARE_ADD %+v", ids)
	}
}

func TestResolve(t *testing.T) {
	srv := newScriptServer(t)
	s := loginSession(t, srv, srv.config("alice", "pw"))
	ch := s.services[stproto.ServiceResolve]
	type result struct {
		r   stproto.ResolveResponse
		err error
	}
	got := make(chan result, 1)
	go func() {
		r, err := s.c.Resolve(context.Background(), stproto.ResolveFirst|stproto.ResolveCheckUsers, "bob")
		got <- result{r, err}
	}()
	_, b := s.sc.nextSend(ch, stproto.ResolveMsgType)
	req, err := stproto.UnmarshalResolveRequest(b.Data)
	if err != nil || req.Flags != 0x0a || len(req.Queries) != 1 || req.Queries[0] != "bob" {
		t.Fatalf("request %+v %v", req, err)
	}
	data, _ := stproto.ResolveResponse{SearchID: req.SearchID, Results: []stproto.ResolveResult{{
		Query: "bob", Matches: []stproto.ResolveMatch{{ID: "bob", Name: "Bob Builder", Type: stproto.ResolveMatchUser}},
	}}}.Marshal()
	s.sc.sendOn(ch, stproto.ResolveMsgType, data)
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.r.Results) != 1 || len(r.r.Results[0].Matches) != 1 || r.r.Results[0].Matches[0].Name != "Bob Builder" {
		t.Errorf("response %+v", r.r)
	}
}
