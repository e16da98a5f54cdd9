package groupwise_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/parleygw/parley/plugins/groupwise"
	"github.com/parleygw/parley/plugins/groupwise/gwtest"
	"github.com/parleygw/parley/plugins/sdk"
	"github.com/parleygw/parley/plugins/sdk/sdktest"
)

// BenchmarkMessageRelay measures one message from a session through the
// fake server to another session's event stream: gRPC in, the request on
// the wire, the server's push parsed and translated, the event out.
func BenchmarkMessageRelay(b *testing.B) {
	c, conv := relayConversation(b, groupwise.New())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		text := fmt.Sprintf("message %d ✓", i)
		if _, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s-alice", ConversationID: conv, Text: text}); err != nil {
			b.Fatal(err)
		}
		c.WaitEvent(b, "s-bob", text, sdktest.MessageFrom("alice", text))
	}
}

// sequential hides the adapter's sdk.MessagePipeliner, so the SDK sends a
// session's messages one after another, each waiting for its answer.
type sequential struct{ sdk.Backend }

// BenchmarkMessageRelayWindow measures messages sent as a busy device
// sends them, with up to 64 on their way at once, until the other session
// has them all: "pipelined" lets them overlap at the server,
// "sequential" is the SDK without the adapter's MessagePipeliner. ns/op
// is per message and includes the in-process fake server.
func BenchmarkMessageRelayWindow(b *testing.B) {
	for _, tc := range []struct {
		name    string
		backend func() sdk.Backend
	}{
		{"pipelined", func() sdk.Backend { return groupwise.New() }},
		{"sequential", func() sdk.Backend { return sequential{groupwise.New()} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, conv := relayConversation(b, tc.backend())
			ctx := context.Background()
			window := make(chan struct{}, 64)
			failed := make(chan error, 1)
			done := func(_ string, err error) {
				if err != nil {
					select {
					case failed <- err:
					default:
					}
				}
				<-window
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				window <- struct{}{}
				c.SendMessageAsync(ctx, sdk.OutgoingMessage{SessionID: "s-alice", ConversationID: conv, Text: fmt.Sprintf("message %d ✓", i)}, done)
			}
			for range cap(window) {
				window <- struct{}{}
			}
			last := fmt.Sprintf("message %d ✓", b.N-1)
			c.WaitEvent(b, "s-bob", last, sdktest.MessageFrom("alice", last))
			b.StopTimer()
			select {
			case err := <-failed:
				b.Fatal(err)
			default:
			}
		})
	}
}

// relayConversation serves backend against a fake server, opens sessions
// for alice and bob (closed when b ends) and relays one message from alice
// to bob, so that their conversation exists; it returns the SDK client and
// the conversation's id.
func relayConversation(b *testing.B, backend sdk.Backend) (*sdktest.Conn, string) {
	srv := gwtest.NewServer(b, gwtest.WithUsers(testUsers()), gwtest.WithLogger(hclog.NewNullLogger()))
	c := sdktest.Connect(b, backend, nil, serverAddress(b, srv))
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: "s-" + u, Login: u, Password: "secret"}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.CloseSession(ctx, "s-"+u) })
	}
	conv, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: "warm-up"})
	if err != nil {
		b.Fatal(err)
	}
	c.WaitEvent(b, "s-bob", "warm-up", sdktest.MessageFrom("alice", "warm-up"))
	return c, conv
}
