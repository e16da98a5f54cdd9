package stclient_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parleygw/parley/plugins/sametime/stclient"
	"github.com/parleygw/parley/plugins/sametime/stproto"
)

type dialResult struct {
	c   *stclient.Client
	err error
}

func dialAsync(cfg stclient.Config) <-chan dialResult {
	done := make(chan dialResult, 1)
	go func() {
		c, err := stclient.Dial(context.Background(), cfg)
		done <- dialResult{c, err}
	}()
	return done
}

func waitDial(t *testing.T, done <-chan dialResult) (*stclient.Client, error) {
	t.Helper()
	select {
	case r := <-done:
		if r.c != nil {
			t.Cleanup(func() { _ = r.c.Close() })
		}
		return r.c, r.err
	case <-time.After(testTimeout):
		t.Fatal("Dial did not return")
		return nil, nil
	}
}

func TestLoginSchemes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		withKey bool
		want    stproto.AuthType
	}{
		{"RC2/128 with Diffie-Hellman", true, stproto.AuthRC2_128},
		{"RC2/40 when the ack has no key", false, stproto.AuthRC2_40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t)
			done := dialAsync(srv.config("alice", "s3cret pässword"))
			sc := srv.accept()
			hs := sc.next(stproto.TypeHandshake).Body.(*stproto.Handshake)
			if hs.Major != 0x1e || hs.Minor != 0x1d || hs.LoginType != stproto.LoginTypeMeanwhile {
				t.Errorf("handshake = %+v, want meanwhile's version and login type", hs)
			}
			sc.sendHandshakeAck(tc.withKey)
			l, pw := sc.login()
			if l.AuthType != tc.want || l.UserID != "alice" {
				t.Errorf("login auth %v user %q, want %v alice", l.AuthType, l.UserID, tc.want)
			}
			if pw != "s3cret pässword" {
				t.Errorf("server decoded password %q", pw)
			}
			sc.sendLoginAck("alice", "alice-login-0001")
			c, err := waitDial(t, done)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if got := c.Self().LoginID; got != "alice-login-0001" {
				t.Errorf("Self().LoginID = %q", got)
			}
			// The login-time services follow, as with meanwhile.
			seen := map[stproto.ServiceID]bool{}
			for len(seen) < 3 {
				seen[sc.next(stproto.TypeChannelCreate).Body.(*stproto.ChannelCreate).Service] = true
			}
			for _, s := range []stproto.ServiceID{stproto.ServiceAware, stproto.ServiceResolve, stproto.ServiceStorage} {
				if !seen[s] {
					t.Errorf("no channel opened for %v", s)
				}
			}
		})
	}
}

func TestLoginWrongPassword(t *testing.T) {
	srv := newScriptServer(t)
	done := dialAsync(srv.config("alice", "wrong"))
	sc := srv.accept()
	sc.handshake(true)
	sc.login()
	sc.send(&stproto.Message{Body: &stproto.ChannelDestroy{Reason: stproto.ReasonIncorrectLogin}})
	_, err := waitDial(t, done)
	errorIs(t, err, stclient.ErrAuthFailed)
	errorIs(t, err, stproto.ReasonIncorrectLogin)
	var se *stclient.ServerError
	if !errors.As(err, &se) || se.Reason != stproto.ReasonIncorrectLogin {
		t.Fatalf("error %v is not a ServerError with the reason", err)
	}
	// meanwhile echoes the destroy before closing.
	id, d := sc.nextDestroy()
	if id != 0 || d.Reason != stproto.ReasonIncorrectLogin {
		t.Errorf("echo destroy ch %d reason %v", id, d.Reason)
	}
}

func TestLoginRedirectForced(t *testing.T) {
	for _, tc := range []struct {
		name  string
		host  string // redirect target
		force bool
	}{
		{"to the same host", "127.0.0.1", false},
		{"with ForceLogin", "elsewhere.example", true},
		{"to an empty host", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t)
			cfg := srv.config("alice", "pw")
			cfg.ForceLogin = tc.force
			cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr != srv.Addr() {
					t.Errorf("client dialled %s", addr)
				}
				return (&net.Dialer{}).DialContext(ctx, network, srv.Addr())
			}
			done := dialAsync(cfg)
			sc := srv.accept()
			sc.handshake(true)
			sc.login()
			sc.send(&stproto.Message{Body: &stproto.LoginRedirect{Host: tc.host, ServerID: "other"}})
			sc.next(stproto.TypeLoginContinue)
			// A LOGIN_ACK only counts after the second HANDSHAKE_ACK.
			sc.sendHandshakeAck(true)
			sc.sendLoginAck("alice", "alice-login-0002")
			c, err := waitDial(t, done)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if c.Self().LoginID != "alice-login-0002" {
				t.Errorf("login id %q", c.Self().LoginID)
			}
		})
	}
}

