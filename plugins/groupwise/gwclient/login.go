package gwclient

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// LoginInfo is what a successful login tells the client.
type LoginInfo struct {
	// Self is the user's own record; Self.DN is the user's DN.
	Self     User
	Contacts ContactList
	Privacy  Privacy
}

// Login authenticates user (a user id, dotted id or DN) with password. It
// must be the first request on the connection (transaction id 1). On
// success it fetches the details of privacy-list entries it does not know
// (as libpurple does), announces the user as available with setstatus, and
// starts the keepalive ping. A rejected login returns a *ServerError
// (errors.Is with ErrWrongPassword, ErrUserNotFound, ErrAccountDisabled, …)
// and closes the connection, whose Err then returns the same error.
func (c *Client) Login(ctx context.Context, user, password string) (*LoginInfo, error) {
	c.mu.Lock()
	if c.login != loginNone {
		c.mu.Unlock()
		return nil, fmt.Errorf("gwclient: %s: %w", gwproto.CmdLogin, ErrAlreadyLoggedIn)
	}
	c.login = loginRunning
	c.mu.Unlock()

	info, err := c.doLogin(ctx, user, password)
	if err != nil {
		// libpurple closes the connection itself after a failed login.
		c.fail(err)
		return nil, err
	}
	c.log.Info("logged in", "dn", info.Self.DN)
	c.startKeepalive()
	return info, nil
}

func (c *Client) doLogin(ctx context.Context, user, password string) (*LoginInfo, error) {
	fs := gwproto.Fields{
		gwproto.NewString(gwproto.TagSzUserID, user),
		gwproto.NewString(gwproto.TagSzCredentials, password),
		gwproto.NewString(gwproto.TagSzUserAgent, c.cfg.UserAgent),
		gwproto.NewNumber(gwproto.TagUdBuild, gwproto.TypeUDWord, gwproto.ProtocolVersion),
	}
	if ip := localIPv4(c.conn); ip != "" {
		fs = append(fs, gwproto.NewString(gwproto.TagIPAddress, ip))
	}
	resp, err := c.roundTrip(ctx, &gwproto.Request{
		Command: gwproto.CmdLogin,
		Host:    c.cfg.Server + ":" + strconv.Itoa(c.cfg.Port),
		Fields:  fs,
	})
	if err != nil {
		return nil, err
	}
	// The own record is built from the top-level fields (spec §6 step 4).
	self := parseUser(resp.Fields)
	if self.DN == "" {
		return nil, fmt.Errorf("gwclient: %s: no own DN: %w", gwproto.CmdLogin, ErrBadResponse)
	}
	c.cacheUser(self)
	if list, ok := resp.Fields.List(gwproto.TagFaContactList); ok {
		c.loadContactList(list)
	}
	privacy := parsePrivacy(resp.Fields)

	c.mu.Lock()
	c.self = self
	c.login = loginDone
	var unknown []string
	for _, dn := range slices.Concat(privacy.Allow, privacy.Deny) {
		if _, ok := c.users[dnKey(dn)]; !ok {
			unknown = append(unknown, dn)
		}
	}
	c.mu.Unlock()

	// libpurple looks unknown privacy entries up in one request, and the
	// login fails if that request fails.
	if len(unknown) > 0 {
		if _, err := c.getDetails(ctx, unknown...); err != nil {
			return nil, err
		}
	}
	if err := c.SetStatus(ctx, gwproto.StatusAvailable, "", ""); err != nil {
		return nil, err
	}
	return &LoginInfo{Self: c.Self(), Contacts: c.ContactList(), Privacy: privacy}, nil
}

// localIPv4 returns the local address of conn as a dotted quad, which
// libpurple sends as nnmIPAddress, or "" if it is not IPv4.
func localIPv4(conn net.Conn) string {
	addr, ok := conn.LocalAddr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	if ip4 := addr.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return ""
}
