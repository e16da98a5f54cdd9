package sttest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// Timeouts of a connection.
const (
	writeTimeout = 10 * time.Second
	// refusedLinger is how long a refused login's connection is kept open
	// for the client's echo of the CHANNEL_DESTROY.
	refusedLinger = 5 * time.Second
	// outQueue bounds the frames queued for one connection; a client that
	// falls this far behind is disconnected.
	outQueue = 4096
)

type loginState int

const (
	stateHandshake  loginState = iota // waiting for HANDSHAKE
	stateLogin                        // HANDSHAKE_ACK sent, waiting for LOGIN
	stateRedirected                   // LOGIN_REDIRECT sent, waiting for LOGIN_CONTINUE
	stateOnline                       // LOGIN_ACK sent
	stateRefused                      // login refused, waiting for the echo
)

// session is one client connection.
type session struct {
	srv  *Server
	conn net.Conn
	log  hclog.Logger
	ip   uint32

	// Everything below is guarded by srv.mu.
	state    loginState
	online   bool
	ended    bool
	seq      int
	acct     *account
	login    stproto.LoginInfo
	status   stproto.UserStatus
	dh       *stproto.DHKey
	magic    uint32
	pending  *stproto.Login // the verified login behind a redirect
	channels map[uint32]*channel
	nextID   uint32          // last server-side channel number
	watching map[string]bool // aware subscriptions, lower-case user ids
	attrs    map[uint32][]byte

	out       chan []byte
	outClosed bool
}

type channelKind int

const (
	kindAware channelKind = iota
	kindResolve
	kindStorage
	kindRelay
	kindConference
)

// channel is a channel of one session, by the id that session uses.
type channel struct {
	id    uint32
	kind  channelKind
	relay *relay
	conf  *conference
}

func newSession(srv *Server, conn net.Conn) *session {
	s := &session{
		srv:      srv,
		conn:     conn,
		log:      srv.log.Named("conn").With("remote", conn.RemoteAddr().String()),
		channels: map[uint32]*channel{},
		watching: map[string]bool{},
		attrs:    map[uint32][]byte{},
		out:      make(chan []byte, outQueue),
	}
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		if v4 := ta.IP.To4(); v4 != nil {
			s.ip = binary.BigEndian.Uint32(v4)
		}
	}
	return s
}

// send queues a message for the client. Callers hold srv.mu.
func (s *session) send(m *stproto.Message) {
	if s.outClosed {
		return
	}
	b, err := m.MarshalFrame()
	if err != nil {
		s.log.Error("encode failed", "type", m.Type().String(), "error", err)
		return
	}
	select {
	case s.out <- b:
	default:
		s.log.Warn("client too slow, disconnecting", "queued", outQueue)
		s.closeOut()
	}
}

// sendData queues a CHANNEL_SEND with an encoded payload.
func (s *session) sendData(ch uint32, typ uint16, payload interface{ Marshal() ([]byte, error) }) {
	b, err := payload.Marshal()
	if err != nil {
		s.log.Error("encode payload failed", "msg_type", typ, "error", err)
		return
	}
	s.send(&stproto.Message{Channel: ch, Body: &stproto.ChannelSend{Type: typ, Data: b}})
}

// destroy queues a CHANNEL_DESTROY.
func (s *session) destroy(ch uint32, reason stproto.ReasonError) {
	s.send(&stproto.Message{Channel: ch, Body: &stproto.ChannelDestroy{Reason: reason}})
}

// closeOut lets the writer flush what is queued and close the connection.
func (s *session) closeOut() {
	if !s.outClosed {
		s.outClosed = true
		close(s.out)
	}
}

func (s *session) writeLoop() {
	defer s.srv.wg.Done()
	defer s.conn.Close()
	for b := range s.out {
		s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := s.conn.Write(b); err != nil {
			s.log.Debug("write failed", "error", err)
			s.conn.Close()
			for range s.out {
				// drain until the reader side closes the queue
			}
			return
		}
	}
}

