package stclient_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
	"github.com/parleygw/parley/plugins/sametime/sttest"
)

// These tests run the client against sttest's fake server, two clients
// talking through it where a peer is needed.

// tapConn records every byte a connection carries in both directions.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *tapConn) contains(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Contains(c.buf.Bytes(), b)
}

func fakeConfig(t testing.TB, srv *sttest.Server, user string) stclient.Config {
	host, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return stclient.Config{Host: host, Port: p, User: user, Password: "secret"}
}

func dialFake(t testing.TB, cfg stclient.Config) *stclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := stclient.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial %s: %v", cfg.User, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// tapped makes cfg record its traffic in the returned tap.
func tapped(cfg *stclient.Config) *tapConn {
	tap := &tapConn{}
	cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		tap.Conn = c
		return tap, err
	}
	return tap
}

// waitFor returns the first event of type T that satisfies ok.
func waitFor[T stclient.Event](t testing.TB, c *stclient.Client, ok func(T) bool) T {
	t.Helper()
	for {
		if ev := nextEvent[T](t, c); ok(ev) {
			return ev
		}
	}
}

func TestFakeLogin(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []sttest.Option
	}{
		{"RC2/128", nil},
		{"RC2/40", []sttest.Option{sttest.WithRC2_40Login()}},
		{"redirect and forced login", []sttest.Option{sttest.WithRedirect("127.0.0.1", "other")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sttest.NewServer(t, tc.opts...)
			c := dialFake(t, fakeConfig(t, srv, "alice"))
			if self := c.Self(); self.UserID != "alice" || len(self.LoginID) < 5 {
				t.Errorf("login info %+v", self)
			}
			if !srv.Online("alice") {
				t.Error("server does not see alice online")
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		srv := sttest.NewServer(t)
		cfg := fakeConfig(t, srv, "alice")
		cfg.Password = "not the password"
		_, err := stclient.Dial(context.Background(), cfg)
		errorIs(t, err, stclient.ErrAuthFailed)
		errorIs(t, err, stproto.ReasonIncorrectLogin)
		if srv.Stats().LoginFailures != 1 {
			t.Errorf("server counted %d failures", srv.Stats().LoginFailures)
		}
	})
}

func TestFakeBuddyList(t *testing.T) {
	srv := sttest.NewServer(t)
	ctx := context.Background()
	c := dialFake(t, fakeConfig(t, srv, "alice"))
	l, err := c.LoadBuddyList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Groups) != 1 || len(l.Groups[0].Users) != 2 || l.Groups[0].Users[0].ID != "bob" {
		t.Fatalf("initial list %+v", l)
	}
	l.Groups = append(l.Groups, stproto.BuddyGroup{ID: "Kollegen", Alias: "Meine Kollegen", Users: []stproto.BuddyUser{{ID: "carol", Name: "Carol Ünal"}}})
	if err := c.SaveBuddyList(ctx, l); err != nil {
		t.Fatal(err)
	}
	stored, ok := srv.Stored("alice", stproto.StorageKeyBuddyList)
	if want, _ := stproto.StringValue(l.String()); !ok || !bytes.Equal(stored, want) {
		t.Errorf("server stored %q", stored)
	}
	// A new session sees the saved list.
	c2 := dialFake(t, fakeConfig(t, srv, "alice"))
	back, err := c2.LoadBuddyList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != l.String() {
		t.Errorf("loaded\n%s\nwant\n%s", back.String(), l.String())
	}
}

func TestFakePresence(t *testing.T) {
	srv := sttest.NewServer(t)
	ctx := context.Background()
	alice := dialFake(t, fakeConfig(t, srv, "alice"))
	if err := alice.Watch(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, alice, func(ev stclient.PresenceEvent) bool { return ev.User == "bob" && !ev.Online })

	bob := dialFake(t, fakeConfig(t, srv, "bob"))
	waitFor(t, alice, func(ev stclient.PresenceEvent) bool { return ev.User == "bob" && ev.Online })
	waitFor(t, alice, func(ev stclient.AttributeEvent) bool { return ev.Key == stproto.AttrFileTransfer && ev.Bool() })
	if !alice.SupportsFileTransfer("bob") {
		t.Error("bob's file-transfer attribute not tracked")
	}
	if err := bob.SetStatus(ctx, stproto.StatusAway, "zum Mittagessen 🍝"); err != nil {
		t.Fatal(err)
	}
	ev := waitFor(t, alice, func(ev stclient.PresenceEvent) bool { return ev.Status == stproto.StatusAway })
	if ev.Message != "zum Mittagessen 🍝" || ev.Name != "Bob Example" {
		t.Errorf("away event %+v", ev)
	}
	// Attributes published by alice reach bob, who watches her.
	if err := bob.Watch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, func(ev stclient.AttributeEvent) bool {
		return ev.User == "alice" && ev.Key == stproto.AttrFileTransfer && ev.Set
	})
	if err := alice.ClearAttribute(ctx, stproto.AttrFileTransfer); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, func(ev stclient.AttributeEvent) bool { return ev.Key == stproto.AttrFileTransfer && !ev.Set })
	if bob.SupportsFileTransfer("alice") {
		t.Error("withdrawn attribute still counted")
	}
	if err := alice.SetAttribute(ctx, stproto.AttrVideoCamera, stproto.AttrTrue); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, func(ev stclient.AttributeEvent) bool { return ev.Key == stproto.AttrVideoCamera && ev.Bool() })

	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, alice, func(ev stclient.PresenceEvent) bool { return ev.User == "bob" && !ev.Online })
}

