package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/core/pluginhost"
	"github.com/parleygw/parley/plugins/groupwise/gwclient"
	"github.com/parleygw/parley/plugins/sdk"
)

// pairNames are the sender and receiver ids of pair i.
func pairNames(prefix string, i int) (string, string) {
	return prefix + "a" + strconv.Itoa(i), prefix + "b" + strconv.Itoa(i)
}

// gatewayRelay sends through parleyd with the client library: each pair is
// two devices logged in as two users of one backend.
type gatewayRelay struct {
	name    string
	senders []*client.Conn
	to      []string
	convs   []atomic.Pointer[string]
	conns   []*client.Conn
	ids     atomic.Int64
}

func newGatewayRelay(ctx context.Context, name string, g *gateway, prefix string, pairs int, tr *tracker) (*gatewayRelay, error) {
	r := &gatewayRelay{name: name, senders: make([]*client.Conn, pairs), to: make([]string, pairs), convs: make([]atomic.Pointer[string], pairs)}
	dial := func(user string) (*client.Conn, error) {
		c, err := client.Dial(ctx, client.Config{Addr: g.addr, TLS: g.tls, ClientName: "parley-bench", DeviceID: user + "-bench", EventBuffer: 8192})
		if err != nil {
			return nil, err
		}
		r.conns = append(r.conns, c)
		if _, err := c.Login(ctx, user, password); err != nil {
			return nil, fmt.Errorf("login %s: %w", user, err)
		}
		go func() {
			for e := range c.Events() {
				if m := e.GetMessage(); m != nil {
					tr.delivered(m.Text)
				}
			}
		}()
		return c, nil
	}
	for i := range pairs {
		a, b := pairNames(prefix, i)
		var err error
		if r.senders[i], err = dial(a); err != nil {
			r.close()
			return nil, err
		}
		if _, err = dial(b); err != nil {
			r.close()
			return nil, err
		}
		r.to[i] = b
	}
	return r, nil
}

func (r *gatewayRelay) label() string { return r.name }

func (r *gatewayRelay) send(ctx context.Context, pair int, text string) error {
	conv, to := "", r.to[pair]
	if c := r.convs[pair].Load(); c != nil {
		conv, to = *c, ""
	}
	sent, err := r.senders[pair].SendMessage(ctx, to, conv, text, "bench-"+strconv.FormatInt(r.ids.Add(1), 36))
	if err != nil {
		return err
	}
	if conv == "" && sent.ConversationId != "" {
		r.convs[pair].Store(&sent.ConversationId)
	}
	return nil
}

func (r *gatewayRelay) close() {
	for _, c := range r.conns {
		c.Close()
	}
}

// pluginRelay is the memory backend's baseline: the same plugin binary
// started as parleyd starts it (go-plugin over gRPC), driven through the
// SDK client without parleyd.
type pluginRelay struct {
	host   *pluginhost.Host
	client *sdk.Client
	pid    int
	prefix string
	to     []string
	convs  []atomic.Pointer[string]
	ids    atomic.Int64
}

// startPlugin runs one backend plugin from binDir/plugins as parleyd would.
func startPlugin(ctx context.Context, binDir, work, plugin string, settings []byte, server sdk.ServerAddress, onEvents func([]sdk.Event)) (*pluginhost.Host, *sdk.Client, int, error) {
	dir := filepath.Join(work, "direct-"+plugin)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, 0, err
	}
	host, err := pluginhost.New(pluginhost.Options{
		Dir: filepath.Join(binDir, "plugins"), DataDir: dir,
		Backends:     map[string]pluginhost.BackendSpec{plugin: {Plugin: plugin, Settings: settings, Server: server}},
		StartTimeout: startTimeout, CallTimeout: 30 * time.Second, LogLevel: "warn",
		OnEvents: func(_ string, evs []sdk.Event) { onEvents(evs) },
	})
	if err != nil {
		return nil, nil, 0, err
	}
	if err := host.Start(ctx); err != nil {
		return nil, nil, 0, err
	}
	c, _, err := host.Backend(plugin)
	if err != nil {
		host.Shutdown(context.Background())
		return nil, nil, 0, fmt.Errorf("plugin %s did not start: %w", plugin, err)
	}
	pid := 0
	for _, st := range host.Status() {
		pid = st.PID
	}
	return host, c, pid, nil
}

// memorySettings is the memory backend's settings JSON for users.
func memorySettings(users []imUser, maxFileBytes int64) []byte {
	s := map[string]any{"users": users}
	if maxFileBytes > 0 {
		s["max_file_bytes"] = maxFileBytes
	}
	b, _ := json.Marshal(s)
	return b
}

