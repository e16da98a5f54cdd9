package groupwise_test

import (
	"slices"
	"testing"

	"github.com/parleygw/parley/plugins/sdk"
)

func folderNamed(snap sdk.Snapshot, name string) string {
	for _, f := range snap.Folders {
		if f.Name == name {
			return f.ID
		}
	}
	return ""
}

func entriesOf(snap sdk.Snapshot, user string) []string {
	var folders []string
	for _, c := range snap.Contacts {
		if c.UserID == user {
			folders = append(folders, c.FolderID)
		}
	}
	return folders
}

func TestAddMoveRemoveContact(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "dave")
	snap := e.open(t, "alice")
	work := folderNamed(snap, "Work")

	if err := e.AddContact(ctx(t), "s-alice", sdk.Contact{UserID: "dave", FolderID: work, DisplayName: "Dave from accounting"}); err != nil {
		t.Fatal(err)
	}
	ev := e.WaitEvent(t, "s-alice", "dave added", contactEvent(sdk.ContactAdded, "dave"))
	want := sdk.Contact{UserID: "dave", DisplayName: "Dave from accounting", FolderID: work, Status: sdk.StatusAvailable}
	if got := ev.Kind.(sdk.ContactEvent).Contact; got != want {
		t.Errorf("added contact %+v, want %+v", got, want)
	}
	// The new contact's presence changes reach alice.
	if err := e.SetPresence(ctx(t), "s-dave", sdk.Presence{Status: sdk.StatusBusy}); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-alice", "dave busy", func(ev sdk.Event) bool {
		p, ok := ev.Kind.(sdk.PresenceEvent)
		return ok && p.UserID == "dave" && p.Status == sdk.StatusBusy
	})

	if err := e.MoveContact(ctx(t), "s-alice", "dave", "0"); err != nil {
		t.Fatal(err)
	}
	ev = e.WaitEvent(t, "s-alice", "dave moved", contactEvent(sdk.ContactMoved, "dave"))
	if f := ev.Kind.(sdk.ContactEvent).Contact.FolderID; f != "0" {
		t.Errorf("dave moved to folder %q, want the root folder", f)
	}
	snap, err := e.Snapshot(ctx(t), "s-alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := entriesOf(snap, "dave"); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("dave is in folders %q after the move, want [0]", got)
	}

	if err := e.RemoveContact(ctx(t), "s-alice", "dave"); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-alice", "dave removed", contactEvent(sdk.ContactRemoved, "dave"))
	snap, err = e.Snapshot(ctx(t), "s-alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := entriesOf(snap, "dave"); len(got) != 0 {
		t.Fatalf("dave is still in folders %q", got)
	}
	err = e.RemoveContact(ctx(t), "s-alice", "dave")
	wantReason(t, "removing a user who is no contact", err, sdk.ReasonNotFound)
}

func TestAddContactToANamedFolderCreatesIt(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	if err := e.AddContact(ctx(t), "s-alice", sdk.Contact{UserID: "dave", FolderID: "Friends ✓"}); err != nil {
		t.Fatal(err)
	}
	ev := e.WaitEvent(t, "s-alice", "dave added", contactEvent(sdk.ContactAdded, "dave"))
	snap, err := e.Snapshot(ctx(t), "s-alice")
	if err != nil {
		t.Fatal(err)
	}
	friends := folderNamed(snap, "Friends ✓")
	if friends == "" || ev.Kind.(sdk.ContactEvent).Contact.FolderID != friends {
		t.Fatalf("folders %+v, dave added to %q: want a new folder Friends ✓ holding dave", snap.Folders, ev.Kind.(sdk.ContactEvent).Contact.FolderID)
	}
	if c := ev.Kind.(sdk.ContactEvent).Contact; c.DisplayName != "Dave Example" || c.Status != sdk.StatusOffline {
		t.Errorf("added contact %+v, want Dave Example, offline", c)
	}
	// Moving bob into the folder by name uses the existing folder.
	if err := e.MoveContact(ctx(t), "s-alice", "bob", "Friends ✓"); err != nil {
		t.Fatal(err)
	}
	e.WaitEvent(t, "s-alice", "bob moved", contactEvent(sdk.ContactMoved, "bob"))
	snap, err = e.Snapshot(ctx(t), "s-alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := entriesOf(snap, "bob"); !slices.Equal(got, []string{friends}) {
		t.Fatalf("bob is in folders %q, want [%s]", got, friends)
	}
	if n := e.srv.RequestCount("createfolder"); n != 1 {
		t.Fatalf("%d createfolder requests, want 1", n)
	}
}

func TestContactErrors(t *testing.T) {
	e := newEnv(t, "")
	e.open(t, "alice")
	err := e.AddContact(ctx(t), "s-alice", sdk.Contact{UserID: "nobody-here"})
	wantReason(t, "adding an unknown user", err, sdk.ReasonNotFound)
	err = e.AddContact(ctx(t), "s-alice", sdk.Contact{UserID: "dave", FolderID: "999"})
	wantReason(t, "adding to an unknown folder id", err, sdk.ReasonNotFound)
	err = e.MoveContact(ctx(t), "s-alice", "dave", "0")
	wantReason(t, "moving a user who is no contact", err, sdk.ReasonNotFound)
	// Adding a contact twice to the same folder is a no-op.
	if err := e.AddContact(ctx(t), "s-alice", sdk.Contact{UserID: "bob"}); err != nil {
		t.Fatalf("adding bob again: %v", err)
	}
	snap, err := e.Snapshot(ctx(t), "s-alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := entriesOf(snap, "bob"); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("bob is in folders %q, want [0]", got)
	}
}
