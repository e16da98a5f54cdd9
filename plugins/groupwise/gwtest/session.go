package gwtest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

const (
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 10 * time.Second
	// outQueue bounds the messages waiting for a slow client; a client
	// that falls further behind is disconnected.
	outQueue = 1024
)

// session is one client connection.
type session struct {
	srv       *Server
	conn      *tls.Conn
	raw       net.Conn // the connection under TLS
	log       hclog.Logger
	out       chan []byte
	flush     chan struct{} // closed to make the writer send what is queued, then close
	flushOnce sync.Once
	done      chan struct{} // closed when the connection is finished

	// guarded by srv.mu
	acct *account
}

func newSession(srv *Server, raw net.Conn, conf *tls.Config) *session {
	conn := tls.Server(raw, conf)
	return &session{
		srv:   srv,
		conn:  conn,
		raw:   raw,
		log:   srv.log.Named("conn").With("remote", conn.RemoteAddr().String()),
		out:   make(chan []byte, outQueue),
		flush: make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// serve runs the connection: TLS handshake, writer, request loop, cleanup.
func (s *session) serve() {
	defer s.srv.wg.Done()
	defer s.conn.Close()
	s.conn.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := s.conn.Handshake(); err != nil {
		s.log.Debug("TLS handshake failed", "error", err)
		s.srv.removeSession(s)
		return
	}
	s.conn.SetDeadline(time.Time{})
	s.log.Debug("connected", "tls", tls.VersionName(s.conn.ConnectionState().Version))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop()
	}()
	err := s.readLoop()
	if err == nil {
		// logout: let the answer go out before closing
		s.closeAfterFlush()
		<-writerDone
	}
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		s.log.Debug("connection closed")
	default:
		s.log.Info("connection dropped", "error", err)
	}
	s.conn.Close()
	close(s.done)
	<-writerDone
	s.srv.removeSession(s)
}

func (s *session) readLoop() error {
	rr := gwproto.NewRequestReader(s.conn, s.srv.limits)
	for {
		s.conn.SetReadDeadline(time.Now().Add(s.srv.idle))
		req, err := rr.ReadRequest()
		if err != nil {
			return err
		}
		if !s.srv.waitRunning(s.done) {
			return net.ErrClosed
		}
		info := s.srv.handle(s, req)
		if s.srv.hook != nil {
			s.srv.hook(info)
		}
		if info.Command == gwproto.CmdLogout {
			return nil
		}
	}
}

// writeLoop writes every queued message with its own Write call: libpurple
// processes one message per TLS record (spec §1.7).
func (s *session) writeLoop() {
	for {
		select {
		case b := <-s.out:
			if !s.write(b) {
				return
			}
		case <-s.done:
			return
		case <-s.flush:
			for {
				select {
				case b := <-s.out:
					if !s.write(b) {
						return
					}
				default:
					s.conn.Close()
					return
				}
			}
		}
	}
}

func (s *session) write(b []byte) bool {
	if !s.srv.waitRunning(s.done) {
		return false
	}
	s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.conn.Write(b); err != nil {
		s.log.Debug("write failed", "error", err)
		s.conn.Close()
		return false
	}
	return true
}

// closeAfterFlush closes the connection once everything queued so far has
// been written.
func (s *session) closeAfterFlush() {
	s.flushOnce.Do(func() { close(s.flush) })
}

// enqueue queues one encoded message; the caller holds srv.mu, so messages
// to all sessions keep the order in which the server produced them.
func (s *session) enqueue(b []byte) {
	select {
	case s.out <- b:
	default:
		s.log.Warn("client too slow, disconnecting", "queued", len(s.out))
		s.abort()
	}
}

// abort closes the connection at once, without a TLS close_notify that
// could block on a client that does not read. Callers may hold srv.mu.
func (s *session) abort() { s.raw.Close() }
