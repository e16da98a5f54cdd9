package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// maxResponseBytes bounds an answer the client reads.
	maxResponseBytes = 64 << 20
	// clientTimeout bounds one request; a plugin reload is the slowest.
	clientTimeout = 2 * time.Minute
	// CodeUnexpectedResponse is the Code of an APIError made from an
	// answer that is not the API's JSON (a proxy's error page, say).
	CodeUnexpectedResponse = "unexpected_response"
)

// Client calls the admin API. Its methods return *APIError for the API's
// error answers.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client for the admin API at addr: "host:port" on a
// loopback address, "unix:/path/to/socket", or a loopback "http://" URL.
// Non-loopback addresses are refused (ErrNotLoopback): the token would
// cross the network in clear.
func NewClient(addr, token string) (*Client, error) {
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	c := &Client{token: token}
	transport := &http.Transport{
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: clientTimeout,
		Proxy:                 nil, // never through a proxy: the token is sent in clear
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("%w: %q needs a socket path", ErrBadAddress, addr)
		}
		var d net.Dialer
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}
		c.base = "http://parleyd"
	} else {
		hostport := addr
		if u, err := url.Parse(addr); err == nil && u.Scheme == "http" {
			hostport = u.Host
		}
		if err := checkLoopback(hostport); err != nil {
			return nil, err
		}
		c.base = "http://" + hostport
	}
	c.hc = &http.Client{Transport: transport, Timeout: clientTimeout,
		// The API never redirects; following one would turn a DELETE
		// into a GET of another resource.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

// do sends a request with an optional JSON body and decodes the JSON
// answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin client: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // it repeats the method and URL
		}
		return fmt.Errorf("admin client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("admin client: %s %s: reading answer: %w", method, path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("admin client: %s %s: answer is over %d bytes", method, path, maxResponseBytes)
	}
	if resp.StatusCode >= 300 {
		return answerError(resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &APIError{Status: resp.StatusCode, Code: CodeUnexpectedResponse,
			Message: fmt.Sprintf("%s %s: answer is not the expected JSON: %v", method, path, err)}
	}
	return nil
}

func answerError(status int, data []byte) error {
	var eb errorBody
	if err := json.Unmarshal(data, &eb); err == nil && eb.Error.Code != "" {
		return &APIError{Status: status, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	snippet := strings.TrimSpace(string(data))
	if len(snippet) > 200 {
		snippet = snippet[:200] + "..."
	}
	return &APIError{Status: status, Code: CodeUnexpectedResponse,
		Message: fmt.Sprintf("HTTP %d: %s", status, strconv.Quote(snippet))}
}

func userPath(id string, rest ...string) string {
	return "/v1/users/" + url.PathEscape(id) + strings.Join(rest, "")
}

func groupPath(name string, rest ...string) string {
	return "/v1/groups/" + url.PathEscape(name) + strings.Join(rest, "")
}

// call is do with a typed answer.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	err := c.do(ctx, method, path, in, &out)
	return out, err
}

// Health reports the daemon's state.
func (c *Client) Health(ctx context.Context) (Health, error) {
	return call[Health](ctx, c, http.MethodGet, "/v1/health", nil)
}

// Users lists every user.
func (c *Client) Users(ctx context.Context) (UserList, error) {
	return call[UserList](ctx, c, http.MethodGet, "/v1/users", nil)
}

// User returns one user.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	return call[User](ctx, c, http.MethodGet, userPath(id), nil)
}

// AddUser adds a user.
func (c *Client) AddUser(ctx context.Context, u NewUser) (User, error) {
	return call[User](ctx, c, http.MethodPost, "/v1/users", u)
}

// EnableUser lets a user log in again.
func (c *Client) EnableUser(ctx context.Context, id string) (UserChange, error) {
	return call[UserChange](ctx, c, http.MethodPost, userPath(id, "/enable"), nil)
}

