package sdk

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func chatEvent(i int) Event {
	return Event{SessionID: "session-0123456789abcdef", Time: time.Unix(1700000000, int64(i)), Kind: MessageEvent{
		ConversationID: "dm:alice:bob", From: "alice", Text: "a typical chat message of about sixty bytes, give or take"}}
}

// BenchmarkEventQueue is a backend emitting a burst of events (a
// presence flood at login, a busy conference) that the Subscribe loop
// then takes in batches; ns/op is per event.
func BenchmarkEventQueue(b *testing.B) {
	for _, backlog := range []int{256, 65536} {
		b.Run("backlog="+strconv.Itoa(backlog), func(b *testing.B) {
			q := newEventQueue(backlog)
			ev := chatEvent(0)
			var batch []Event
			b.ReportAllocs()
			for done := 0; done < b.N; {
				n := min(backlog, b.N-done)
				for range n {
					q.Emit(ev)
				}
				for got := 0; got < n; got += len(batch) {
					batch = q.take(batch[:0], maxEventBatch)
				}
				done += n
			}
		})
	}
}

// tryEmit emits e unless the queue is full (so the benchmark never
// measures the overflow path).
func (q *eventQueue) tryEmit(e Event) bool {
	q.mu.Lock()
	full := q.len() >= q.max
	q.mu.Unlock()
	if !full {
		q.Emit(e)
	}
	return !full
}

// BenchmarkSubscribe is the event stream end to end: events emitted in the
// plugin, batched by Subscribe, sent over gRPC on a unix socket and
// converted by the host's EventStream; ns/op is per event.
func BenchmarkSubscribe(b *testing.B) {
	s := newGRPCServer(nil, 65536, hclog.NewNullLogger())
	sock := filepath.Join(b.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBackendServer(srv, s)
	go srv.Serve(ln)
	defer srv.Stop()
	conn, err := grpc.NewClient("unix://"+sock, append(HostDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := NewClient(conn).Subscribe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ev := chatEvent(0)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			for !s.events.tryEmit(ev) {
			}
		}
	}()
	batches := 0
	for got := 0; got < b.N; batches++ {
		evs, err := stream.Recv()
		if err != nil {
			b.Fatal(err)
		}
		got += len(evs)
	}
	b.ReportMetric(float64(b.N)/float64(batches), "events/batch")
}

// echoBackend answers every message at once, so the benchmarks below
// measure the plugin hop alone.
type echoBackend struct{}

func (echoBackend) Info() Info                              { return Info{Name: "echo", Version: "1.0.0"} }
func (echoBackend) Configure(context.Context, Config) error { return nil }
func (echoBackend) OpenSession(context.Context, Credentials) (Snapshot, error) {
	return Snapshot{}, nil
}
func (echoBackend) CloseSession(context.Context, string) error { return nil }
func (echoBackend) SendMessage(_ context.Context, msg OutgoingMessage) (string, error) {
	return "dm:" + msg.To, nil
}

// benchClient serves echoBackend over gRPC on a unix socket, as a plugin
// process does, and returns the host's client.
func benchClient(b *testing.B) *Client {
	sock := filepath.Join(b.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBackendServer(srv, newGRPCServer(echoBackend{}, 1024, hclog.NewNullLogger()))
	go srv.Serve(ln)
	b.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+sock, append(HostDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return NewClient(conn)
}

func benchMessage(session string, i int) OutgoingMessage {
	return OutgoingMessage{SessionID: session, ConversationID: "dm:bob", To: "bob",
		Text: "a typical chat message of about sixty bytes, give or take", IdempotencyKey: "m" + strconv.Itoa(i)}
}

// BenchmarkSendMessage is one caller sending and waiting for each answer
// (a device that waits for MessageSent); ns/op is per message.
func BenchmarkSendMessage(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.SendMessage(ctx, benchMessage("session-0", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendMessageParallel is many sessions sending at once, each
// waiting for its answers (a loaded gateway with synchronous links);
// ns/op is per message.
func BenchmarkSendMessageParallel(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	var sessions atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		session := "session-" + strconv.FormatInt(sessions.Add(1), 10)
		for i := 0; pb.Next(); i++ {
			if _, err := c.SendMessage(ctx, benchMessage(session, i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSendMessageAsync is a pipelining link: up to 64 messages of a
// session on their way at once; ns/op is per message.
func BenchmarkSendMessageAsync(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	window := make(chan struct{}, 64)
	errs := make(chan error, 1)
	done := func(_ string, err error) {
		if err != nil {
			select {
			case errs <- err:
			default:
			}
		}
		<-window
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		window <- struct{}{}
		c.SendMessageAsync(ctx, benchMessage("session-0", i), done)
	}
	for range cap(window) {
		window <- struct{}{}
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
