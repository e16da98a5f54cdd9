package gwclient

import (
	"context"
	"fmt"
	"strings"

	"github.com/parleygw/parley/plugins/groupwise/gwproto"
)

// Self returns the logged-in user's own record (empty before Login).
func (c *Client) Self() User {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self
}

// User returns the cached record of dn (compared case-insensitively):
// contacts from the login response, users looked up with GetDetails, and
// senders of events.
func (c *Client) User(dn string) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.users[dnKey(dn)]
	return u, ok
}

func (c *Client) cacheUser(u User) {
	if u.DN == "" {
		return // a record without DN is never cached (spec §3)
	}
	c.mu.Lock()
	c.users[dnKey(u.DN)] = u
	c.mu.Unlock()
}

func (c *Client) setPresence(dn string, st gwproto.Status, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.users[dnKey(dn)]; ok {
		u.Status, u.StatusText = st, text
		c.users[dnKey(dn)] = u
	}
}

// SetStatus sets the user's presence. text is the status message (newlines
// become spaces, as in libpurple) and autoReply the automatic answer the
// server sends to messages while the user is busy or away; empty strings
// are left out of the request.
func (c *Client) SetStatus(ctx context.Context, st gwproto.Status, text, autoReply string) error {
	fs := gwproto.Fields{gwproto.NewString(gwproto.TagSzStatus, st.Text())}
	if text != "" {
		text = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(text)
		fs = append(fs, gwproto.NewString(gwproto.TagSzStatusText, text))
	}
	if autoReply != "" {
		fs = append(fs, gwproto.NewString(gwproto.TagSzMessageBody, autoReply))
	}
	if _, err := c.call(ctx, gwproto.CmdSetStatus, fs); err != nil {
		return err
	}
	c.mu.Lock()
	c.self.Status, c.self.StatusText = st, text
	c.mu.Unlock()
	return nil
}

// GetStatus asks the server for the presence of dn.
func (c *Client) GetStatus(ctx context.Context, dn string) (gwproto.Status, error) {
	// libpurple sends this DN as type UTF8, not DN (spec §4.3).
	resp, err := c.call(ctx, gwproto.CmdGetStatus, gwproto.Fields{gwproto.NewString(gwproto.TagSzDN, dn)})
	if err != nil {
		return 0, err
	}
	s, ok := resp.Fields.String(gwproto.TagSzStatus)
	if !ok {
		return 0, fmt.Errorf("gwclient: %s: no status: %w", gwproto.CmdGetStatus, ErrBadResponse)
	}
	st := gwproto.Status(atoi(s))
	c.setPresence(dn, st, "")
	return st, nil
}

// GetDetails looks a user up by key — a typed DN, a dotted display id or a
// user id — and caches the record. An unknown user gives an error matching
// ErrUserNotFound.
func (c *Client) GetDetails(ctx context.Context, key string) (User, error) {
	users, err := c.getDetails(ctx, key)
	if err != nil {
		return User{}, err
	}
	if len(users) == 0 {
		return User{}, fmt.Errorf("gwclient: %s: %q: no result: %w", gwproto.CmdGetDetails, key, ErrBadResponse)
	}
	return users[0], nil
}

// getDetails sends one getdetails with one NM_A_SZ_USERID per key and
// returns (and caches) every record in the response.
func (c *Client) getDetails(ctx context.Context, keys ...string) ([]User, error) {
	fs := make(gwproto.Fields, 0, len(keys))
	for _, k := range keys {
		fs = append(fs, gwproto.NewString(gwproto.TagSzUserID, k))
	}
	resp, err := c.call(ctx, gwproto.CmdGetDetails, fs)
	if err != nil {
		return nil, err
	}
	var users []User
	for _, f := range resp.Fields.FindAll(gwproto.TagFaResults) {
		if !f.Type.IsList() {
			continue
		}
		u := parseUser(f.Children)
		if u.DN == "" {
			continue // libpurple cannot use a result without DN either
		}
		c.cacheUser(u)
		users = append(users, u)
	}
	return users, nil
}
