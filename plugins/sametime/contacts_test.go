package sametime_test

import (
	"context"
	"testing"

	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sametime/sttest"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

// storedList is the buddy list the server holds for the user.
func storedList(t testing.TB, srv *sttest.Server, user string) stproto.BuddyList {
	t.Helper()
	v, ok := srv.Stored(user, stproto.StorageKeyBuddyList)
	if !ok {
		t.Fatalf("%s has no stored buddy list", user)
	}
	text, err := stproto.UnmarshalStringValue(v)
	if err != nil {
		t.Fatal(err)
	}
	l, err := stproto.ParseBuddyList(text)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// groupOf returns the group holding the user in a stored list, or "".
func groupOf(l stproto.BuddyList, user string) string {
	for _, g := range l.Groups {
		for _, u := range g.Users {
			if u.ID == user {
				return g.ID
			}
		}
	}
	return ""
}

func TestSnapshotFromStoredBuddyList(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	open(t, c, addr, "s-carol", "carol")
	snap := open(t, c, addr, "s-alice", "alice")
	if snap.Self.UserID != "alice" || snap.Self.DisplayName == "" || snap.Self.Status != sdk.StatusAvailable {
		t.Errorf("self %+v", snap.Self)
	}
	if len(snap.Folders) != 1 || snap.Folders[0].ID != "Buddies" {
		t.Errorf("folders %+v, want the fake's one group Buddies", snap.Folders)
	}
	// carol is online, bob is not; both presences are known at login.
	if st := contactOf(t, snap, "carol").Status; st != sdk.StatusAvailable {
		t.Errorf("carol is %v, want available", st)
	}
	if st := contactOf(t, snap, "bob").Status; st != sdk.StatusOffline {
		t.Errorf("bob is %v, want offline", st)
	}
	if f := contactOf(t, snap, "bob").FolderID; f != "Buddies" {
		t.Errorf("bob is in folder %q", f)
	}
}

func TestContactListEditsAreStored(t *testing.T) {
	srv, addr := startServer(t)
	c := connect(t, "", addr)
	ctx := context.Background()
	open(t, c, addr, "s-bob", "bob") // bob's list: alice

	if err := c.AddContact(ctx, "s-bob", sdk.Contact{UserID: "carol", FolderID: "Friends", DisplayName: "Caz"}); err != nil {
		t.Fatal(err)
	}
	ev := c.WaitEvent(t, "s-bob", "carol added", eventOf(func(e sdk.ContactEvent) bool { return e.Change == sdk.ContactAdded }))
	if got := ev.Kind.(sdk.ContactEvent).Contact; got.UserID != "carol" || got.FolderID != "Friends" || got.DisplayName != "Caz" {
		t.Errorf("added %+v", got)
	}
	if g := groupOf(storedList(t, srv, "bob"), "carol"); g != "Friends" {
		t.Fatalf("stored list has carol in %q, want Friends", g)
	}
	// bob now watches carol.
	open(t, c, addr, "s-carol", "carol")
	c.WaitEvent(t, "s-bob", "carol online", sdktest.PresenceOf("carol", sdk.StatusAvailable))

	if err := c.MoveContact(ctx, "s-bob", "carol", "Buddies"); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-bob", "carol moved", eventOf(func(e sdk.ContactEvent) bool {
		return e.Change == sdk.ContactMoved && e.Contact.UserID == "carol" && e.Contact.FolderID == "Buddies"
	}))
	if g := groupOf(storedList(t, srv, "bob"), "carol"); g != "Buddies" {
		t.Fatalf("stored list has carol in %q after the move", g)
	}
	snap, err := c.Snapshot(ctx, "s-bob")
	if err != nil {
		t.Fatal(err)
	}
	if got := contactOf(t, snap, "carol"); got.FolderID != "Buddies" || got.Status != sdk.StatusAvailable {
		t.Errorf("carol in the snapshot: %+v", got)
	}

	if err := c.RemoveContact(ctx, "s-bob", "carol"); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s-bob", "carol removed", eventOf(func(e sdk.ContactEvent) bool {
		return e.Change == sdk.ContactRemoved && e.Contact.UserID == "carol"
	}))
	if g := groupOf(storedList(t, srv, "bob"), "carol"); g != "" {
		t.Fatalf("carol still stored in %q", g)
	}
	if g := groupOf(storedList(t, srv, "bob"), "alice"); g == "" {
		t.Fatal("removing carol lost alice")
	}

	// A new session of bob starts from the stored list.
	if err := c.CloseSession(ctx, "s-bob"); err != nil {
		t.Fatal(err)
	}
	again := open(t, c, addr, "s-bob2", "bob")
	if len(again.Contacts) != 1 || again.Contacts[0].UserID != "alice" {
		t.Errorf("contacts after a new login: %+v", again.Contacts)
	}
}

func TestContactErrors(t *testing.T) {
	_, addr := startServer(t)
	c := connect(t, "", addr)
	ctx := context.Background()
	open(t, c, addr, "s-bob", "bob")
	reasonOf(t, c.AddContact(ctx, "s-bob", sdk.Contact{UserID: "mallory"}), sdk.ReasonNotFound)
	reasonOf(t, c.RemoveContact(ctx, "s-bob", "carol"), sdk.ReasonNotFound)
	reasonOf(t, c.MoveContact(ctx, "s-bob", "carol", "Friends"), sdk.ReasonNotFound)
	reasonOf(t, c.MoveContact(ctx, "s-bob", "alice", ""), sdk.ReasonInvalidArgument)
	reasonOf(t, c.AddContact(ctx, "s-nobody", sdk.Contact{UserID: "carol"}), sdk.ReasonSessionNotFound)
}
