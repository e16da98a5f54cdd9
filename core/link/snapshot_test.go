package link_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/parleygw/parley/core/frame"
	"github.com/parleygw/parley/core/link"
	"github.com/parleygw/parley/core/session"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
	"google.golang.org/protobuf/proto"
)

// startGatewayWithContacts starts a gateway whose user alice has n
// contacts, each a user of the backend with a full name.
func startGatewayWithContacts(t *testing.T, n int) *gateway {
	t.Helper()
	type user struct {
		ID       string   `json:"id"`
		Password string   `json:"password"`
		FullName string   `json:"full_name"`
		Contacts []string `json:"contacts"`
	}
	alice := user{ID: "alice", Password: "secret", FullName: "Alice Example"}
	users := []user{}
	for i := range n {
		id := fmt.Sprintf("colleague%03d", i)
		alice.Contacts = append(alice.Contacts, id)
		users = append(users, user{ID: id, Password: "secret", FullName: fmt.Sprintf("Colleague Number %d", i)})
	}
	settings, err := json.Marshal(map[string]any{"users": append(users, alice)})
	if err != nil {
		t.Fatal(err)
	}
	return startGatewayOpts(t, gatewayOptions{session: session.Config{MaxSessions: 10}, settings: settings}, "alice")
}

func TestLoginReturnsTheWholeSnapshot(t *testing.T) {
	const contacts = 200
	g := startGatewayWithContacts(t, contacts)
	c := g.dial(t, "alice-phone")
	opened, err := c.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(opened.GetSnapshot().GetContacts()); n != contacts || opened.SnapshotFollows || len(opened.ResumeToken) == 0 {
		t.Fatalf("SessionOpened with %d contacts (snapshot_follows %v, token %d B), want %d contacts and a token",
			n, opened.SnapshotFollows, len(opened.ResumeToken), contacts)
	}
	// the link works on after the two-frame answer
	if _, err := c.Contacts(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// loginBytes logs alice in on a raw link, announcing capabilities, and
// returns the bytes of the frames that answer the Login, the frame with
// the resume token, and the snapshot's contacts.
func loginBytes(t *testing.T, g *gateway, capabilities ...string) (total, tokenFrame, contacts int) {
	t.Helper()
	conn := rawLink(t, g)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	counted := &countingReader{r: conn}
	out, in := frame.NewWriter(conn, frame.Limits{}), frame.NewReader(counted, frame.Limits{})
	call := func(m *devicev1.Message) *devicev1.Message {
		t.Helper()
		body, err := proto.Marshal(&devicev1.Frame{Messages: []*devicev1.Message{m}})
		if err != nil {
			t.Fatal(err)
		}
		if err := out.WriteFrame(body, true); err != nil {
			t.Fatal(err)
		}
		if err := out.Flush(); err != nil {
			t.Fatal(err)
		}
		body, err = in.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		var f devicev1.Frame
		if err := proto.Unmarshal(body, &f); err != nil || len(f.Messages) != 1 || f.Messages[0].Id != m.Id {
			t.Fatalf("answer to %d: %v %v", m.Id, &f, err)
		}
		return f.Messages[0]
	}
	call(&devicev1.Message{Id: 1, Body: &devicev1.Message_Hello{Hello: &devicev1.Hello{ProtocolVersion: link.ProtocolVersion, Capabilities: capabilities}}})
	counted.n = 0
	opened := call(&devicev1.Message{Id: 2, Body: &devicev1.Message_Login{Login: &devicev1.Login{User: "alice", Password: "secret"}}}).GetSessionOpened()
	tokenFrame = counted.n
	snap := opened.GetSnapshot()
	if opened.GetSnapshotFollows() {
		if snap != nil {
			t.Fatal("SessionOpened has a snapshot and says that it follows")
		}
		body, err := in.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		var f devicev1.Frame
		if err := proto.Unmarshal(body, &f); err != nil || len(f.Messages) != 1 || f.Messages[0].Id != 2 {
			t.Fatalf("the frame after SessionOpened is not the Login's snapshot: %v %v", &f, err)
		}
		snap = f.Messages[0].GetSnapshot()
	}
	return counted.n, tokenFrame, len(snap.GetContacts())
}

func TestLoginSnapshotTravelsCompressedApartFromTheResumeToken(t *testing.T) {
	const contacts = 200
	g := startGatewayWithContacts(t, contacts)
	whole, _, n := loginBytes(t, g)
	if n != contacts {
		t.Fatalf("without the capability: %d contacts, want %d", n, contacts)
	}
	split, tokenFrame, n := loginBytes(t, g, devicev1.CapabilityLoginSnapshotFrame)
	if n != contacts {
		t.Fatalf("with the capability: %d contacts, want %d", n, contacts)
	}
	t.Logf("the Login's answer: %d B with the snapshot in a frame of its own (the token's frame %d B), %d B in one frame", split, tokenFrame, whole)
	if split*2 > whole {
		t.Fatalf("the Login's answer takes %d B with the snapshot in a frame of its own, %d B without: want at most half", split, whole)
	}
	if tokenFrame > 512 {
		t.Fatalf("the frame with the resume token is %d B: the snapshot is still in it", tokenFrame)
	}
}