// DisableUser stops a user from logging in and ends the user's sessions.
func (c *Client) DisableUser(ctx context.Context, id string) (UserChange, error) {
	return call[UserChange](ctx, c, http.MethodPost, userPath(id, "/disable"), nil)
}

// DeleteUser removes a user and ends the user's sessions.
func (c *Client) DeleteUser(ctx context.Context, id string) (UserChange, error) {
	return call[UserChange](ctx, c, http.MethodDelete, userPath(id), nil)
}

// SetUserGroup moves a user to a group; "" takes the user out of any.
func (c *Client) SetUserGroup(ctx context.Context, id, group string) (UserChange, error) {
	return call[UserChange](ctx, c, http.MethodPut, userPath(id, "/group"), SetGroup{Group: group})
}

// UserPolicy returns the file transfer policy that applies to a user.
func (c *Client) UserPolicy(ctx context.Context, id string) (UserPolicy, error) {
	return call[UserPolicy](ctx, c, http.MethodGet, userPath(id, "/policy"), nil)
}

// KickUser ends every live session of a user.
func (c *Client) KickUser(ctx context.Context, id string) (Kicked, error) {
	return call[Kicked](ctx, c, http.MethodDelete, userPath(id, "/sessions"), nil)
}

// Groups lists every group.
func (c *Client) Groups(ctx context.Context) (GroupList, error) {
	return call[GroupList](ctx, c, http.MethodGet, "/v1/groups", nil)
}

// AddGroup adds a group.
func (c *Client) AddGroup(ctx context.Context, g NewGroup) (Group, error) {
	return call[Group](ctx, c, http.MethodPost, "/v1/groups", g)
}

// DeleteGroup removes a group that has no users.
func (c *Client) DeleteGroup(ctx context.Context, name string) (Deleted, error) {
	return call[Deleted](ctx, c, http.MethodDelete, groupPath(name), nil)
}

// GroupPolicy returns a group's policy: its own, or the default one.
func (c *Client) GroupPolicy(ctx context.Context, name string) (Policy, error) {
	return call[Policy](ctx, c, http.MethodGet, groupPath(name, "/policy"), nil)
}

// SetPolicy changes the given fields of a group's policy.
func (c *Client) SetPolicy(ctx context.Context, name string, ch PolicyChange) (Policy, error) {
	return call[Policy](ctx, c, http.MethodPatch, groupPath(name, "/policy"), ch)
}

// DeletePolicy drops a group's own policy and returns the default one its
// users get now.
func (c *Client) DeletePolicy(ctx context.Context, name string) (Policy, error) {
	return call[Policy](ctx, c, http.MethodDelete, groupPath(name, "/policy"), nil)
}

// Policies lists every group's own policy and the default one.
func (c *Client) Policies(ctx context.Context) (PolicyList, error) {
	return call[PolicyList](ctx, c, http.MethodGet, "/v1/policies", nil)
}

// Audit lists recorded admin changes, newest first.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (AuditList, error) {
	v := url.Values{}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Target != "" {
		v.Set("target", q.Target)
	}
	if q.BeforeID != 0 {
		v.Set("before", strconv.FormatInt(q.BeforeID, 10))
	}
	path := "/v1/audit"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return call[AuditList](ctx, c, http.MethodGet, path, nil)
}

// Sessions lists live sessions, of one user if user is not "".
func (c *Client) Sessions(ctx context.Context, user string) (SessionList, error) {
	path := "/v1/sessions"
	if user != "" {
		path += "?" + url.Values{"user": {user}}.Encode()
	}
	return call[SessionList](ctx, c, http.MethodGet, path, nil)
}

// Plugins lists the backends' plugins.
func (c *Client) Plugins(ctx context.Context) (PluginList, error) {
	return call[PluginList](ctx, c, http.MethodGet, "/v1/plugins", nil)
}

// ReloadPlugins rescans the plugin directory and returns the plugins'
// state afterwards.
func (c *Client) ReloadPlugins(ctx context.Context) (PluginList, error) {
	return call[PluginList](ctx, c, http.MethodPost, "/v1/plugins/reload", nil)
}
