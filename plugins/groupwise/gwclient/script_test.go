package gwclient

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// This file holds a scripted TLS peer: the test itself plays the server,
// request by request, so that it can check exact bytes and misbehave
// (stall, close, send garbage) on purpose.

// testPKI is a CA and a server certificate for 127.0.0.1 and "gw.test".
type testPKI struct {
	pool *x509.CertPool
	cert tls.Certificate
}

var (
	pkiOnce sync.Once
	pki     testPKI
	pkiErr  error
)

func getPKI(t testing.TB) testPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = newPKI() })
	if pkiErr != nil {
		t.Fatalf("creating test certificates: %v", pkiErr)
	}
	return pki
}

func newPKI() (testPKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return testPKI{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gwclient test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return testPKI{}, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return testPKI{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return testPKI{}, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "gw.test"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     []string{"gw.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return testPKI{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testPKI{pool: pool, cert: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}}, nil
}

// scriptServer accepts TLS connections on 127.0.0.1:0 and hands them to the
// test.
type scriptServer struct {
	t     testing.TB
	ln    net.Listener
	conns chan *peer
}

func newScriptServer(t testing.TB) *scriptServer {
	t.Helper()
	p := getPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.cert}})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &scriptServer{t: t, ln: ln, conns: make(chan *peer, 4)}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handshake(conn.(*tls.Conn))
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return s
}

// handshake completes the server side of the TLS handshake (Dial waits
// for it) and queues the connection; failed handshakes are dropped.
func (s *scriptServer) handshake(conn *tls.Conn) {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		_ = conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	// gwproto's reader reuses a *bufio.Reader of at least 4096 bytes, so
	// rawRequest and expect can share br.
	br := bufio.NewReaderSize(conn, 4096)
	s.conns <- &peer{t: s.t, conn: conn, br: br, rr: gwproto.NewRequestReader(br, gwproto.Limits{})}
}

func (s *scriptServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// config returns a client config that trusts the test CA.
func (s *scriptServer) config() Config {
	return Config{
		Server:            "127.0.0.1",
		Port:              s.port(),
		RootCAs:           getPKI(s.t).pool,
		RequestTimeout:    5 * time.Second,
		KeepaliveInterval: -1,
	}
}

// accept returns the next connection whose handshake succeeded.
func (s *scriptServer) accept() *peer {
	select {
	case p := <-s.conns:
		s.t.Cleanup(func() { _ = p.conn.Close() })
		return p
	case <-time.After(5 * time.Second):
		s.t.Error("no connection within 5s")
		return nil
	}
}

// peer is the server side of one connection. Its methods report failures
// with t.Errorf (they may run outside the test goroutine) and then close
// the connection, which makes the client side fail too.
type peer struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	rr   *gwproto.RequestReader
}

// rawRequest reads the next request as bytes: request line, headers up to
// the empty line, body up to CR LF.
func (p *peer) rawRequest() []byte {
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	for {
		line, err := p.br.ReadBytes('\n')
		out = append(out, line...)
		if err != nil {
			p.t.Errorf("server: reading raw request: %v", err)
			return out
		}
		if string(line) == "\r\n" {
			break
		}
	}
	body, err := p.br.ReadBytes('\n')
	if err != nil {
		p.t.Errorf("server: reading raw request body: %v", err)
	}
	return append(out, body...)
}

// expect reads the next request and checks its command.
func (p *peer) expect(cmd string) *gwproto.Request {
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	req, err := p.rr.ReadRequest()
	if err != nil {
		p.t.Errorf("server: reading %s request: %v", cmd, err)
		_ = p.conn.Close()
		return &gwproto.Request{Command: cmd}
	}
	if req.Command != cmd {
		p.t.Errorf("server: got %q request, want %q", req.Command, cmd)
	}
	return req
}

// write sends one message with one Write call, as a real server must.
func (p *peer) write(b []byte) {
	if _, err := p.conn.Write(b); err != nil && !errors.Is(err, net.ErrClosed) {
		p.t.Errorf("server: write: %v", err)
	}
}

// reply answers req with result code 0; lead fields go first (createconf
// and contact-list changes need that), rest after the result code.
func (p *peer) reply(req *gwproto.Request, lead gwproto.Fields, rest ...gwproto.Field) {
	p.replyCode(req, gwproto.CodeSuccess, lead, rest...)
}

