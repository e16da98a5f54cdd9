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
	srv := gwtest.NewServer(b, gwtest.WithUsers(testUsers()), gwtest.WithLogger(hclog.NewNullLogger()))
	c := sdktest.Connect(b, groupwise.New(), nil, serverAddress(b, srv))
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: "s-" + u, Login: u, Password: "secret"}); err != nil {
			b.Fatal(err)
		}
		defer c.CloseSession(ctx, "s-"+u)
	}
	conv, err := c.SendMessage(ctx, sdk.OutgoingMessage{SessionID: "s-alice", To: "bob", Text: "warm-up"})
	if err != nil {
		b.Fatal(err)
	}
	c.WaitEvent(b, "s-bob", "warm-up", sdktest.MessageFrom("alice", "warm-up"))
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
