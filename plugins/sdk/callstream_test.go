package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// recorder is a backend that records, per session, the texts of the
// messages and the snapshots it was asked for, in the order it got them.
// A session listed in hold blocks in SendMessage until its channel is
// closed (or the call's context ends); entered hears of every call that
// started.
type recorder struct {
	mu      sync.Mutex
	seen    map[string][]string
	hold    map[string]chan struct{}
	entered chan string
	ctxErrs chan error // the context error of a held call that gave up
}

func newRecorder() *recorder {
	return &recorder{seen: map[string][]string{}, hold: map[string]chan struct{}{},
		entered: make(chan string, 1024), ctxErrs: make(chan error, 16)}
}

func (r *recorder) holdSession(session string) (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.hold[session] = ch
	r.mu.Unlock()
	return sync.OnceFunc(func() { close(ch) })
}

func (r *recorder) log(session, what string) {
	r.mu.Lock()
	r.seen[session] = append(r.seen[session], what)
	r.mu.Unlock()
}

func (r *recorder) got(session string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen[session])
}

func (r *recorder) Info() Info                              { return Info{Name: "recorder", Version: "1.0.0"} }
func (r *recorder) Configure(context.Context, Config) error { return nil }
func (r *recorder) OpenSession(context.Context, Credentials) (Snapshot, error) {
	return Snapshot{}, nil
}
func (r *recorder) CloseSession(context.Context, string) error { return nil }

func (r *recorder) SendMessage(ctx context.Context, msg OutgoingMessage) (string, error) {
	r.mu.Lock()
	hold := r.hold[msg.SessionID]
	r.mu.Unlock()
	select {
	case r.entered <- msg.SessionID:
	default: // nobody listens
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			r.ctxErrs <- ctx.Err()
			return "", ctx.Err()
		}
	}
	r.log(msg.SessionID, msg.Text)
	return "conv:" + msg.SessionID, nil
}

func (r *recorder) Snapshot(_ context.Context, sessionID string) (Snapshot, error) {
	r.log(sessionID, "snapshot")
	return Snapshot{}, nil
}

// testServer serves a backend over gRPC on a unix socket, the way a plugin
// process does, with optional server options (interceptors, windows).
func testServer(t testing.TB, impl Backend, opts ...grpc.ServerOption) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterBackendServer(srv, newGRPCServer(impl, 1024, hclog.NewNullLogger()))
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewClient(conn)
}