func newPluginRelay(ctx context.Context, binDir, work string, users []imUser, prefix string, pairs int, tr *tracker) (*pluginRelay, error) {
	r := &pluginRelay{prefix: prefix, to: make([]string, pairs), convs: make([]atomic.Pointer[string], pairs)}
	onEvents := func(evs []sdk.Event) {
		for _, e := range evs {
			if m, ok := e.Kind.(sdk.MessageEvent); ok {
				tr.delivered(m.Text)
			}
		}
	}
	var err error
	r.host, r.client, r.pid, err = startPlugin(ctx, binDir, work, "memory", memorySettings(users, 0), sdk.ServerAddress{Host: "localhost", Port: 1}, onEvents)
	if err != nil {
		return nil, err
	}
	for i := range pairs {
		a, b := pairNames(prefix, i)
		for _, u := range []string{a, b} {
			if _, err := r.client.OpenSession(ctx, sdk.Credentials{SessionID: "direct-" + u, Login: u, Password: password}); err != nil {
				r.close()
				return nil, fmt.Errorf("open session %s: %w", u, err)
			}
		}
		r.to[i] = b
	}
	return r, nil
}

func (r *pluginRelay) label() string { return "memory plugin direct" }

func (r *pluginRelay) send(ctx context.Context, pair int, text string) error {
	a, _ := pairNames(r.prefix, pair)
	msg := sdk.OutgoingMessage{SessionID: "direct-" + a, To: r.to[pair], Text: text,
		IdempotencyKey: "bench-" + strconv.FormatInt(r.ids.Add(1), 36)}
	if c := r.convs[pair].Load(); c != nil {
		msg.ConversationID, msg.To = *c, ""
	}
	conv, err := r.client.SendMessage(ctx, msg)
	if err == nil && msg.ConversationID == "" && conv != "" {
		r.convs[pair].Store(&conv)
	}
	return err
}

func (r *pluginRelay) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.host.Shutdown(ctx)
}

// gwDirectRelay is the GroupWise baseline: the protocol client the plugin
// uses (gwclient), straight to the fake server, one connection per user.
type gwDirectRelay struct {
	senders []*gwclient.Client
	guids   []string
	clients []*gwclient.Client
}

// gwClientConfig is how the bench's own gwclient reaches the fake server.
func gwClientConfig(gw *fakeGroupWise) (gwclient.Config, error) {
	pem, err := os.ReadFile(gw.caFile)
	if err != nil {
		return gwclient.Config{}, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return gwclient.Config{Server: "127.0.0.1", Port: gw.port, RootCAs: pool, EventBuffer: 65536, RequestTimeout: 30 * time.Second}, nil
}

func newGWDirectRelay(ctx context.Context, gw *fakeGroupWise, prefix string, pairs int, tr *tracker) (*gwDirectRelay, error) {
	cfg, err := gwClientConfig(gw)
	if err != nil {
		return nil, err
	}
	r := &gwDirectRelay{senders: make([]*gwclient.Client, pairs), guids: make([]string, pairs)}
	login := func(user string) (*gwclient.Client, *gwclient.LoginInfo, error) {
		c, err := gwclient.Dial(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		r.clients = append(r.clients, c)
		info, err := c.Login(ctx, user, password)
		if err != nil {
			return nil, nil, fmt.Errorf("groupwise login %s: %w", user, err)
		}
		go func() {
			for e := range c.Events() {
				if m, ok := e.(gwclient.MessageReceived); ok {
					tr.delivered(m.Text)
				}
			}
		}()
		return c, info, nil
	}
	for i := range pairs {
		a, b := pairNames(prefix, i)
		if r.senders[i], _, err = login(a); err != nil {
			r.close()
			return nil, err
		}
		_, info, err := login(b)
		if err != nil {
			r.close()
			return nil, err
		}
		if r.guids[i], err = r.senders[i].OpenIM(ctx, info.Self.DN); err != nil {
			r.close()
			return nil, fmt.Errorf("groupwise conference %s→%s: %w", a, b, err)
		}
	}
	return r, nil
}

func (r *gwDirectRelay) label() string { return "gwclient direct" }

func (r *gwDirectRelay) send(ctx context.Context, pair int, text string) error {
	return r.senders[pair].SendMessage(ctx, r.guids[pair], text)
}

func (r *gwDirectRelay) close() {
	for _, c := range r.clients {
		c.Close()
	}
}
