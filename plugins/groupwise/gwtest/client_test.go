package gwtest_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
)

// waitTimeout bounds every wait for something the server must send.
const waitTimeout = 5 * time.Second

// rawClient is a minimal GroupWise client made of gwproto primitives: it
// sends requests, matches responses by transaction id and queues events.
type rawClient struct {
	t      testing.TB
	name   string
	conn   *tls.Conn
	tid    int
	resps  chan *gwproto.Response
	events chan *gwproto.Event
	closed chan struct{} // closed when the server side ends the stream
	err    error         // read error, valid after closed
	got    atomic.Int64  // messages read
}

func dial(t testing.TB, srv *gwtest.Server, name string) *rawClient {
	t.Helper()
	return dialConfig(t, srv, name, &tls.Config{RootCAs: srv.CertPool(), ServerName: "127.0.0.1"})
}

func dialConfig(t testing.TB, srv *gwtest.Server, name string, conf *tls.Config) *rawClient {
	t.Helper()
	conn, err := tls.Dial("tcp", srv.Addr(), conf)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	c := &rawClient{
		t: t, name: name, conn: conn,
		resps:  make(chan *gwproto.Response, 64),
		events: make(chan *gwproto.Event, 256),
		closed: make(chan struct{}),
	}
	go c.readLoop()
	t.Cleanup(func() {
		conn.Close()
		<-c.closed
	})
	return c
}

func (c *rawClient) readLoop() {
	defer close(c.closed)
	r := gwproto.NewReader(c.conn, gwproto.Limits{})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		c.got.Add(1)
		if m.Response != nil {
			c.resps <- m.Response
		} else {
			c.events <- m.Event
		}
	}
}

// send writes a request the way libpurple does: every &-piece and the
// final CR LF in its own write (and so its own TLS record).
func (c *rawClient) send(cmd string, fields ...gwproto.Field) string {
	c.t.Helper()
	c.tid++
	req := &gwproto.Request{Command: cmd, Fields: fields, TID: strconv.Itoa(c.tid)}
	if cmd == gwproto.CmdLogin {
		req.Host = "127.0.0.1:8300"
	}
	b, err := req.AppendTo(nil)
	if err != nil {
		c.t.Fatalf("%s: encode %s: %v", c.name, cmd, err)
	}
	for len(b) > 0 {
		n := 1 + bytes.IndexAny(b[1:], "&\r")
		if n == 0 {
			n = len(b)
		}
		if _, err := c.conn.Write(b[:n]); err != nil {
			c.t.Fatalf("%s: write %s: %v", c.name, cmd, err)
		}
		b = b[n:]
	}
	return req.TID
}

// do sends a request and returns its response.
func (c *rawClient) do(cmd string, fields ...gwproto.Field) *gwproto.Response {
	c.t.Helper()
	tid := c.send(cmd, fields...)
	deadline := time.After(waitTimeout)
	for {
		select {
		case r := <-c.resps:
			if r.TID() == tid {
				return r
			}
			c.t.Fatalf("%s: %s: response for tid %q, want %q", c.name, cmd, r.TID(), tid)
		case <-c.closed:
			select {
			case r := <-c.resps:
				if r.TID() == tid {
					return r
				}
			default:
			}
			c.t.Fatalf("%s: %s: connection ended: %v", c.name, cmd, c.err)
		case <-deadline:
			c.t.Fatalf("%s: %s: no response within %v", c.name, cmd, waitTimeout)
		}
	}
}

// code returns the response's result code, failing the test if it has none.
func code(t testing.TB, r *gwproto.Response) uint32 {
	t.Helper()
	c, err := r.ResultCode()
	if err != nil {
		t.Fatalf("result code: %v", err)
	}
	return c
}

// mustOK fails unless the response carries result 0.
func (c *rawClient) mustOK(cmd string, fields ...gwproto.Field) *gwproto.Response {
	c.t.Helper()
	r := c.do(cmd, fields...)
	if err := r.Err(); err != nil {
		c.t.Fatalf("%s: %s: %v", c.name, cmd, err)
	}
	return r
}

func (c *rawClient) login(id, password string) *gwproto.Response {
	c.t.Helper()
	return c.do(gwproto.CmdLogin,
		gwproto.NewString(gwproto.TagSzUserID, id),
		gwproto.NewString(gwproto.TagSzCredentials, password),
		gwproto.NewString(gwproto.TagSzUserAgent, "gwtest-client"),
		gwproto.NewNumber(gwproto.TagUdBuild, gwproto.TypeUDWord, gwproto.ProtocolVersion),
	)
}

// loggedIn dials and logs in as id with password "secret".
func loggedIn(t testing.TB, srv *gwtest.Server, id string) *rawClient {
	t.Helper()
	c := dial(t, srv, id)
	if err := c.login(id, "secret").Err(); err != nil {
		t.Fatalf("%s: login: %v", id, err)
	}
	c.mustOK(gwproto.CmdSetStatus, gwproto.NewString(gwproto.TagSzStatus, "2"))
	return c
}

// event waits for the next event of type typ, skipping others.
func (c *rawClient) event(typ gwproto.EventType) *gwproto.Event {
	c.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev := <-c.events:
			if ev.Type == typ {
				return ev
			}
		case <-c.closed:
			// the events read before the end still count
			if ev := c.queued(typ); ev != nil {
				return ev
			}
			c.t.Fatalf("%s: waiting for event %s: connection ended: %v", c.name, typ, c.err)
		case <-deadline:
			c.t.Fatalf("%s: no event %s within %v", c.name, typ, waitTimeout)
		}
	}
}

// queued returns the first already queued event of type typ, dropping the
// ones before it, or nil.
func (c *rawClient) queued(typ gwproto.EventType) *gwproto.Event {
	for {
		select {
		case ev := <-c.events:
			if ev.Type == typ {
				return ev
			}
		default:
			return nil
		}
	}
}

// presence waits for event 103 about src with the given status, skipping
// other events.
func (c *rawClient) presence(src string, status gwproto.Status) {
	c.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev := <-c.events:
			if ev.Type == gwproto.EventStatusChange && ev.Source == src && ev.Status == status {
				return
			}
		case <-c.closed:
			c.t.Fatalf("%s: waiting for %s to be %s: connection ended: %v", c.name, src, status, c.err)
		case <-deadline:
			c.t.Fatalf("%s: %s not %s within %v", c.name, src, status, waitTimeout)
		}
	}
}

// drain returns the events queued once a round trip to the server has
// completed (a ping answered after every earlier output).
func (c *rawClient) drain() []*gwproto.Event {
	c.t.Helper()
	c.mustOK(gwproto.CmdPing)
	var out []*gwproto.Event
	for {
		select {
		case ev := <-c.events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// noEvent asserts that no event is queued once a round trip to the server
// has completed (a ping answered after every earlier output).
func (c *rawClient) noEvent() {
	c.t.Helper()
	c.mustOK(gwproto.CmdPing)
	select {
	case ev := <-c.events:
		c.t.Errorf("%s: unexpected event %s from %s", c.name, ev.Type, ev.Source)
	default:
	}
}

// waitClosed waits until the server ends the connection.
func (c *rawClient) waitClosed() error {
	c.t.Helper()
	select {
	case <-c.closed:
		return c.err
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: connection still open after %v", c.name, waitTimeout)
		return nil
	}
}

func isEOF(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		(errors.As(err, &ne) && !ne.Timeout())
}