func TestCallsOfOneSessionReachTheBackendInOrder(t *testing.T) {
	rec := newRecorder()
	c := testServer(t, rec)
	const sessions, perSession = 8, 300
	var wg sync.WaitGroup
	errs := make(chan error, sessions*perSession)
	for s := range sessions {
		wg.Go(func() {
			session := "s" + strconv.Itoa(s)
			var done sync.WaitGroup
			for i := range perSession {
				done.Add(1)
				c.SendMessageAsync(context.Background(), OutgoingMessage{SessionID: session, To: "bob", Text: strconv.Itoa(i)},
					func(conv string, err error) {
						if err == nil && conv != "conv:"+session {
							err = fmt.Errorf("%s: conversation %q", session, conv)
						}
						if err != nil {
							errs <- err
						}
						done.Done()
					})
			}
			done.Wait()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for s := range sessions {
		got := rec.got("s" + strconv.Itoa(s))
		if len(got) != perSession {
			t.Fatalf("session s%d: backend got %d messages, want %d", s, len(got), perSession)
		}
		for i, text := range got {
			if text != strconv.Itoa(i) {
				t.Fatalf("session s%d: message %d was %q: out of order", s, i, text)
			}
		}
	}
}

func TestSlowSessionDoesNotStallOthers(t *testing.T) {
	rec := newRecorder()
	c := testServer(t, rec)
	release := rec.holdSession("slow")
	defer release()
	slowDone := make(chan error, 1)
	c.SendMessageAsync(context.Background(), OutgoingMessage{SessionID: "slow", To: "bob", Text: "stuck"},
		func(_ string, err error) { slowDone <- err })
	if s := <-rec.entered; s != "slow" {
		t.Fatalf("backend got a call of %q first", s)
	}
	if _, err := c.SendMessage(context.Background(), OutgoingMessage{SessionID: "fast", To: "bob", Text: "hi"}); err != nil {
		t.Fatalf("a call of another session waited for the slow one: %v", err)
	}
	release()
	if err := <-slowDone; err != nil {
		t.Fatalf("slow call: %v", err)
	}
}

func TestStalledCallTimesOutAlone(t *testing.T) {
	rec := newRecorder()
	c := testServer(t, rec)
	release := rec.holdSession("stuck")
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.SendMessage(ctx, OutgoingMessage{SessionID: "stuck", To: "bob", Text: "never"})
	if ReasonOf(err) != ReasonTimeout {
		t.Fatalf("stalled call returned %v, want a timeout", err)
	}
	// A call that reached the backend gives up at its deadline there too.
	// On a loaded machine the call may expire before the plugin runs it;
	// then the backend never sees it, which is right as well.
	select {
	case <-rec.entered:
		if err := <-rec.ctxErrs; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the backend's context ended with %v, want its deadline", err)
		}
	default:
		t.Log("the call expired before it reached the backend")
	}
	for i := range 3 {
		if _, err := c.SendMessage(context.Background(), OutgoingMessage{SessionID: "other", To: "bob", Text: strconv.Itoa(i)}); err != nil {
			t.Fatalf("call after the timeout: %v", err)
		}
	}
}

func TestBrokenStreamFailsWaitingCallsAndTheNextCallOpensANewOne(t *testing.T) {
	rec := newRecorder()
	c := testServer(t, rec)
	release := rec.holdSession("s1")
	defer release()
	failed := make(chan error, 1)
	c.SendMessageAsync(context.Background(), OutgoingMessage{SessionID: "s1", To: "bob", Text: "lost"},
		func(_ string, err error) { failed <- err })
	<-rec.entered
	broken, _ := c.callStream()
	broken.cancel() // as when the connection to the plugin breaks
	if err := <-failed; ReasonOf(err) != ReasonBackendUnavailable {
		t.Fatalf("waiting call returned %v, want backend_unavailable", err)
	}
	if _, err := c.SendMessage(context.Background(), OutgoingMessage{SessionID: "s2", To: "bob", Text: "next"}); err != nil {
		t.Fatalf("call after the break: %v", err)
	}
	if now, _ := c.callStream(); now == broken {
		t.Fatal("the broken stream is still in use")
	}
}

func TestPluginGoneFailsWaitingCallsAsUnavailable(t *testing.T) {
	rec := newRecorder()
	sock := filepath.Join(t.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBackendServer(srv, newGRPCServer(rec, 16, hclog.NewNullLogger()))
	go srv.Serve(ln)
	defer srv.Stop()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := NewClient(conn)
	release := rec.holdSession("s1")
	defer release()
	failed := make(chan error, 1)
	c.SendMessageAsync(context.Background(), OutgoingMessage{SessionID: "s1", To: "bob", Text: "lost"},
		func(_ string, err error) { failed <- err })
	<-rec.entered
	go srv.Stop() // waits for the held call; the connection closes first
	if err := <-failed; ReasonOf(err) != ReasonBackendUnavailable {
		t.Fatalf("waiting call returned %v, want backend_unavailable", err)
	}
	release()
}

func TestUnaryCallWaitsForTheSessionsStreamedCalls(t *testing.T) {
	rec := newRecorder()
	c := testServer(t, rec)
	release := rec.holdSession("s1")
	defer release()
	sent := make(chan error, 1)
	c.SendMessageAsync(context.Background(), OutgoingMessage{SessionID: "s1", To: "bob", Text: "first"},
		func(_ string, err error) { sent <- err })
	<-rec.entered
	snapped := make(chan error, 1)
	go func() {
		_, err := c.Snapshot(context.Background(), "s1")
		snapped <- err
	}()
	// Wait until Snapshot either waits for s1's call or (wrongly) reached
	// the backend.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.flightMu.Lock()
		_, waiting := c.idle["s1"]
		c.flightMu.Unlock()
		if waiting || len(rec.got("s1")) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	release()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := <-snapped; err != nil {
		t.Fatal(err)
	}
	if got := rec.got("s1"); !slices.Equal(got, []string{"first", "snapshot"}) {
		t.Fatalf("backend saw %v, want the message before the snapshot", got)
	}
}

// gatedCalls is a server interceptor that holds the first Calls message
// until gate closes and records how many calls each message carried.
type gatedCalls struct {
	gate   chan struct{}
	mu     sync.Mutex
	counts []int
}

func (g *gatedCalls) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != pb.Backend_Calls_FullMethodName {
		return handler(srv, ss)
	}
	return handler(srv, &gatedStream{ServerStream: ss, g: g})
}

type gatedStream struct {
	grpc.ServerStream
	g *gatedCalls
}

func (s *gatedStream) RecvMsg(m any) error {
	<-s.g.gate
	err := s.ServerStream.RecvMsg(m)
	if b, ok := m.(*pb.CallBatch); ok && err == nil {
		s.g.mu.Lock()
		s.g.counts = append(s.g.counts, len(b.Calls))
		s.g.mu.Unlock()
	}
	return err
}

func TestCallsReadyTogetherTravelInBatches(t *testing.T) {
	rec := newRecorder()
	g := &gatedCalls{gate: make(chan struct{})}
	c := testServer(t, rec, grpc.StreamInterceptor(g.intercept),
		grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10))
	var wg sync.WaitGroup
	start := func(text string) {
		wg.Add(1)
		c.SendMessageAsync(context.Background(), OutgoingMessage{SessionID: "s1", To: "bob", Text: text}, func(_ string, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	// The first two calls are larger than a batch and than the flow-control
	// window: each goes alone. Sending the first fills gRPC's write quota,
	// so sending the second blocks until the plugin reads, while the next
	// 500 queue up.
	big := strings.Repeat("x", 2<<20)
	start(big)
	start(big)
	for i := range 500 {
		start(strconv.Itoa(i))
	}
	close(g.gate)
	wg.Wait()
	g.mu.Lock()
	counts := slices.Clone(g.counts)
	g.mu.Unlock()
	if want := []int{1, 1, 256, 244}; !slices.Equal(counts, want) {
		t.Fatalf("calls per stream message = %v, want %v", counts, want)
	}
	if got := rec.got("s1"); len(got) != 502 || got[2] != "0" || got[501] != "499" {
		t.Fatalf("backend got %d messages", len(got))
	}
}

func TestBatchesStayUnderTheSizeLimit(t *testing.T) {
	b := newBatcher[*pb.Call]()
	text := strings.Repeat("y", 300<<10)
	const n = 20
	for i := range n {
		call := &pb.Call{Id: uint64(i + 1), TimeoutMs: 10000, Kind: &pb.Call_SendMessage{SendMessage: &pb.SendMessageRequest{
			SessionId: "s1", To: "bob", Text: text}}}
		b.put(call, proto.Size(call)+itemHeaderBytes)
	}
	var next uint64 = 1
	batches := 0
	for batch := b.take(nil); len(batch) > 0; batch = b.take(nil) {
		batches++
		if size := proto.Size(&pb.CallBatch{Calls: batch}); size > maxBatchBytes {
			t.Fatalf("batch of %d calls has %d bytes, limit %d", len(batch), size, maxBatchBytes)
		}
		for _, call := range batch {
			if call.Id != next {
				t.Fatalf("call %d came where %d was due", call.Id, next)
			}
			next++
		}
	}
	if next != n+1 || batches != 7 {
		t.Fatalf("took %d calls in %d batches, want %d in 7 (three 300 KiB calls per 1 MiB)", next-1, batches, n)
	}
}

func TestOversizeCallFailsAloneAndTheStreamGoesOn(t *testing.T) {
	rec := newRecorder()
	c := testServer(t, rec)
	_, err := c.SendMessage(context.Background(), OutgoingMessage{SessionID: "s1", To: "bob", Text: strings.Repeat("z", 5<<20)})
	if ReasonOf(err) != ReasonInvalidArgument {
		t.Fatalf("oversize call returned %v, want invalid_argument", err)
	}
	if _, err := c.SendMessage(context.Background(), OutgoingMessage{SessionID: "s1", To: "bob", Text: "small"}); err != nil {
		t.Fatalf("call after the oversize one: %v", err)
	}
}

func TestStreamedCallErrorsKeepReasonAndAreObserved(t *testing.T) {
	c := testServer(t, newRecorder()) // the recorder sends no typing notifications
	var observed []string
	c.ObserveCall = func(method string, err error) {
		observed = append(observed, method+" "+string(ReasonOf(fromStatus(err))))
	}
	err := c.SendTyping(context.Background(), "s1", Typing{To: "bob", Typing: true})
	if ReasonOf(err) != ReasonUnsupported {
		t.Fatalf("SendTyping to a backend without typing returned %v, want unsupported", err)
	}
	if want := []string{pb.Backend_SendTyping_FullMethodName + " unsupported"}; !slices.Equal(observed, want) {
		t.Fatalf("observed %v, want %v", observed, want)
	}
}

func TestSizeBoundsAreNeverBelowTheEncodedSize(t *testing.T) {
	long := strings.Repeat("é", 70_000)
	calls := []*pb.Call{
		{Kind: &pb.Call_SendMessage{SendMessage: &pb.SendMessageRequest{}}},
		{Kind: &pb.Call_SendMessage{SendMessage: &pb.SendMessageRequest{SessionId: "s", ConversationId: long, To: "bob", Text: long, IdempotencyKey: "k"}}},
		{Kind: &pb.Call_SendTyping{SendTyping: &pb.SendTypingRequest{SessionId: long, ConversationId: "c", To: long, Typing: true}}},
		{Kind: &pb.Call_SetPresence{SetPresence: &pb.SetPresenceRequest{SessionId: "s", Status: pb.PresenceStatus(-1), Note: long}}},
	}
	for i, c := range calls {
		c.Id, c.TimeoutMs = ^uint64(0), ^uint32(0)
		if bound, size := callBytes(c), proto.Size(c); bound < size {
			t.Errorf("call %d: bound %d below its %d bytes", i, bound, size)
		}
	}
	results := []*pb.Result{
		{},
		{Kind: &pb.Result_Empty{Empty: &pb.Empty{}}},
		{Kind: &pb.Result_SendMessage{SendMessage: &pb.SendMessageResponse{ConversationId: long}}},
		{Error: &pb.CallError{Code: ^uint32(0), Reason: long, Message: long, LimitBytes: ^uint64(0)}},
	}
	for i, r := range results {
		r.Id = ^uint64(0)
		if bound, size := resultBytes(r), proto.Size(r); bound < size {
			t.Errorf("result %d: bound %d below its %d bytes", i, bound, size)
		}
	}
}

// olderPlugin is a plugin built with an SDK that has no Calls stream.
type olderPlugin struct{ *grpcServer }

func (olderPlugin) Calls(pb.Backend_CallsServer) error {
	return status.Error(codes.Unimplemented, "unknown method Calls for service parley.backend.v1.Backend")
}

func TestPluginWithoutCallsStreamGetsUnaryCallsInOrder(t *testing.T) {
	rec := newRecorder()
	sock := filepath.Join(t.TempDir(), "plugin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBackendServer(srv, olderPlugin{newGRPCServer(rec, 16, hclog.NewNullLogger())})
	go srv.Serve(ln)
	defer srv.Stop()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := NewClient(conn)
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		c.SendMessageAsync(context.Background(), OutgoingMessage{SessionID: "s1", To: "bob", Text: strconv.Itoa(i)}, func(conv string, err error) {
			if err != nil || conv != "conv:s1" {
				t.Errorf("message %d: %q, %v", i, conv, err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	got := rec.got("s1")
	if len(got) != n {
		t.Fatalf("backend got %d messages, want %d", len(got), n)
	}
	for i, text := range got {
		if text != strconv.Itoa(i) {
			t.Fatalf("message %d was %q: out of order", i, text)
		}
	}
}
