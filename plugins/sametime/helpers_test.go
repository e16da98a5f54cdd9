package sametime_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/parleygw/parley/plugins/sametime"
	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/sttest"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

// serverAddress splits a fake server's listening address.
func serverAddress(t testing.TB, hostport string) sdk.ServerAddress {
	t.Helper()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.ServerAddress{Host: host, Port: uint16(p)}
}

// startServer starts a fake Sametime server for the test.
func startServer(t testing.TB, opts ...sttest.Option) (*sttest.Server, sdk.ServerAddress) {
	srv := sttest.NewServer(t, opts...)
	return srv, serverAddress(t, srv.Addr())
}

// connect serves a fresh backend over in-memory gRPC with the settings.
func connect(t testing.TB, settings string, addr sdk.ServerAddress) *sdktest.Conn {
	t.Helper()
	var raw []byte
	if settings != "" {
		raw = []byte(settings)
	}
	return sdktest.Connect(t, sametime.New(), raw, addr)
}

// open logs login in (password "secret") as session sid.
func open(t testing.TB, c *sdktest.Conn, addr sdk.ServerAddress, sid, login string) sdk.Snapshot {
	t.Helper()
	snap, err := c.OpenSession(context.Background(), sdk.Credentials{SessionID: sid, Login: login, Password: "secret", Server: addr})
	if err != nil {
		t.Fatalf("OpenSession(%s): %v", login, err)
	}
	t.Cleanup(func() { c.CloseSession(context.Background(), sid) })
	return snap
}

// dialPeer logs a plain protocol client in, standing for another user's
// Sametime client (libpurple, say).
func dialPeer(t testing.TB, addr sdk.ServerAddress, user string) *stclient.Client {
	t.Helper()
	cl, err := stclient.Dial(context.Background(), stclient.Config{Host: addr.Host, Port: int(addr.Port), User: user, Password: "secret"})
	if err != nil {
		t.Fatalf("peer %s: %v", user, err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// nextPeerEvent returns the peer's first event of type T that ok accepts.
func nextPeerEvent[T stclient.Event](t testing.TB, cl *stclient.Client, ok func(T) bool) T {
	t.Helper()
	for {
		select {
		case ev, open := <-cl.Events():
			if !open {
				t.Fatalf("peer session ended: %v", cl.Err())
			}
			if e, match := ev.(T); match && ok(e) {
				return e
			}
		case <-timeout(t):
			var zero T
			t.Fatalf("peer: no %T within %v", zero, sdktest.EventTimeout)
		}
	}
}

func timeout(t testing.TB) <-chan struct{} {
	ctx, cancel := context.WithTimeout(context.Background(), sdktest.EventTimeout)
	t.Cleanup(cancel)
	return ctx.Done()
}

// eventOf matches events whose kind is T and that ok accepts.
func eventOf[T sdk.EventKind](ok func(T) bool) func(sdk.Event) bool {
	return func(e sdk.Event) bool {
		k, match := e.Kind.(T)
		return match && ok(k)
	}
}

func reasonOf(t testing.TB, err error, want sdk.Reason) *sdk.Error {
	t.Helper()
	if !sdktest.IsReason(err, want) {
		t.Fatalf("got %v, want reason %q", err, want)
	}
	var e *sdk.Error
	if !errorsAs(err, &e) {
		t.Fatalf("%v is not an *sdk.Error", err)
	}
	return e
}
