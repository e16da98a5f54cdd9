package gwclient

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

// These tests run several clients against the fake server gwtest, which
// relays between them like a real server. gwtest.DemoUsers: alice (contacts
// bob and carol), bob (contact alice), carol (no contacts); password
// "secret".

func gwConfig(t *testing.T, srv *gwtest.Server) Config {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return Config{Server: host, Port: p, RootCAs: srv.CertPool(), RequestTimeout: 5 * time.Second, KeepaliveInterval: -1}
}

// login dials srv and logs user in.
func login(t *testing.T, srv *gwtest.Server, user string) (*Client, *LoginInfo) {
	t.Helper()
	c, err := Dial(context.Background(), gwConfig(t, srv))
	if err != nil {
		t.Fatalf("%s: Dial: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	info, err := c.Login(context.Background(), user, "secret")
	if err != nil {
		t.Fatalf("%s: Login: %v", user, err)
	}
	return c, info
}

// waitFor returns the first event of c that match accepts, skipping others.
func waitFor[E Event](t *testing.T, c *Client, match func(E) bool) E {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed while waiting; client error: %v", c.Err())
			}
			if e, ok := ev.(E); ok && (match == nil || match(e)) {
				return e
			}
		case <-deadline:
			var zero E
			t.Fatalf("no %T event within 5s", zero)
			return zero
		}
	}
}

func TestRelayLoginAgainstFakeServer(t *testing.T) {
	srv := gwtest.NewServer(t, gwtest.WithUsers([]gwtest.User{
		{ID: "alice", Password: "secret", FullName: "Alice Example", Contacts: []string{"carol"},
			Folders: []gwtest.Folder{{Name: "Work", Contacts: []string{"bob"}}}},
		{ID: "bob", Password: "secret", FullName: "Bob Example"},
		{ID: "carol", Password: "secret", FullName: "Carol Example"},
	}))
	_, info := login(t, srv, "alice")
	if info.Self.DN != srv.DN("alice") || info.Self.DisplayID != "alice" || info.Self.FullName != "Alice Example" {
		t.Errorf("Self = %+v", info.Self)
	}
	if len(info.Contacts.Folders) != 1 || info.Contacts.Folders[0].Name != "Work" {
		t.Fatalf("folders = %+v", info.Contacts.Folders)
	}
	work := info.Contacts.Folders[0].ID
	in := map[string]int{}
	for _, ct := range info.Contacts.Contacts {
		in[ct.Details.DisplayID] = ct.FolderID
		if ct.Details.Status != gwproto.StatusOffline {
			t.Errorf("%s status = %v, want offline", ct.DN, ct.Details.Status)
		}
	}
	if diff := cmp.Diff(map[string]int{"bob": work, "carol": 0}, in); diff != "" {
		t.Errorf("contacts by folder (-want +got):\n%s", diff)
	}
}

func TestRelayWrongPasswordAndUnknownUser(t *testing.T) {
	srv := gwtest.NewServer(t)
	for _, tc := range []struct {
		user, password string
		want           error
	}{
		{"alice", "wrong", ErrWrongPassword},
		{"nobody", "secret", ErrWrongPassword}, // the fake answers 53577 like a real server
	} {
		c, err := Dial(context.Background(), gwConfig(t, srv))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Login(context.Background(), tc.user, tc.password)
		if !errors.Is(err, tc.want) {
			t.Errorf("Login(%s, %s) = %v, want %v", tc.user, tc.password, err, tc.want)
		}
		c.Close()
	}
	alice, _ := login(t, srv, "alice")
	if _, err := alice.GetDetails(context.Background(), "nobody"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("GetDetails(nobody) = %v, want ErrUserNotFound", err)
	}
	bob, err := alice.GetDetails(context.Background(), "bob")
	if err != nil || bob.DN != srv.DN("bob") || bob.FullName != "Bob Example" {
		t.Errorf("GetDetails(bob) = %+v, %v", bob, err)
	}
}