func (s *session) readLoop() {
	defer s.srv.wg.Done()
	fr := stproto.NewFrameReader(s.conn, s.srv.cfg.maxFrame)
	var keepalives uint64
	for {
		s.srv.waitStall()
		s.srv.mu.Lock()
		if s.state != stateRefused {
			s.conn.SetReadDeadline(time.Now().Add(s.srv.cfg.idle))
		}
		s.srv.mu.Unlock()
		b, err := fr.ReadFrame()
		if n := fr.Keepalives(); n > keepalives {
			s.srv.stats.keepalives.Add(int64(n - keepalives))
			keepalives = n
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("read ended", "error", err)
			}
			break
		}
		m, err := stproto.Unmarshal(b)
		s.srv.mu.Lock()
		if err != nil {
			s.log.Warn("undecodable message ignored", "error", err)
		} else if s.handle(m) {
			s.srv.mu.Unlock()
			break
		}
		s.srv.mu.Unlock()
	}
	s.srv.mu.Lock()
	s.srv.endSession(s)
	s.srv.mu.Unlock()
}

// handle processes one message; it returns true when the connection is
// to be closed. Callers hold srv.mu.
func (s *session) handle(m *stproto.Message) bool {
	s.log.Trace("message", "type", m.Type().String(), "channel", m.Channel)
	switch body := m.Body.(type) {
	case *stproto.Handshake:
		s.onHandshake(body)
	case *stproto.Login:
		s.onLogin(body)
	case *stproto.LoginContinue:
		s.onLoginContinue()
	case *stproto.ChannelDestroy:
		if m.Channel == stproto.MasterChannel {
			s.log.Debug("client closed the session", "reason", uint32(body.Reason))
			return true
		}
		if s.online {
			s.onChannelDestroy(m.Channel, body)
		}
	default:
		if !s.online {
			if s.state != stateRefused {
				s.log.Debug("message before login ignored", "type", m.Type().String())
			}
			if c, ok := body.(*stproto.ChannelCreate); ok && s.state != stateRefused {
				s.destroy(c.ID, stproto.ReasonNotLoggedIn)
			}
			return false
		}
		s.handleOnline(m)
	}
	return false
}

func (s *session) handleOnline(m *stproto.Message) {
	switch body := m.Body.(type) {
	case *stproto.ChannelCreate:
		s.onChannelCreate(body)
	case *stproto.ChannelAccept:
		s.onChannelAccept(m.Channel, body)
	case *stproto.ChannelSend:
		s.onChannelSend(m, body)
	case *stproto.SetUserStatus:
		s.status = body.Status
		s.srv.publishPresence(s.acct)
	case *stproto.SetPrivacyList:
		// Stored by real servers; the fake does not enforce privacy.
	case *stproto.SenseService:
		switch body.Service {
		case stproto.ServiceAware, stproto.ServiceResolve, stproto.ServiceStorage, stproto.ServiceIM,
			stproto.ServiceFileTransfer, stproto.ServiceConference:
			s.send(&stproto.Message{Body: &stproto.SenseService{Service: body.Service}})
		}
	default:
		s.log.Debug("message ignored", "type", m.Type().String())
	}
}

func (s *session) onHandshake(h *stproto.Handshake) {
	if s.state != stateHandshake {
		s.log.Debug("repeated handshake ignored")
		return
	}
	k, err := stproto.GenerateDHKey(rand.Reader)
	if err != nil {
		s.log.Error("DH key", "error", err)
		s.closeOut()
		return
	}
	var mb [4]byte
	if _, err := rand.Read(mb[:]); err != nil {
		s.log.Error("magic", "error", err)
		s.closeOut()
		return
	}
	s.dh, s.magic = k, binary.BigEndian.Uint32(mb[:])
	s.state = stateLogin
	s.sendHandshakeAck()
	s.log.Debug("handshake", "client_major", h.Major, "client_minor", h.Minor, "login_type", uint16(h.LoginType))
}

