package stclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stproto"
)

// loginConn is a connection during the login phase.
type loginConn struct {
	conn net.Conn
	fr   *stproto.FrameReader
	addr string
	host string
	stop func() bool // detaches the context watcher
}

// loginResult is how the server answered a LOGIN.
type loginResult struct {
	ack      *stproto.LoginAck
	redirect *stproto.LoginRedirect
}

// login connects and authenticates, following redirects (spec §3.7).
func (c *Client) login(ctx context.Context) (*loginConn, *stproto.LoginAck, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LoginTimeout)
	defer cancel()
	lc, err := c.dialHost(ctx, c.cfg.Host)
	if err != nil {
		return nil, nil, err
	}
	for hops := 0; ; hops++ {
		res, err := c.authenticate(ctx, lc)
		if err != nil {
			lc.close()
			return nil, nil, err
		}
		if res.ack != nil {
			return lc.detach(ctx, res.ack)
		}
		to := res.redirect.Host
		c.log.Info("login redirected", "host", to, "server_id", res.redirect.ServerID)
		var next *loginConn
		if !c.cfg.ForceLogin && to != "" && to != lc.host && hops < maxRedirects {
			if next, err = c.dialHost(ctx, to); err != nil {
				c.log.Warn("redirect target unreachable, forcing login", "host", to, "error", err)
			}
		}
		if next == nil {
			ack, err := c.forceLogin(ctx, lc)
			if err != nil {
				lc.close()
				return nil, nil, err
			}
			return lc.detach(ctx, ack)
		}
		_ = lc.write(&stproto.Message{Body: &stproto.ChannelDestroy{Reason: stproto.ReasonSuccess}})
		lc.close()
		lc = next
	}
}

// dialHost opens a TCP connection to host on the configured port. The
// connection's deadline follows ctx until detach.
func (c *Client) dialHost(ctx context.Context, host string) (*loginConn, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(c.cfg.Port))
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	conn, err := c.cfg.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stclient: dial %s: %w", addr, loginErr(ctx, err))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return &loginConn{
		conn: conn,
		fr:   stproto.NewFrameReader(conn, c.cfg.MaxFrameSize),
		addr: addr,
		host: host,
		stop: stop,
	}, nil
}

func (lc *loginConn) close() {
	lc.stop()
	_ = lc.conn.Close()
}

// detach ends the login phase: the context no longer governs the
// connection and its deadlines are cleared. If the context ended in the
// meantime, the login counts as failed.
func (lc *loginConn) detach(ctx context.Context, ack *stproto.LoginAck) (*loginConn, *stproto.LoginAck, error) {
	if !lc.stop() {
		_ = lc.conn.Close()
		return nil, nil, fmt.Errorf("stclient: login: %w", loginErr(ctx, ctx.Err()))
	}
	_ = lc.conn.SetDeadline(time.Time{})
	return lc, ack, nil
}

func (lc *loginConn) write(m *stproto.Message) error {
	return stproto.WriteMessage(lc.conn, m)
}

// loginErr turns a login-phase I/O error into ErrTimeout, the context's
// error or ErrConnectionLost.
func loginErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: server closed the connection: %w", ErrConnectionLost, err)
	}
	if errors.Is(err, stproto.ErrFrameTooLarge) {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, err)
}