func TestRelayPresenceSeenByOtherClient(t *testing.T) {
	srv := gwtest.NewServer(t)
	bob, _ := login(t, srv, "bob")
	alice, _ := login(t, srv, "alice")
	aliceDN := srv.DN("alice")
	waitFor(t, bob, func(e StatusChanged) bool {
		return e.Source == aliceDN && e.Status == gwproto.StatusAvailable
	})
	if err := alice.SetStatus(context.Background(), gwproto.StatusAway, "gone fishing\nback at 5", "not here"); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	ev := waitFor(t, bob, func(e StatusChanged) bool { return e.Status == gwproto.StatusAway })
	if ev.Source != aliceDN || ev.Text != "gone fishing back at 5" {
		t.Errorf("status event = %+v", ev)
	}
	if u, _ := bob.User(aliceDN); u.Status != gwproto.StatusAway || u.StatusText != "gone fishing back at 5" {
		t.Errorf("bob's record of alice = %+v", u)
	}
	if st, err := bob.GetStatus(context.Background(), aliceDN); err != nil || st != gwproto.StatusAway {
		t.Errorf("GetStatus(alice) = %v, %v", st, err)
	}
	// alice signs off: bob sees her offline.
	alice.Close()
	waitFor(t, bob, func(e StatusChanged) bool { return e.Source == aliceDN && e.Status == gwproto.StatusOffline })
}

func TestRelayMessagesBothWaysUnicodeIntact(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, _ := login(t, srv, "alice")
	bob, _ := login(t, srv, "bob")
	guid, err := alice.OpenIM(context.Background(), srv.DN("bob"))
	if err != nil {
		t.Fatalf("OpenIM: %v", err)
	}
	texts := []string{
		"Grüße aus Köln, naïve café 😀",
		"日本語のテキスト\nзвезда ★ {braces} back\\slash <b>not html</b> & more",
		"tab\tend\n",
	}
	for _, text := range texts {
		if err := alice.SendMessage(context.Background(), guid, text); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		got := waitFor[MessageReceived](t, bob, nil)
		if got.Text != text || got.Source != srv.DN("alice") || got.GUID != guid || got.AutoReply {
			t.Errorf("bob got %+v, want text %q from alice on %s", got, text, guid)
		}
	}
	// bob answers on the GUID he learned from the message.
	reply := "Привет, Алиса! ☃ €"
	if err := bob.SendMessage(context.Background(), guid, reply); err != nil {
		t.Fatalf("bob SendMessage: %v", err)
	}
	got := waitFor[MessageReceived](t, alice, nil)
	if got.Text != reply || got.GUID != guid || got.Source != srv.DN("bob") {
		t.Errorf("alice got %+v, want %q on %s", got, reply, guid)
	}
	// Opening the IM again reuses the conference instead of creating one.
	before := srv.RequestCount(gwproto.CmdCreateConf)
	if again, err := alice.OpenIM(context.Background(), srv.DN("bob")); err != nil || again != guid {
		t.Errorf("OpenIM again = %q, %v; want %q", again, err, guid)
	}
	if srv.RequestCount(gwproto.CmdCreateConf) != before {
		t.Error("OpenIM created a second conference")
	}
}

func TestRelayMessageLimits(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, _ := login(t, srv, "alice")
	guid, err := alice.OpenIM(context.Background(), srv.DN("bob"))
	if err != nil {
		t.Fatal(err)
	}
	long := make([]byte, gwproto.MaxMessageText+1)
	for i := range long {
		long[i] = 'x'
	}
	if err := alice.SendMessage(context.Background(), guid, string(long)); !errors.Is(err, ErrMessageTooLong) {
		t.Errorf("SendMessage(2049 bytes) = %v, want ErrMessageTooLong", err)
	}
	if err := alice.SendMessage(context.Background(), "[NO-SUCH-GUID]", "x"); !errors.Is(err, ErrUnknownConference) {
		t.Errorf("SendMessage(unknown GUID) = %v, want ErrUnknownConference", err)
	}
}

