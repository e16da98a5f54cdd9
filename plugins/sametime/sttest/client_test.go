package sttest

import (
	"crypto/rand"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// rawClient speaks stproto directly to the fake server.
type rawClient struct {
	t       testing.TB
	conn    net.Conn
	fr      *stproto.FrameReader
	pending []*stproto.Message
	login   stproto.LoginInfo
	dh      *stproto.DHKey
}

const waitTimeout = 5 * time.Second

func dial(t testing.TB, srv *Server) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, fr: stproto.NewFrameReader(conn, 0)}
}

func (c *rawClient) send(m *stproto.Message) {
	c.t.Helper()
	if err := stproto.WriteMessage(c.conn, m); err != nil {
		c.t.Fatalf("send %s: %v", m.Type(), err)
	}
}

func (c *rawClient) sendData(ch uint32, typ uint16, p interface{ Marshal() ([]byte, error) }) {
	c.t.Helper()
	b, err := p.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(&stproto.Message{Channel: ch, Body: &stproto.ChannelSend{Type: typ, Data: b}})
}

// read returns the next message from the wire, or an error at the deadline.
func (c *rawClient) read(d time.Duration) (*stproto.Message, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	return c.fr.ReadMessage()
}

// expect returns the first message matching pred (earlier non-matching
// ones are kept for later expects) and fails the test after waitTimeout.
func (c *rawClient) expect(what string, pred func(*stproto.Message) bool) *stproto.Message {
	c.t.Helper()
	for i, m := range c.pending {
		if pred(m) {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return m
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		m, err := c.read(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if pred(m) {
			return m
		}
		c.pending = append(c.pending, m)
	}
}

// expectNone fails if a message matching pred arrives within d. It is a
// negative check, so it can only wait for a bounded time.
func (c *rawClient) expectNone(what string, d time.Duration, pred func(*stproto.Message) bool) {
	c.t.Helper()
	for _, m := range c.pending {
		if pred(m) {
			c.t.Fatalf("unexpected %s: %#v", what, m.Body)
		}
	}
	deadline := time.Now().Add(d)
	for {
		m, err := c.read(time.Until(deadline))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if err != nil {
			c.t.Fatalf("while checking for no %s: %v", what, err)
		}
		if pred(m) {
			c.t.Fatalf("unexpected %s: %#v", what, m.Body)
		}
		c.pending = append(c.pending, m)
	}
}

func isType(t stproto.MessageType) func(*stproto.Message) bool {
	return func(m *stproto.Message) bool { return m.Type() == t }
}

func onChannel(ch uint32, t stproto.MessageType) func(*stproto.Message) bool {
	return func(m *stproto.Message) bool { return m.Channel == ch && m.Type() == t }
}

func sendOf(ch uint32, typ uint16) func(*stproto.Message) bool {
	return func(m *stproto.Message) bool {
		s, ok := m.Body.(*stproto.ChannelSend)
		return ok && m.Channel == ch && s.Type == typ
	}
}

func createOf(svc stproto.ServiceID) func(*stproto.Message) bool {
	return func(m *stproto.Message) bool {
		c, ok := m.Body.(*stproto.ChannelCreate)
		return ok && c.Service == svc
	}
}

// handshake sends HANDSHAKE and returns the HANDSHAKE_ACK.
func (c *rawClient) handshake() *stproto.HandshakeAck {
	c.t.Helper()
	c.send(&stproto.Message{Body: stproto.NewHandshake()})
	return c.expect("HANDSHAKE_ACK", isType(stproto.TypeHandshakeAck)).Body.(*stproto.HandshakeAck)
}

// sendLogin answers ack with a LOGIN for user/password.
func (c *rawClient) sendLogin(ack *stproto.HandshakeAck, user, password string) {
	c.t.Helper()
	l, err := stproto.NewLogin(ack, user, password, rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(&stproto.Message{Body: l})
}

// loginAs connects and logs in, failing the test unless LOGIN_ACK arrives.
func loginAs(t testing.TB, srv *Server, user, password string) *rawClient {
	t.Helper()
	c := dial(t, srv)
	c.sendLogin(c.handshake(), user, password)
	ack := c.expect("LOGIN_ACK", isType(stproto.TypeLoginAck)).Body.(*stproto.LoginAck)
	c.login = ack.Login
	k, err := stproto.GenerateDHKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c.dh = k
	return c
}

// openService creates a login-time service channel and waits for the accept.
func (c *rawClient) openService(id uint32, svc stproto.ServiceID) *stproto.ChannelAccept {
	c.t.Helper()
	p, _ := stproto.ProtocolOf(svc)
	c.send(&stproto.Message{Body: &stproto.ChannelCreate{ID: id, Service: svc, ProtoType: p.Type, ProtoVer: p.Version}})
	m := c.expect("accept of "+svc.String(), func(m *stproto.Message) bool {
		return m.Channel == id && (m.Type() == stproto.TypeChannelAccept || m.Type() == stproto.TypeChannelDestroy)
	})
	a, ok := m.Body.(*stproto.ChannelAccept)
	if !ok {
		c.t.Fatalf("%s channel refused: %#v", svc, m.Body)
	}
	return a
}

func (c *rawClient) logoff() {
	c.t.Helper()
	c.send(&stproto.Message{Body: &stproto.ChannelDestroy{}})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
