package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

var testSettings = []byte(`{"users": {"alice": "alice-secret", "bob": "bob-secret"}}`)

// TestConformance runs the SDK's conformance suite: the same checks the
// gateway's own backends pass.
func TestConformance(t *testing.T) {
	sdktest.Run(t, sdktest.Harness{
		New:      func(*testing.T) sdk.Backend { return newBackend() },
		Settings: testSettings,
		Alice:    sdktest.Account{Login: "alice", Password: "alice-secret"},
		Bob:      sdktest.Account{Login: "bob", Password: "bob-secret"},
	})
}

func TestBotAnswersInTheSameConversation(t *testing.T) {
	c := sdktest.Connect(t, newBackend(), testSettings, sdk.ServerAddress{})
	ctx := context.Background()
	snap, err := c.OpenSession(ctx, sdk.Credentials{SessionID: "s1", Login: "alice", Password: "alice-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Contacts) == 0 || snap.Contacts[0].UserID != botID {
		t.Fatalf("contacts %+v do not start with the bot", snap.Contacts)
	}
	conv, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s1", To: botID, Text: "ping?"})
	if err != nil {
		t.Fatal(err)
	}
	got := c.WaitEvent(t, "s1", "the bot's answer", sdktest.MessageFrom(botID, "ping?"))
	if id := got.Kind.(sdk.MessageEvent).ConversationID; id != conv {
		t.Fatalf("answer in conversation %q, want %q", id, conv)
	}
	// A follow-up names only the conversation.
	if _, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s1", ConversationID: conv, Text: "again"}); err != nil {
		t.Fatal(err)
	}
	c.WaitEvent(t, "s1", "the second answer", sdktest.MessageFrom(botID, "again"))
}

func TestMessageToOfflineUserIsRefused(t *testing.T) {
	c := sdktest.Connect(t, newBackend(), testSettings, sdk.ServerAddress{})
	ctx := context.Background()
	if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: "s1", Login: "alice", Password: "alice-secret"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s1", To: "bob", Text: "are you there?"})
	if !sdktest.IsReason(err, sdk.ReasonNotFound) {
		t.Fatalf("message to offline bob: got %v, want reason %q", err, sdk.ReasonNotFound)
	}
}

func TestSecondLoginEndsTheFirstSession(t *testing.T) {
	c := sdktest.Connect(t, newBackend(), testSettings, sdk.ServerAddress{})
	ctx := context.Background()
	for _, sid := range []string{"s1", "s2"} {
		if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: sid, Login: "alice", Password: "alice-secret"}); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitEvent(t, "s1", "session ended", func(e sdk.Event) bool {
		ended, ok := e.Kind.(sdk.SessionEndedEvent)
		return ok && ended.Reason == sdk.ReasonKicked
	})
	if _, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s1", To: botID, Text: "x"}); !sdktest.IsReason(err, sdk.ReasonSessionNotFound) {
		t.Fatalf("send on the ended session: got %v, want reason %q", err, sdk.ReasonSessionNotFound)
	}
}

func TestConfigureNeedsUsers(t *testing.T) {
	for _, settings := range []string{``, `{}`, `{"users": {}}`, `{"users": {"echo": "x"}}`, `{"users": [`} {
		err := newBackend().Configure(context.Background(), sdk.Config{Settings: []byte(settings)})
		if !sdktest.IsReason(err, sdk.ReasonInvalidArgument) {
			t.Errorf("settings %q: got %v, want reason %q", settings, err, sdk.ReasonInvalidArgument)
		}
	}
}

// TestBinaryStartsAsPlugin builds the plugin and starts it the way parleyd
// does: go-plugin over gRPC with automatic mutual TLS. It catches what the
// in-memory suite cannot, such as output on stdout before the handshake or
// a name that does not match the file name.
func TestBinaryStartsAsPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the plugin with")
	}
	bin := filepath.Join(t.TempDir(), "parley-backend-echo")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.HostPlugins(),
		Cmd:              exec.Command(bin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  sdk.HostDialOptions(),
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Warn, Output: os.Stderr}),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("starting the plugin: %v", err)
	}
	backend, err := sdk.Dispense(rpc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, err := backend.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(filepath.Base(bin), "parley-backend-"); info.Name != want {
		t.Fatalf("GetInfo name %q does not match the file name (want %q)", info.Name, want)
	}
	if err := backend.Configure(ctx, testSettings, sdk.ServerAddress{}); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.OpenSession(ctx, sdk.Credentials{SessionID: "s1", Login: "alice", Password: "alice-secret"}); err != nil {
		t.Fatal(err)
	}
	stream, cancel := context.WithTimeout(ctx, sdktest.EventTimeout)
	defer cancel()
	events, err := backend.Subscribe(stream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backend.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s1", To: botID, Text: "over the wire"}); err != nil {
		t.Fatal(err)
	}
	for {
		batch, err := events.Recv()
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		for _, e := range batch {
			if sdktest.MessageFrom(botID, "over the wire")(e) {
				return
			}
		}
	}
}
