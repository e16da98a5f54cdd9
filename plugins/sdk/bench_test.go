package sdk

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
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