func TestLoginRedirectMoves(t *testing.T) {
	first, second := newScriptServer(t), newScriptServer(t)
	cfg := first.config("alice", "pw")
	_, secondPort := second.hostPort()
	cfg.Port = secondPort // the redirect keeps the port; only the host changes
	cfg.Host = "first.example"
	cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch addr {
		case net.JoinHostPort("first.example", strconv.Itoa(secondPort)):
			return (&net.Dialer{}).DialContext(ctx, network, first.Addr())
		case net.JoinHostPort("second.example", strconv.Itoa(secondPort)):
			return (&net.Dialer{}).DialContext(ctx, network, second.Addr())
		}
		t.Errorf("unexpected dial %s", addr)
		return nil, errors.New("no such host")
	}
	done := dialAsync(cfg)
	old := first.accept()
	old.handshake(true)
	old.login()
	old.send(&stproto.Message{Body: &stproto.LoginRedirect{Host: "second.example", ServerID: "second"}})

	sc := second.accept()
	sc.handshake(false)
	_, pw := sc.login()
	if pw != "pw" {
		t.Errorf("password at the new server %q", pw)
	}
	sc.sendLoginAck("alice", "alice-login-0003")
	if _, err := waitDial(t, done); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	// The old connection is told goodbye.
	if id, d := old.nextDestroy(); id != 0 || d.Reason != 0 {
		t.Errorf("old connection got destroy ch %d reason %v", id, d.Reason)
	}
}

func TestDialPorts(t *testing.T) {
	srv := newScriptServer(t)
	for _, tc := range []struct {
		name string
		port int
		want string
	}{
		{"default port 1533", 0, "sametime.example:1533"},
		{"custom port", 11533, "sametime.example:11533"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dialled := make(chan string, 1)
			cfg := stclient.Config{Host: "sametime.example", Port: tc.port, User: "alice", Password: "pw"}
			cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialled <- addr
				return (&net.Dialer{}).DialContext(ctx, network, srv.Addr())
			}
			done := dialAsync(cfg)
			sc := srv.accept()
			sc.handshake(true)
			sc.login()
			sc.sendLoginAck("alice", "alice-login-0001")
			if _, err := waitDial(t, done); err != nil {
				t.Fatal(err)
			}
			if got := <-dialled; got != tc.want {
				t.Errorf("dialled %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("real listener on a custom port", func(t *testing.T) {
		s := loginSession(t, srv, srv.config("alice", "pw"))
		if s.c.Err() != nil {
			t.Fatal(s.c.Err())
		}
	})
}

func TestDialStalledServer(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config("alice", "pw")
	cfg.LoginTimeout = 300 * time.Millisecond
	start := time.Now()
	done := dialAsync(cfg)
	sc := srv.accept()
	sc.next(stproto.TypeHandshake) // and never answer
	_, err := waitDial(t, done)
	errorIs(t, err, stclient.ErrTimeout)
	errorIs(t, err, context.DeadlineExceeded)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestDialCanceled(t *testing.T) {
	srv := newScriptServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := stclient.Dial(ctx, srv.config("alice", "pw"))
		done <- err
	}()
	sc := srv.accept()
	sc.next(stproto.TypeHandshake)
	cancel()
	select {
	case err := <-done:
		errorIs(t, err, context.Canceled)
	case <-time.After(testTimeout):
		t.Fatal("Dial ignored cancellation")
	}
}

func TestDialInvalidConfig(t *testing.T) {
	for _, cfg := range []stclient.Config{
		{User: "alice"},
		{Host: "h"},
		{Host: "h", User: "alice", Port: 70000},
	} {
		_, err := stclient.Dial(context.Background(), cfg)
		errorIs(t, err, stclient.ErrInvalidConfig)
	}
}