func (p *peer) replyCode(req *gwproto.Request, code uint32, lead gwproto.Fields, rest ...gwproto.Field) {
	fs := append(append(lead, gwproto.ResultFields(code, req.TID)...), rest...)
	resp := gwproto.Response{Status: 200, Fields: fs}
	b, err := resp.AppendTo(nil)
	if err != nil {
		p.t.Errorf("server: encoding response: %v", err)
		return
	}
	p.write(b)
}

func (p *peer) event(e gwproto.Event) {
	b, err := e.AppendTo(nil)
	if err != nil {
		p.t.Errorf("server: encoding event: %v", err)
		return
	}
	p.write(b)
}

// Users of the scripted tests.
const (
	aliceDN = "cn=alice,ou=users,o=acme"
	bobDN   = "cn=bob,ou=users,o=acme"
	carolDN = "cn=carol,ou=users,o=acme"
)

// userRecord returns the fields of a user record as a server sends them.
func userRecord(dn, id, full string, st gwproto.Status) gwproto.Fields {
	return gwproto.Fields{
		gwproto.NewDN(gwproto.TagSzDN, dn),
		gwproto.NewString(gwproto.TagSzAuthAttribute, id),
		gwproto.NewString(gwproto.AttrCN, id),
		gwproto.NewString(gwproto.AttrFullName, full),
		gwproto.NewString(gwproto.TagSzStatus, st.Text()),
	}
}

// loginFields is alice's login response: a folder "Friends" (id 1) holding
// bob (contact 2), carol in the root folder (contact 3).
func loginFields() gwproto.Fields {
	fs := userRecord(aliceDN, "alice", "Alice Acme", gwproto.StatusAvailable)
	return append(fs, gwproto.NewArray(gwproto.TagFaContactList,
		gwproto.NewArray(gwproto.TagFaFolder,
			gwproto.NewString(gwproto.TagSzObjectID, "1"),
			gwproto.NewString(gwproto.TagSzParentID, "0"),
			gwproto.NewString(gwproto.TagSzSequenceNumber, "0"),
			gwproto.NewString(gwproto.TagSzDisplayName, "Friends"),
		),
		gwproto.NewArray(gwproto.TagFaContact,
			gwproto.NewString(gwproto.TagSzObjectID, "2"),
			gwproto.NewString(gwproto.TagSzParentID, "1"),
			gwproto.NewString(gwproto.TagSzSequenceNumber, "0"),
			gwproto.NewString(gwproto.TagSzDisplayName, "Bob"),
			gwproto.NewDN(gwproto.TagSzDN, bobDN),
			gwproto.NewArray(gwproto.TagFaUserDetails, userRecord(bobDN, "bob", "Bob Acme", gwproto.StatusAway)...),
		),
		gwproto.NewArray(gwproto.TagFaContact,
			gwproto.NewString(gwproto.TagSzObjectID, "3"),
			gwproto.NewString(gwproto.TagSzParentID, "0"),
			gwproto.NewString(gwproto.TagSzSequenceNumber, "1"),
			gwproto.NewString(gwproto.TagSzDisplayName, "Carol"),
			gwproto.NewDN(gwproto.TagSzDN, carolDN),
			gwproto.NewArray(gwproto.TagFaUserDetails, userRecord(carolDN, "carol", "Carol Acme", gwproto.StatusAvailable)...),
		),
	))
}

// serveLogin plays the server side of a successful login (login, then the
// client's setstatus).
func (p *peer) serveLogin() {
	req := p.expect(gwproto.CmdLogin)
	p.reply(req, nil, loginFields()...)
	p.reply(p.expect(gwproto.CmdSetStatus), nil)
}

// loggedIn dials srv, logs alice in against a scripted peer and returns
// both sides.
func loggedIn(t *testing.T, srv *scriptServer, cfg Config) (*Client, *peer) {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p := srv.accept()
	if p == nil {
		t.FailNow()
	}
	served := make(chan struct{})
	go func() { defer close(served); p.serveLogin() }()
	if _, err := c.Login(context.Background(), "alice", "secret"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	<-served
	return c, p
}

// nextEvent waits for the next event from c.
func nextEvent(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("events closed; client error: %v", c.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return nil
	}
}

// waitDone waits until c's connection has ended and returns Err.
func waitDone(t *testing.T, c *Client) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(5 * time.Second):
		t.Fatal("connection did not end within 5s")
		return nil
	}
}

// asyncCall runs f in a goroutine and returns a channel with its error.
func asyncCall(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func recvErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return within 5s")
		return nil
	}
}

func tidOf(n int) string { return strconv.Itoa(n) }
