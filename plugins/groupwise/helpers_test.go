package groupwise_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

// serverAddress is how the gateway would describe srv: its random port,
// TLS verified against its CA.
func serverAddress(t testing.TB, srv *gwtest.Server) sdk.ServerAddress {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.ServerAddress{Host: host, Port: uint16(p), TLS: true, CAPEM: srv.CACertPEM()}
}

// testUsers: alice has bob in the root folder and carol in "Work"; bob
// has alice; carol has alice and bob; dave is nobody's contact.
func testUsers() []gwtest.User {
	return []gwtest.User{
		{ID: "alice", Password: "secret", FullName: "Alice Example", Contacts: []string{"bob"},
			Folders: []gwtest.Folder{{Name: "Work", Contacts: []string{"carol"}}}},
		{ID: "bob", Password: "secret", FullName: "Bob Example", Contacts: []string{"alice"}},
		{ID: "carol", Password: "secret", FullName: "Carol Example", Contacts: []string{"alice", "bob"}},
		{ID: "dave", Password: "secret", FullName: "Dave Example"},
	}
}

// env is a fake GroupWise server and the backend served over in-memory
// gRPC, as parleyd sees it.
type env struct {
	srv  *gwtest.Server
	addr sdk.ServerAddress
	*sdktest.Conn
}

func newEnv(t *testing.T, settings string, opts ...gwtest.Option) *env {
	t.Helper()
	srv := gwtest.NewServer(t, append([]gwtest.Option{gwtest.WithUsers(testUsers())}, opts...)...)
	addr := serverAddress(t, srv)
	return &env{srv: srv, addr: addr, Conn: sdktest.Connect(t, groupwise.New(), []byte(settings), addr)}
}

// open logs login in as session "s-<login>".
func (e *env) open(t *testing.T, login string) sdk.Snapshot {
	t.Helper()
	sid := "s-" + login
	snap, err := e.OpenSession(ctx(t), sdk.Credentials{SessionID: sid, Login: login, Password: "secret", Server: e.addr})
	if err != nil {
		t.Fatalf("OpenSession(%s): %v", login, err)
	}
	t.Cleanup(func() { e.CloseSession(context.Background(), sid) })
	return snap
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantReason(t *testing.T, what string, err error, r sdk.Reason) {
	t.Helper()
	if !sdktest.IsReason(err, r) {
		t.Fatalf("%s: got %v, want reason %q", what, err, r)
	}
}

func conversationEvent(change sdk.ConversationChange, conv, user string) func(sdk.Event) bool {
	return func(e sdk.Event) bool {
		c, ok := e.Kind.(sdk.ConversationEvent)
		return ok && c.Change == change && (conv == "" || c.ConversationID == conv) && c.UserID == user
	}
}

func contactEvent(change sdk.ContactChange, user string) func(sdk.Event) bool {
	return func(e sdk.Event) bool {
		c, ok := e.Kind.(sdk.ContactEvent)
		return ok && c.Change == change && c.Contact.UserID == user
	}
}

func sessionEnded(e sdk.Event) bool {
	_, ok := e.Kind.(sdk.SessionEndedEvent)
	return ok
}

func itoa(n uint16) string { return strconv.Itoa(int(n)) }
