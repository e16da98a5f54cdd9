package gwclient

import (
	"context"
	"crypto/tls"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// loginVector is the login request of spec §9.1, produced by libpurple
// 2.14.12 for alice / "p@ss w0rd" on gw.example.com:8300 from 192.0.2.10.
const loginVector = "POST /login HTTP/1.0\r\nHost: gw.example.com:8300\r\n\r\n" +
	"&tag=NM_A_SZ_USERID&cmd=0&val=alice&type=10" +
	"&tag=NM_A_SZ_CREDENTIALS&cmd=0&val=p%40ss+w0rd&type=10" +
	"&tag=NM_A_SZ_USER_AGENT&cmd=0&val=Purple%2f2%2e14%2e12+%28Linux%3b+6%2e1%2e0%2d18%2damd64%29&type=10" +
	"&tag=NM_A_UD_BUILD&cmd=0&val=2&type=8" +
	"&tag=nnmIPAddress&cmd=0&val=192%2e0%2e2%2e10&type=10" +
	"&tag=NM_A_SZ_TRANSACTION_ID&cmd=0&val=1&type=10\r\n"

func TestLoginRequestMatchesLibpurple(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	cfg.UserAgent = "Purple/2.14.12 (Linux; 6.1.0-18-amd64)"
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	p := srv.accept()
	got := make(chan string, 1)
	go func() {
		got <- string(p.rawRequest())
		p.reply(&gwproto.Request{TID: "1"}, nil, loginFields()...)
		p.reply(p.expect(gwproto.CmdSetStatus), nil)
	}()
	if _, err := c.Login(context.Background(), "alice", "p@ss w0rd"); err != nil {
		t.Fatalf("Login: %v", err)
	}
	// Only the address differs from the vector: this test runs on 127.0.0.1
	// with a random port.
	want := strings.NewReplacer(
		"gw.example.com:8300", "127.0.0.1:"+strconv.Itoa(srv.port()),
		"192%2e0%2e2%2e10", "127%2e0%2e0%2e1",
	).Replace(loginVector)
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("login request differs from spec §9.1 (-want +got):\n%s", diff)
	}
}

func TestLoginReturnsContactListAndFolders(t *testing.T) {
	srv := newScriptServer(t)
	c, err := Dial(context.Background(), srv.config())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	p := srv.accept()
	statusReq := make(chan *gwproto.Request, 1)
	go func() {
		req := p.expect(gwproto.CmdLogin)
		if req.TID != "1" {
			t.Errorf("login TID = %q, want 1", req.TID)
		}
		p.reply(req, nil, loginFields()...)
		st := p.expect(gwproto.CmdSetStatus)
		statusReq <- st
		p.reply(st, nil)
	}()
	info, err := c.Login(context.Background(), "alice", "secret")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if info.Self.DN != aliceDN || info.Self.DisplayID != "alice" || info.Self.FullName != "Alice Acme" {
		t.Errorf("Self = %+v", info.Self)
	}
	bob := User{DN: bobDN, DisplayID: "bob", UserID: "bob", FullName: "Bob Acme", Status: gwproto.StatusAway}
	carol := User{DN: carolDN, DisplayID: "carol", UserID: "carol", FullName: "Carol Acme", Status: gwproto.StatusAvailable}
	want := ContactList{
		Folders: []Folder{{ID: 1, Sequence: 0, Name: "Friends"}},
		Contacts: []Contact{
			{ID: 2, FolderID: 1, Sequence: 0, DisplayName: "Bob", DN: bobDN, Details: bob},
			{ID: 3, FolderID: 0, Sequence: 1, DisplayName: "Carol", DN: carolDN, Details: carol},
		},
	}
	if diff := cmp.Diff(want, info.Contacts); diff != "" {
		t.Errorf("contact list (-want +got):\n%s", diff)
	}
	// After login the client announces itself available (TID 2), as
	// libpurple does.
	st := <-statusReq
	if st.TID != "2" || len(st.Fields) != 1 || st.Fields[0].Value != "2" {
		t.Errorf("setstatus after login = %+v", st)
	}
	if u, ok := c.User(strings.ToUpper(bobDN)); !ok || u.Status != gwproto.StatusAway {
		t.Errorf("User(bob) = %+v, %v", u, ok)
	}
}

func TestLoginRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		code uint32
		want error
	}{
		{"wrong password", gwproto.CodePasswordInvalid, ErrWrongPassword},
		{"authentication failed", gwproto.CodeAuthenticationFailed, ErrWrongPassword},
		{"unknown user", gwproto.CodeUserNotFound, ErrUserNotFound},
		{"disabled", gwproto.CodeUserDisabled, ErrAccountDisabled},
		{"busy", gwproto.CodeServerBusy, ErrServerBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t)
			c, err := Dial(context.Background(), srv.config())
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			p := srv.accept()
			go func() { p.replyCode(p.expect(gwproto.CmdLogin), tc.code, nil) }()
			_, err = c.Login(context.Background(), "alice", "wrong")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Login error = %v, want %v", err, tc.want)
			}
			var se *ServerError
			if !errors.As(err, &se) || se.Result.Code != tc.code || se.Command != gwproto.CmdLogin {
				t.Errorf("Login error %v is not a *ServerError for code %d", err, tc.code)
			}
			if !errors.Is(err, &gwproto.ResultError{Code: tc.code}) {
				t.Errorf("Login error %v does not match gwproto.ResultError %d", err, tc.code)
			}
			// libpurple closes the connection after a failed login.
			if got := waitDone(t, c); !errors.Is(got, tc.want) {
				t.Errorf("Err() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequestsBeforeLoginRefused(t *testing.T) {
	srv := newScriptServer(t)
	c, err := Dial(context.Background(), srv.config())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.GetDetails(context.Background(), bobDN); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("GetDetails before login: %v, want ErrNotLoggedIn", err)
	}
}

func TestLoginTwiceRefused(t *testing.T) {
	srv := newScriptServer(t)
	c, _ := loggedIn(t, srv, srv.config())
	if _, err := c.Login(context.Background(), "alice", "secret"); !errors.Is(err, ErrAlreadyLoggedIn) {
		t.Errorf("second Login: %v, want ErrAlreadyLoggedIn", err)
	}
}

func TestCustomPortAndServerName(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	if cfg.Port == DefaultPort {
		t.Skip("the random port happens to be 8300")
	}
	cfg.ServerName = "gw.test" // certificate name differs from the address
	c, p := loggedIn(t, srv, cfg)
	done := asyncCall(func() error { return c.Ping(context.Background()) })
	p.reply(p.expect(gwproto.CmdPing), nil)
	if err := recvErr(t, done); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{Server: "gw.example.com"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 8300 || cfg.ServerName != "gw.example.com" || cfg.KeepaliveInterval != 30*time.Second ||
		cfg.RequestTimeout != DefaultRequestTimeout || cfg.WriteTimeout != DefaultRequestTimeout {
		t.Errorf("defaults = %+v", cfg)
	}
	for _, bad := range []Config{{}, {Server: "x", Port: 70000}, {Server: "x", Port: -1}} {
		if _, err := Dial(context.Background(), bad); !errors.Is(err, ErrConfig) {
			t.Errorf("Dial(%+v) = %v, want ErrConfig", bad, err)
		}
	}
}

func TestCertificateVerification(t *testing.T) {
	srv := newScriptServer(t)
	for _, tc := range []struct {
		name   string
		modify func(*Config)
	}{
		{"no CA configured", func(c *Config) { c.RootCAs = nil }},
		{"wrong server name", func(c *Config) { c.ServerName = "other.test" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.config()
			tc.modify(&cfg)
			c, err := Dial(context.Background(), cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded with an unverifiable certificate")
			}
			var cve *tls.CertificateVerificationError
			if !errors.As(err, &cve) {
				t.Errorf("Dial error %v is not a certificate verification error", err)
			}
		})
	}
	t.Run("insecure switch", func(t *testing.T) {
		cfg := srv.config()
		cfg.RootCAs, cfg.InsecureSkipVerify = nil, true
		c, err := Dial(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Dial with InsecureSkipVerify: %v", err)
		}
		c.Close()
	})
}

func TestDialRefused(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	srv.ln.Close()
	if _, err := Dial(context.Background(), cfg); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}

func TestServerClosesConnection(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	pending := asyncCall(func() error { _, err := c.GetStatus(context.Background(), bobDN); return err })
	p.expect(gwproto.CmdGetStatus)
	p.conn.Close()
	if err := recvErr(t, pending); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("pending request: %v, want ErrConnectionLost", err)
	}
	if err := waitDone(t, c); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Err() = %v, want ErrConnectionLost", err)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("Events not closed after the connection ended")
	}
	if err := c.Ping(context.Background()); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("request after the end: %v, want ErrConnectionLost", err)
	}
}

func TestStalledServerTimesOut(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	cfg.RequestTimeout = 200 * time.Millisecond
	c, p := loggedIn(t, srv, cfg)
	start := time.Now()
	pending := asyncCall(func() error { _, err := c.GetDetails(context.Background(), bobDN); return err })
	p.expect(gwproto.CmdGetDetails) // read, never answered
	err := recvErr(t, pending)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("GetDetails: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
	if err := waitDone(t, c); !errors.Is(err, ErrTimeout) {
		t.Errorf("Err() = %v, want ErrTimeout", err)
	}
}

func TestStalledLoginTimesOut(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	cfg.RequestTimeout = 200 * time.Millisecond
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	p := srv.accept()
	go func() {
		// Half a response, then silence: the client is stuck mid-message.
		p.expect(gwproto.CmdLogin)
		p.write([]byte("HTTP/1.0 200 OK\r\n\r\n\x0a\x00"))
	}()
	if _, err := c.Login(context.Background(), "alice", "secret"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Login: %v, want ErrTimeout", err)
	}
}

func TestCallerContextEndsOnlyTheRequest(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	ctx, cancel := context.WithCancel(context.Background())
	pending := asyncCall(func() error { _, err := c.GetStatus(ctx, bobDN); return err })
	late := p.expect(gwproto.CmdGetStatus)
	cancel()
	if err := recvErr(t, pending); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetStatus: %v, want context.Canceled", err)
	}
	// The late answer is dropped and the connection stays usable.
	p.reply(late, nil, gwproto.NewString(gwproto.TagSzStatus, "2"))
	done := asyncCall(func() error { return c.Ping(context.Background()) })
	p.reply(p.expect(gwproto.CmdPing), nil)
	if err := recvErr(t, done); err != nil {
		t.Errorf("Ping after a cancelled request: %v", err)
	}
}

