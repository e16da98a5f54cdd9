package stclient_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// testTimeout bounds every wait of the scripted fake; it only fires when a
// test is broken.
const testTimeout = 10 * time.Second

// scriptServer is a scripted Sametime server for this package's tests:
// the test itself plays the server (and peers) message by message,
// built on stproto only.
type scriptServer struct {
	t     testing.TB
	ln    net.Listener
	conns chan net.Conn
}

func newScriptServer(t testing.TB) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{t: t, ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(s.conns)
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return s
}

// Addr returns the listening address.
func (s *scriptServer) Addr() string { return s.ln.Addr().String() }

func (s *scriptServer) hostPort() (string, int) {
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		s.t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

// config returns a client config for this server.
func (s *scriptServer) config(user, password string) stclient.Config {
	host, port := s.hostPort()
	return stclient.Config{Host: host, Port: port, User: user, Password: password}
}

// accept returns the next client connection.
func (s *scriptServer) accept() *scriptConn {
	s.t.Helper()
	select {
	case c, ok := <-s.conns:
		if !ok {
			s.t.Fatal("listener closed")
		}
		br := bufio.NewReaderSize(c, 64<<10)
		sc := &scriptConn{t: s.t, conn: c, br: br, fr: stproto.NewFrameReader(br, 0)}
		s.t.Cleanup(func() { _ = c.Close() })
		return sc
	case <-time.After(testTimeout):
		s.t.Fatal("no client connected")
		return nil
	}
}

// scriptConn is the server end of one client connection.
type scriptConn struct {
	t     testing.TB
	conn  net.Conn
	br    *bufio.Reader
	fr    *stproto.FrameReader
	dh    *stproto.DHKey
	magic uint32
}

// read returns the next message from the client.
func (sc *scriptConn) read() *stproto.Message {
	sc.t.Helper()
	_ = sc.conn.SetReadDeadline(time.Now().Add(testTimeout))
	m, err := sc.fr.ReadMessage()
	if err != nil {
		sc.t.Fatalf("server read: %v", err)
	}
	return m
}

// next returns the next message of type typ, skipping others (status,
// privacy and service chatter the test does not care about).
func (sc *scriptConn) next(typ stproto.MessageType) *stproto.Message {
	sc.t.Helper()
	for {
		if m := sc.read(); m.Type() == typ {
			return m
		}
	}
}

// nextSend returns the next CHANNEL_SEND on channel id of msgType.
func (sc *scriptConn) nextSend(id uint32, msgType uint16) (*stproto.Message, *stproto.ChannelSend) {
	sc.t.Helper()
	for {
		m := sc.next(stproto.TypeChannelSend)
		if b := m.Body.(*stproto.ChannelSend); m.Channel == id && b.Type == msgType {
			return m, b
		}
	}
}

// nextCreate returns the next CHANNEL_CREATE for service svc.
func (sc *scriptConn) nextCreate(svc stproto.ServiceID) *stproto.ChannelCreate {
	sc.t.Helper()
	for {
		m := sc.next(stproto.TypeChannelCreate)
		if b := m.Body.(*stproto.ChannelCreate); b.Service == svc {
			return b
		}
	}
}

// nextDestroy returns the next CHANNEL_DESTROY.
func (sc *scriptConn) nextDestroy() (uint32, *stproto.ChannelDestroy) {
	sc.t.Helper()
	m := sc.next(stproto.TypeChannelDestroy)
	return m.Channel, m.Body.(*stproto.ChannelDestroy)
}

func (sc *scriptConn) send(m *stproto.Message) {
	sc.t.Helper()
	_ = sc.conn.SetWriteDeadline(time.Now().Add(testTimeout))
	if err := stproto.WriteMessage(sc.conn, m); err != nil {
		sc.t.Fatalf("server write: %v", err)
	}
}

func (sc *scriptConn) sendOn(id uint32, msgType uint16, data []byte) {
	sc.t.Helper()
	sc.send(&stproto.Message{Channel: id, Body: &stproto.ChannelSend{Type: msgType, Data: data}})
}

// handshake answers the client's HANDSHAKE; withKey selects RC2/128 login.
func (sc *scriptConn) handshake(withKey bool) {
	sc.t.Helper()
	sc.next(stproto.TypeHandshake)
	sc.sendHandshakeAck(withKey)
}

func (sc *scriptConn) sendHandshakeAck(withKey bool) {
	sc.t.Helper()
	ack := &stproto.HandshakeAck{Major: stproto.VersionMajor, Minor: stproto.VersionMinor, SrvrCalcAddr: 0x7f000001}
	if withKey {
		dh, err := stproto.GenerateDHKey(rand.Reader)
		if err != nil {
			sc.t.Fatal(err)
		}
		sc.dh, sc.magic = dh, 0x01234567
		ack.Magic, ack.PubKey = sc.magic, dh.PublicPadded()
	} else {
		ack.Minor = 0x0018 // an old server: no magic, no key
	}
	sc.send(&stproto.Message{Body: ack})
}

// login reads the LOGIN and returns it with the password it carries.
func (sc *scriptConn) login() (*stproto.Login, string) {
	sc.t.Helper()
	l := sc.next(stproto.TypeLogin).Body.(*stproto.Login)
	pw, err := stproto.LoginPassword(l, sc.dh, sc.magic)
	if err != nil {
		sc.t.Fatalf("decoding login: %v", err)
	}
	return l, pw
}

func loginInfo(user, loginID string) stproto.LoginInfo {
	return stproto.LoginInfo{
		LoginID: loginID, LoginType: stproto.LoginTypeMeanwhile, UserID: user,
		UserName: user + " Example", Full: true, IPAddr: 0x7f000001, ServerID: "script",
	}
}

func (sc *scriptConn) sendLoginAck(user, loginID string) {
	sc.t.Helper()
	sc.send(&stproto.Message{Body: &stproto.LoginAck{
		Login:   loginInfo(user, loginID),
		Privacy: stproto.PrivacyInfo{Deny: true},
		Status:  stproto.UserStatus{Status: stproto.StatusActive},
	}})
}

// accept answers an outgoing channel of the client without a cipher.
func (sc *scriptConn) accept(b *stproto.ChannelCreate, acceptor *stproto.LoginInfo, answer stproto.EncryptAnswer) {
	sc.t.Helper()
	sc.send(&stproto.Message{Channel: b.ID, Body: &stproto.ChannelAccept{
		Service: b.Service, ProtoType: b.ProtoType, ProtoVer: b.ProtoVer,
		Acceptor: acceptor, Encrypt: answer,
	}})
}

// session is a client logged in to a scripted server, with the server
// end and the ids of the login-time service channels.
type session struct {
	c        *stclient.Client
	sc       *scriptConn
	services map[stproto.ServiceID]uint32
}

// loginSession logs a client in as user and accepts its service channels.
func loginSession(t testing.TB, srv *scriptServer, cfg stclient.Config) *session {
	t.Helper()
	type result struct {
		c   *stclient.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := stclient.Dial(context.Background(), cfg)
		done <- result{c, err}
	}()
	sc := srv.accept()
	sc.handshake(true)
	sc.login()
	sc.sendLoginAck(cfg.User, cfg.User+"-login-0001")
	r := <-done
	if r.err != nil {
		t.Fatalf("Dial: %v", r.err)
	}
	t.Cleanup(func() { _ = r.c.Close() })
	s := &session{c: r.c, sc: sc, services: make(map[stproto.ServiceID]uint32)}
	for len(s.services) < 3 {
		b := sc.next(stproto.TypeChannelCreate).Body.(*stproto.ChannelCreate)
		s.services[b.Service] = b.ID
		sc.accept(b, nil, stproto.EncryptAnswer{})
	}
	return s
}

// nextEvent returns the next event of type T, skipping other events.
func nextEvent[T stclient.Event](t testing.TB, c *stclient.Client) T {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				var zero T
				t.Fatalf("events closed while waiting for %T: %v", zero, c.Err())
			}
			if v, ok := ev.(T); ok {
				return v
			}
		case <-timeout:
			var zero T
			t.Fatalf("no %T event", zero)
		}
	}
}

// errorIs fails the test unless errors.Is(err, target).
func errorIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v does not match %v", err, target)
	}
}