func TestFakeEncryptedIM(t *testing.T) {
	srv := sttest.NewServer(t)
	ctx := context.Background()
	acfg := fakeConfig(t, srv, "alice")
	tap := tapped(&acfg)
	alice := dialFake(t, acfg)
	bob := dialFake(t, fakeConfig(t, srv, "bob"))

	const hello, reply = "Grüße, Bob! Ça va? 日本語 🚀", "Alles gut — 谢谢 ✓"
	if err := alice.SendText(ctx, "bob", hello); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent[stclient.MessageEvent](t, bob); ev.From != "alice" || ev.Text != hello || ev.Format != stclient.FormatText {
		t.Errorf("bob got %+v", ev)
	}
	if err := bob.SendText(ctx, "alice", reply); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent[stclient.MessageEvent](t, alice); ev.From != "bob" || ev.Text != reply {
		t.Errorf("alice got %+v", ev)
	}
	// RC2/128 was negotiated end to end: neither text crossed the wire
	// in clear, in either direction.
	for _, s := range []string{hello, reply} {
		if tap.contains([]byte(s)) {
			t.Errorf("%q travelled in clear", s)
		}
	}

	if err := bob.SendHTML(ctx, "alice", "<b>fett</b> und <i>kursiv</i>"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent[stclient.MessageEvent](t, alice); ev.Format != stclient.FormatHTML || ev.Text != "<b>fett</b> und <i>kursiv</i>" {
		t.Errorf("alice got %+v", ev)
	}
	for _, typing := range []bool{true, false} {
		if err := alice.SendTyping(ctx, "bob", typing); err != nil {
			t.Fatal(err)
		}
		if ev := nextEvent[stclient.TypingEvent](t, bob); ev.From != "alice" || ev.Typing != typing {
			t.Errorf("bob got %+v, want typing=%v", ev, typing)
		}
	}
}

func TestFakeIMOffline(t *testing.T) {
	srv := sttest.NewServer(t)
	alice := dialFake(t, fakeConfig(t, srv, "alice"))
	errorIs(t, alice.SendText(context.Background(), "carol", "are you there?"), stclient.ErrUserOffline)
}

func TestFakeConference(t *testing.T) {
	srv := sttest.NewServer(t)
	ctx := context.Background()
	alice := dialFake(t, fakeConfig(t, srv, "alice"))
	bob := dialFake(t, fakeConfig(t, srv, "bob"))

	cf, err := alice.CreateConference(ctx, "Sprint-Planung ✓")
	if err != nil {
		t.Fatal(err)
	}
	if ms := cf.Members(); len(ms) != 1 || ms[0].UserID != "alice" {
		t.Fatalf("members after create %+v", ms)
	}
	if err := cf.Invite(ctx, "bob", "komm dazu"); err != nil {
		t.Fatal(err)
	}
	inv := nextEvent[stclient.ConferenceInviteEvent](t, bob).Invitation
	if inv.From.UserID != "alice" || inv.Text != "komm dazu" || inv.Conference.Title() != "Sprint-Planung ✓" {
		t.Errorf("invitation %+v", inv)
	}
	bcf, err := inv.Join(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent[stclient.ConferenceMemberEvent](t, alice); !ev.Joined || ev.Member.UserID != "bob" {
		t.Errorf("alice saw %+v", ev)
	}
	if len(bcf.Members()) != 2 {
		t.Errorf("bob sees members %+v", bcf.Members())
	}
	if err := bcf.SendText(ctx, "Hallo zusammen 👋"); err != nil {
		t.Fatal(err)
	}
	ev := waitFor(t, alice, func(ev stclient.ConferenceMessageEvent) bool { return ev.From.UserID == "bob" })
	if ev.Text != "Hallo zusammen 👋" || ev.Conference != cf {
		t.Errorf("alice got %+v", ev)
	}
	if err := cf.SendText(ctx, "Willkommen"); err != nil {
		t.Fatal(err)
	}
	if ev := waitFor(t, bob, func(ev stclient.ConferenceMessageEvent) bool { return ev.From.UserID == "alice" }); ev.Text != "Willkommen" {
		t.Errorf("bob got %+v", ev)
	}
	if err := bcf.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent[stclient.ConferenceMemberEvent](t, alice); ev.Joined || ev.Member.UserID != "bob" {
		t.Errorf("alice saw %+v", ev)
	}
}

// acceptFile accepts the next file offer at c into a sha256 hash.
func acceptFile(t *testing.T, c *stclient.Client) (<-chan []byte, *stclient.FileOffer) {
	t.Helper()
	o := nextEvent[stclient.FileOfferEvent](t, c).Offer
	sum := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		n, err := o.Accept(context.Background(), h)
		if err != nil || n != o.Size {
			t.Errorf("Accept = %d, %v", n, err)
		}
		sum <- h.Sum(nil)
	}()
	return sum, o
}

func TestFakeFileTransfer(t *testing.T) {
	srv := sttest.NewServer(t)
	ctx := context.Background()
	alice := dialFake(t, fakeConfig(t, srv, "alice"))
	bob := dialFake(t, fakeConfig(t, srv, "bob"))
	// Exactly the server's limit passes.
	file := randomBytes(t, sttest.DefaultMaxFileBytes)
	errc := asyncErr(func() error {
		return alice.SendFile(ctx, "bob", "Übersicht.pdf", int64(len(file)), bytes.NewReader(file))
	})
	sum, o := acceptFile(t, bob)
	if o.From != "alice" || o.Name != "Übersicht.pdf" || o.Size != int64(len(file)) {
		t.Errorf("offer %+v", o)
	}
	mustNil(t, errc)
	if want := sha256.Sum256(file); !bytes.Equal(<-sum, want[:]) {
		t.Fatal("bob's file differs (sha256)")
	}
	if got := srv.Stats().FileBytesRelayed; got < int64(len(file)) {
		t.Errorf("server relayed %d bytes", got)
	}
}

func TestFakeFileRefusals(t *testing.T) {
	srv := sttest.NewServer(t)
	ctx := context.Background()
	alice := dialFake(t, fakeConfig(t, srv, "alice"))
	bob := dialFake(t, fakeConfig(t, srv, "bob"))

	t.Run("declined", func(t *testing.T) {
		errc := asyncErr(func() error {
			return alice.SendFile(ctx, "bob", "nope.txt", 10, bytes.NewReader(make([]byte, 10)))
		})
		o := nextEvent[stclient.FileOfferEvent](t, bob).Offer
		if err := o.Decline(ctx); err != nil {
			t.Fatal(err)
		}
		errorIs(t, <-errc, stclient.ErrDeclined)
	})
	t.Run("over the server's limit", func(t *testing.T) {
		size := int64(sttest.DefaultMaxFileBytes + 1)
		err := alice.SendFile(ctx, "bob", "big.iso", size, io.LimitReader(zeros{}, size))
		errorIs(t, err, stclient.ErrFileTooLarge)
		if srv.Stats().FileOffersRefused != 1 {
			t.Errorf("server refused %d offers", srv.Stats().FileOffersRefused)
		}
	})
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestFakeKicked(t *testing.T) {
	srv := sttest.NewServer(t)
	alice := dialFake(t, fakeConfig(t, srv, "alice"))
	if n := srv.KickUser("alice"); n != 1 {
		t.Fatalf("kicked %d sessions", n)
	}
	waitDone(t, alice)
	errorIs(t, alice.Err(), stclient.ErrLoggedOff)
	errorIs(t, alice.Err(), stproto.ReasonUserRemoved)
}

func TestFakeServerGone(t *testing.T) {
	srv := sttest.NewServer(t)
	alice := dialFake(t, fakeConfig(t, srv, "alice"))
	srv.Close()
	waitDone(t, alice)
	errorIs(t, alice.Err(), stclient.ErrConnectionLost)
	if d := drainToDisconnect(t, alice); d == nil {
		t.Error("no DisconnectEvent")
	}
}

func TestFakeStalled(t *testing.T) {
	srv := sttest.NewServer(t)
	cfg := fakeConfig(t, srv, "alice")
	cfg.RequestTimeout = 200 * time.Millisecond
	alice := dialFake(t, cfg)
	srv.Stall()
	// sttest's Stall still lets through the one frame its reader may
	// already be waiting for; spend it on a message that needs no answer.
	if err := alice.SetStatus(context.Background(), stproto.StatusActive, ""); err != nil {
		t.Fatal(err)
	}
	_, err := alice.Resolve(context.Background(), stproto.ResolveCheckUsers, "bob")
	errorIs(t, err, stclient.ErrTimeout)
	srv.Resume()
	r, err := alice.Resolve(context.Background(), stproto.ResolveCheckUsers, "bob")
	if err != nil || len(r.Results) != 1 {
		t.Fatalf("after resume: %+v, %v", r, err)
	}

	// A server that stalls during login is timed out too.
	srv.Stall()
	cfg.LoginTimeout = 200 * time.Millisecond
	_, err = stclient.Dial(context.Background(), cfg)
	errorIs(t, err, stclient.ErrTimeout)
	srv.Resume()
}