func TestResponsesMatchedByTransactionID(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	type result struct {
		st  gwproto.Status
		err error
	}
	bobCh, carolCh := make(chan result, 1), make(chan result, 1)
	go func() { st, err := c.GetStatus(context.Background(), bobDN); bobCh <- result{st, err} }()
	first := p.expect(gwproto.CmdGetStatus)
	go func() { st, err := c.GetStatus(context.Background(), carolDN); carolCh <- result{st, err} }()
	second := p.expect(gwproto.CmdGetStatus)
	// Answer in reverse order, with an event in between.
	statusOf := map[string]string{bobDN: "4", carolDN: "3"}
	p.reply(second, nil, gwproto.NewString(gwproto.TagSzStatus, statusOf[second.Fields[0].Value]))
	p.event(gwproto.Event{Type: gwproto.EventUserTyping, Source: bobDN, GUID: "[G]"})
	p.reply(first, nil, gwproto.NewString(gwproto.TagSzStatus, statusOf[first.Fields[0].Value]))
	for _, tc := range []struct {
		ch   chan result
		want gwproto.Status
	}{{bobCh, gwproto.StatusAway}, {carolCh, gwproto.StatusBusy}} {
		select {
		case r := <-tc.ch:
			if r.err != nil || r.st != tc.want {
				t.Errorf("GetStatus = %v, %v; want %v", r.st, r.err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("GetStatus did not return")
		}
	}
	if ev, ok := nextEvent(t, c).(Typing); !ok || ev.Source != bobDN {
		t.Errorf("event = %#v", ev)
	}
}

func TestKeepalivePings(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	cfg.KeepaliveInterval = 20 * time.Millisecond
	_, p := loggedIn(t, srv, cfg)
	// Two pings arrive on their own, with increasing transaction ids.
	first := p.expect(gwproto.CmdPing)
	p.reply(first, nil)
	second := p.expect(gwproto.CmdPing)
	p.reply(second, nil)
	if len(first.Fields) != 0 || atoi(second.TID) <= atoi(first.TID) {
		t.Errorf("pings = %+v, %+v", first, second)
	}
}

func TestUnansweredKeepaliveEndsConnection(t *testing.T) {
	srv := newScriptServer(t)
	cfg := srv.config()
	cfg.KeepaliveInterval = 20 * time.Millisecond
	cfg.RequestTimeout = 200 * time.Millisecond
	c, p := loggedIn(t, srv, cfg)
	p.expect(gwproto.CmdPing) // never answered
	if err := waitDone(t, c); !errors.Is(err, ErrTimeout) {
		t.Errorf("Err() = %v, want ErrTimeout", err)
	}
}

func TestCloseSendsNoLogout(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The server sees the stream end without any further request.
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if req, err := p.rr.ReadRequest(); err == nil {
		t.Errorf("server got %q request after Close", req.Command)
	}
	if err := c.Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", err)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("Events not closed by Close")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRedirectEndsConnection(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	pending := asyncCall(func() error { return c.Ping(context.Background()) })
	p.expect(gwproto.CmdPing)
	p.write([]byte("HTTP/1.0 301 Moved\r\n\r\n"))
	if err := recvErr(t, pending); !errors.Is(err, ErrProtocol) {
		t.Errorf("Ping: %v, want ErrProtocol", err)
	}
}

func TestResponseWithoutResultCode(t *testing.T) {
	srv := newScriptServer(t)
	c, p := loggedIn(t, srv, srv.config())
	pending := asyncCall(func() error { return c.Ping(context.Background()) })
	req := p.expect(gwproto.CmdPing)
	resp := gwproto.Response{Fields: gwproto.Fields{gwproto.NewString(gwproto.TagSzTransactionID, req.TID)}}
	b, _ := resp.AppendTo(nil)
	p.write(b)
	if err := recvErr(t, pending); !errors.Is(err, ErrBadResponse) || !errors.Is(err, gwproto.ErrMissingResultCode) {
		t.Errorf("Ping: %v, want ErrBadResponse wrapping ErrMissingResultCode", err)
	}
	if c.Err() != nil {
		t.Errorf("connection ended: %v", c.Err())
	}
}