func TestRelayTyping(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, _ := login(t, srv, "alice")
	bob, _ := login(t, srv, "bob")
	guid, err := alice.OpenIM(context.Background(), srv.DN("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.SendMessage(context.Background(), guid, "hi"); err != nil {
		t.Fatal(err)
	}
	waitFor[MessageReceived](t, bob, nil)
	for _, typing := range []bool{true, false} {
		if err := alice.SendTyping(context.Background(), guid, typing); err != nil {
			t.Fatalf("SendTyping(%v): %v", typing, err)
		}
		ev := waitFor[Typing](t, bob, nil)
		if ev.Typing != typing || ev.GUID != guid || ev.Source != srv.DN("alice") {
			t.Errorf("typing event = %+v, want typing=%v", ev, typing)
		}
	}
}

func TestRelayUndeliverableAndAutoReply(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, _ := login(t, srv, "alice")
	guid, err := alice.OpenIM(context.Background(), srv.DN("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.SendMessage(context.Background(), guid, "are you there?"); err != nil {
		t.Fatal(err)
	}
	if ev := waitFor[Undeliverable](t, alice, nil); ev.Source != srv.DN("bob") || ev.GUID != guid {
		t.Errorf("undeliverable = %+v", ev)
	}
	bob, _ := login(t, srv, "bob")
	if err := bob.SetStatus(context.Background(), gwproto.StatusBusy, "meeting", "In a meeting — back soon"); err != nil {
		t.Fatal(err)
	}
	if err := alice.SendMessage(context.Background(), guid, "now?"); err != nil {
		t.Fatal(err)
	}
	ev := waitFor(t, alice, func(e MessageReceived) bool { return e.AutoReply })
	if ev.Text != "In a meeting — back soon" || ev.Source != srv.DN("bob") {
		t.Errorf("auto-reply = %+v", ev)
	}
}

func TestRelayThreePartyConference(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, _ := login(t, srv, "alice")
	bob, _ := login(t, srv, "bob")
	carol, _ := login(t, srv, "carol")
	aliceDN, bobDN, carolDN := srv.DN("alice"), srv.DN("bob"), srv.DN("carol")
	ctx := context.Background()

	guid, err := alice.CreateConference(ctx, bobDN)
	if err != nil {
		t.Fatalf("CreateConference: %v", err)
	}
	if err := alice.SendMessage(ctx, guid, "welcome, bob"); err != nil {
		t.Fatal(err)
	}
	waitFor[MessageReceived](t, bob, nil)

	if err := alice.Invite(ctx, guid, carolDN, "join us ✓"); err != nil {
		t.Fatalf("Invite: %v", err)
	}
	inv := waitFor[Invited](t, carol, nil)
	if inv.Source != aliceDN || inv.GUID != guid || inv.Message != "join us ✓" {
		t.Errorf("invitation = %+v", inv)
	}
	// carol has no contacts: the client looked the inviter up before
	// delivering the invitation.
	if u, ok := carol.User(aliceDN); !ok || u.DisplayID != "alice" {
		t.Errorf("carol's record of alice = %+v, %v", u, ok)
	}
	if ev := waitFor[ParticipantInvited](t, bob, nil); ev.Source != carolDN || ev.GUID != guid {
		t.Errorf("bob's invite notice = %+v", ev)
	}

	others, err := carol.JoinConference(ctx, guid)
	if err != nil {
		t.Fatalf("JoinConference: %v", err)
	}
	if diff := cmp.Diff([]string{aliceDN, bobDN}, others); diff != "" {
		t.Errorf("participants seen by carol (-want +got):\n%s", diff)
	}
	for _, c := range []*Client{alice, bob} {
		if ev := waitFor[ConferenceJoined](t, c, nil); ev.Source != carolDN || ev.GUID != guid {
			t.Errorf("join event = %+v", ev)
		}
	}
	if p, _ := bob.Participants(guid); len(p) != 2 {
		t.Errorf("bob's participants = %v, want alice and carol", p)
	}

	// A message from each participant reaches both others.
	for _, tc := range []struct {
		from     *Client
		fromDN   string
		text     string
		to1, to2 *Client
	}{
		{carol, carolDN, "hello from carol ☕", alice, bob},
		{bob, bobDN, "hi carol, bob here", alice, carol},
		{alice, aliceDN, "all three of us ✔", bob, carol},
	} {
		if err := tc.from.SendMessage(ctx, guid, tc.text); err != nil {
			t.Fatalf("SendMessage from %s: %v", tc.fromDN, err)
		}
		for _, to := range []*Client{tc.to1, tc.to2} {
			ev := waitFor[MessageReceived](t, to, nil)
			if ev.Text != tc.text || ev.Source != tc.fromDN || ev.GUID != guid {
				t.Errorf("got %+v, want %q from %s", ev, tc.text, tc.fromDN)
			}
		}
	}

	if err := bob.LeaveConference(ctx, guid); err != nil {
		t.Fatalf("LeaveConference: %v", err)
	}
	if _, ok := bob.Participants(guid); ok {
		t.Error("bob still knows the conference after leaving")
	}
	for _, c := range []*Client{alice, carol} {
		if ev := waitFor[ConferenceLeft](t, c, nil); ev.Source != bobDN || ev.GUID != guid {
			t.Errorf("leave event = %+v", ev)
		}
	}
	if p, _ := alice.Participants(guid); !cmp.Equal(p, []string{carolDN}) {
		t.Errorf("alice's participants after bob left = %v", p)
	}
}

func TestRelayRejectInvitation(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, _ := login(t, srv, "alice")
	bob, _ := login(t, srv, "bob")
	carol, _ := login(t, srv, "carol")
	ctx := context.Background()
	guid, err := alice.CreateConference(ctx, srv.DN("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Invite(ctx, guid, srv.DN("carol"), ""); err != nil {
		t.Fatal(err)
	}
	waitFor[Invited](t, carol, nil)
	if err := carol.RejectConference(ctx, guid); err != nil {
		t.Fatalf("RejectConference: %v", err)
	}
	for _, c := range []*Client{alice, bob} {
		if ev := waitFor[InviteRejected](t, c, nil); ev.Source != srv.DN("carol") || ev.GUID != guid {
			t.Errorf("reject event = %+v", ev)
		}
	}
	if _, ok := carol.Participants(guid); ok {
		t.Error("carol still knows the rejected conference")
	}
}

func TestRelayContactListChanges(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, info := login(t, srv, "alice")
	ctx := context.Background()
	carolDN := srv.DN("carol")

	work, err := alice.CreateFolder(ctx, "Work ✈")
	if err != nil || work.Name != "Work ✈" || work.ID == 0 {
		t.Fatalf("CreateFolder = %+v, %v", work, err)
	}
	if again, err := alice.CreateFolder(ctx, "Work ✈"); err != nil || again.ID != work.ID {
		t.Errorf("CreateFolder of an existing name = %+v, %v; want folder %d", again, err, work.ID)
	}
	added, err := alice.CreateContact(ctx, work.ID, "carol", "Caro")
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	if added.DN != carolDN || added.FolderID != work.ID || added.DisplayName != "Caro" || added.Details.FullName != "Carol Example" {
		t.Errorf("added contact = %+v", added)
	}
	if _, err := alice.CreateContact(ctx, work.ID, carolDN, ""); !errors.Is(err, ErrDuplicateContact) {
		t.Errorf("adding carol twice = %v, want ErrDuplicateContact", err)
	}
	if _, err := alice.CreateContact(ctx, 0, "nobody", ""); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("adding an unknown user = %v, want ErrUserNotFound", err)
	}

	// Move bob (in the root folder) into Work, rename him, drop carol's
	// root entry.
	var bobID, carolRootID int
	for _, ct := range info.Contacts.Contacts {
		switch ct.DN {
		case srv.DN("bob"):
			bobID = ct.ID
		case carolDN:
			carolRootID = ct.ID
		}
	}
	moved, err := alice.MoveContact(ctx, bobID, work.ID)
	if err != nil || moved.FolderID != work.ID || moved.DN != srv.DN("bob") {
		t.Fatalf("MoveContact = %+v, %v", moved, err)
	}
	if err := alice.RenameContact(ctx, moved.ID, "Bobby"); err != nil {
		t.Fatalf("RenameContact: %v", err)
	}
	if err := alice.DeleteContact(ctx, carolRootID); err != nil {
		t.Fatalf("DeleteContact: %v", err)
	}
	if err := alice.DeleteContact(ctx, carolRootID); !errors.Is(err, ErrUnknownItem) {
		t.Errorf("deleting twice = %v, want ErrUnknownItem", err)
	}
	if err := alice.RenameFolder(ctx, work.ID, "Office"); err != nil {
		t.Fatalf("RenameFolder: %v", err)
	}

	type entry struct {
		Folder, Name, DN string
	}
	summary := func(cl ContactList) []entry {
		names := map[int]string{0: ""}
		for _, f := range cl.Folders {
			names[f.ID] = f.Name
		}
		var out []entry
		for _, ct := range cl.Contacts {
			out = append(out, entry{names[ct.FolderID], ct.DisplayName, ct.DN})
		}
		return out
	}
	want := []entry{{"Office", "Caro", carolDN}, {"Office", "Bobby", srv.DN("bob")}}
	local := summary(alice.ContactList())
	less := func(a, b entry) bool { return a.Name < b.Name }
	if diff := cmp.Diff(want, local, cmpopts.SortSlices(less)); diff != "" {
		t.Errorf("client's contact list (-want +got):\n%s", diff)
	}
	// The server stored the same: a fresh login sees it.
	alice.Close()
	_, info2 := login(t, srv, "alice")
	if diff := cmp.Diff(want, summary(info2.Contacts), cmpopts.SortSlices(less)); diff != "" {
		t.Errorf("contact list after a new login (-want +got):\n%s", diff)
	}

	// Deleting the folder removes it and its contacts.
	alice2, _ := login(t, srv, "alice")
	if err := alice2.DeleteFolder(ctx, work.ID); err != nil {
		t.Fatalf("DeleteFolder: %v", err)
	}
	if cl := alice2.ContactList(); len(cl.Folders) != 0 || len(cl.Contacts) != 0 {
		t.Errorf("contact list after deleting the folder = %+v", cl)
	}
}

func TestRelayConnectedElsewhere(t *testing.T) {
	srv := gwtest.NewServer(t)
	first, _ := login(t, srv, "alice")
	login(t, srv, "alice")
	if ev := waitFor[ConnectedElsewhere](t, first, nil); ev.Source != srv.DN("alice") {
		t.Errorf("event = %+v", ev)
	}
	if err := waitDone(t, first); !errors.Is(err, ErrConnectedElsewhere) {
		t.Errorf("Err() = %v, want ErrConnectedElsewhere", err)
	}
}

func TestRelayServerDropsConnection(t *testing.T) {
	srv := gwtest.NewServer(t)
	alice, _ := login(t, srv, "alice")
	if !srv.KickUser("alice") {
		t.Fatal("alice not online")
	}
	if err := waitDone(t, alice); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Err() = %v, want ErrConnectionLost", err)
	}
}

func TestRelayStalledServer(t *testing.T) {
	srv := gwtest.NewServer(t)
	cfg := gwConfig(t, srv)
	cfg.RequestTimeout = 200 * time.Millisecond
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(context.Background(), "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	srv.Stall(true)
	defer srv.Stall(false)
	if err := c.Ping(context.Background()); !errors.Is(err, ErrTimeout) {
		t.Errorf("Ping on a stalled server = %v, want ErrTimeout", err)
	}
	if err := waitDone(t, c); !errors.Is(err, ErrTimeout) {
		t.Errorf("Err() = %v, want ErrTimeout", err)
	}
}