func (s *session) sendHandshakeAck() {
	ack := &stproto.HandshakeAck{Major: stproto.VersionMajor, Minor: stproto.VersionMinor, SrvrCalcAddr: s.ip, Magic: s.magic}
	if !s.srv.cfg.rc2_40Login {
		ack.PubKey = s.dh.PublicPadded()
	}
	s.send(&stproto.Message{Body: ack})
}

func (s *session) onLogin(l *stproto.Login) {
	if s.state != stateLogin {
		s.log.Debug("LOGIN out of order ignored")
		return
	}
	acct := s.srv.account(l.UserID)
	var dh *stproto.DHKey
	if !s.srv.cfg.rc2_40Login {
		dh = s.dh
	}
	password, err := stproto.LoginPassword(l, dh, s.magic)
	if acct == nil || err != nil || password != acct.Password {
		s.srv.stats.loginFailures.Add(1)
		s.log.Info("login refused", "user", l.UserID, "scheme", l.AuthType.String(), "known_user", acct != nil, "decode_error", err)
		s.state = stateRefused
		s.destroy(stproto.MasterChannel, stproto.ReasonIncorrectLogin)
		s.conn.SetReadDeadline(time.Now().Add(refusedLinger))
		return
	}
	s.acct = acct
	if s.srv.cfg.redirectHost != "" {
		s.pending = l
		s.state = stateRedirected
		s.srv.stats.redirects.Add(1)
		s.send(&stproto.Message{Body: &stproto.LoginRedirect{Host: s.srv.cfg.redirectHost, ServerID: s.srv.cfg.redirectID}})
		s.log.Info("login redirected", "user", acct.ID)
		return
	}
	s.completeLogin(l)
}

func (s *session) onLoginContinue() {
	if s.state != stateRedirected {
		s.log.Debug("LOGIN_CONTINUE out of order ignored")
		return
	}
	s.sendHandshakeAck()
	s.completeLogin(s.pending)
	s.pending = nil
}

func (s *session) completeLogin(l *stproto.Login) {
	srv := s.srv
	srv.loginSeq++
	s.seq = srv.loginSeq
	s.login = stproto.LoginInfo{
		LoginID:   fmt.Sprintf("%s-login-%04d", s.acct.ID, s.seq),
		LoginType: l.LoginType,
		UserID:    s.acct.ID,
		UserName:  s.acct.FullName,
		Full:      true,
		IPAddr:    s.ip,
		ServerID:  srv.cfg.serverID,
	}
	s.status = stproto.UserStatus{Status: stproto.StatusActive}
	s.state, s.online = stateOnline, true
	s.log = s.log.With("user", s.acct.ID)
	s.send(&stproto.Message{Body: &stproto.LoginAck{
		Login:   s.login,
		Privacy: stproto.PrivacyInfo{Deny: true},
		Status:  s.status,
	}})
	srv.stats.logins.Add(1)
	s.log.Info("logged in", "scheme", l.AuthType.String())
	srv.publishPresence(s.acct)
}

// peerInfo is the LoginInfo other users see for this session.
func (s *session) peerInfo() *stproto.LoginInfo {
	li := s.login
	return &li
}

// endSession tears a session down (logoff, disconnect, kick or server
// close). Callers hold srv.mu.
func (srv *Server) endSession(s *session) {
	if s.ended {
		return
	}
	s.ended = true
	delete(srv.sessions, s)
	for id, ch := range s.channels {
		switch ch.kind {
		case kindRelay:
			if peer, peerID := ch.relay.other(s, id); peer != nil {
				peer.destroy(peerID, stproto.ReasonSuccess)
				delete(peer.channels, peerID)
			}
		case kindConference:
			srv.leaveConference(ch.conf, s)
		}
		delete(s.channels, id)
	}
	s.closeOut()
	if s.online {
		s.online = false
		s.log.Info("logged off")
		if srv.sessionOf(s.acct.ID) == nil {
			srv.publishPresence(s.acct)
		}
	}
}