// authenticate sends HANDSHAKE, answers HANDSHAKE_ACK with LOGIN and waits
// for LOGIN_ACK, LOGIN_REDIRECT or a refusal (spec §3.1).
func (c *Client) authenticate(ctx context.Context, lc *loginConn) (loginResult, error) {
	hs := stproto.NewHandshake()
	hs.LoginType = c.cfg.LoginType
	if err := lc.write(&stproto.Message{Body: hs}); err != nil {
		return loginResult{}, fmt.Errorf("stclient: handshake: %w", loginErr(ctx, err))
	}
	sentLogin := false
	for {
		m, err := c.readLogin(ctx, lc)
		if err != nil {
			return loginResult{}, err
		}
		switch b := m.Body.(type) {
		case *stproto.HandshakeAck:
			if sentLogin {
				continue
			}
			login, err := c.loginMessage(b)
			if err != nil {
				return loginResult{}, fmt.Errorf("stclient: login: %w", err)
			}
			c.log.Debug("handshake acknowledged", "server_version", fmt.Sprintf("%#x.%#x", b.Major, b.Minor), "auth", login.AuthType)
			if err := lc.write(&stproto.Message{Body: login}); err != nil {
				return loginResult{}, fmt.Errorf("stclient: login: %w", loginErr(ctx, err))
			}
			sentLogin = true
		case *stproto.LoginAck:
			if sentLogin {
				return loginResult{ack: b}, nil
			}
		case *stproto.LoginRedirect:
			if sentLogin {
				return loginResult{redirect: b}, nil
			}
		case *stproto.ChannelDestroy:
			if m.Channel == stproto.MasterChannel {
				return loginResult{}, c.refused(lc, b.Reason)
			}
		}
	}
}

// forceLogin sends LOGIN_CONTINUE; the server answers with a fresh
// HANDSHAKE_ACK and then LOGIN_ACK, which only counts after that ack.
func (c *Client) forceLogin(ctx context.Context, lc *loginConn) (*stproto.LoginAck, error) {
	if err := lc.write(&stproto.Message{Body: &stproto.LoginContinue{}}); err != nil {
		return nil, fmt.Errorf("stclient: force login: %w", loginErr(ctx, err))
	}
	acked := false
	for {
		m, err := c.readLogin(ctx, lc)
		if err != nil {
			return nil, err
		}
		switch b := m.Body.(type) {
		case *stproto.HandshakeAck:
			acked = true
		case *stproto.LoginAck:
			if acked {
				return b, nil
			}
		case *stproto.ChannelDestroy:
			if m.Channel == stproto.MasterChannel {
				return nil, c.refused(lc, b.Reason)
			}
		}
	}
}

// refused handles a CHANNEL_DESTROY of the master channel during login:
// like meanwhile it echoes the destroy before closing.
func (c *Client) refused(lc *loginConn, reason stproto.ReasonError) error {
	c.log.Info("login refused", "reason", uint32(reason))
	_ = lc.write(&stproto.Message{Body: &stproto.ChannelDestroy{Reason: reason}})
	return sessionError("login", reason)
}

// readLogin reads the next decodable message during login.
func (c *Client) readLogin(ctx context.Context, lc *loginConn) (*stproto.Message, error) {
	for {
		b, err := lc.fr.ReadFrame()
		if err != nil {
			return nil, fmt.Errorf("stclient: login: %w", loginErr(ctx, err))
		}
		m, err := stproto.Unmarshal(b)
		if err != nil {
			c.log.Warn("dropping undecodable message during login", "error", err)
			continue
		}
		return m, nil
	}
}

// loginMessage builds the LOGIN for ack: RC2/128 with the session's DH
// key if the ack carries a full key, RC2/40 otherwise (spec §3.4).
func (c *Client) loginMessage(ack *stproto.HandshakeAck) (*stproto.Login, error) {
	l := &stproto.Login{LoginType: c.cfg.LoginType, UserID: c.cfg.User}
	var err error
	if ack.UsesRC2_128() {
		l.AuthType = stproto.AuthRC2_128
		l.AuthData, err = stproto.EncodeAuthRC2_128(c.dh, ack.PubKey, ack.Magic, c.cfg.Password)
	} else {
		key := make([]byte, 5)
		if _, err = io.ReadFull(c.cfg.Rand, key); err != nil {
			return nil, fmt.Errorf("RC2/40 key: %w", err)
		}
		l.AuthType = stproto.AuthRC2_40
		l.AuthData, err = stproto.EncodeAuthRC2_40(key, c.cfg.Password)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}
