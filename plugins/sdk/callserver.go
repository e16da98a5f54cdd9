package sdk

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Calls runs the calls of one call stream. Calls of one session run one
// after the other in the order they arrived; calls of different sessions
// run concurrently, so one slow IM server stalls only its own sessions.
// A MessagePipeliner's messages are started in that order without waiting
// for each (up to MaxPipelinedMessages per session); the session's next
// other call waits for them. Results go back in batches as they are ready.
func (s *grpcServer) Calls(stream pb.Backend_CallsServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	results := newBatcher[*pb.Result]()
	sent := make(chan error, 1)
	go func() { sent <- sendResults(ctx, stream, results) }()
	pipeliner, _ := s.impl.(MessagePipeliner)
	var flights inFlight
	workers := &sessionWorkers[*pb.Call]{run: func(c *pb.Call) {
		if pipeliner != nil {
			session := callSession(c)
			if m, ok := c.Kind.(*pb.Call_SendMessage); ok {
				flights.wait(ctx, session, MaxPipelinedMessages)
				flights.add(session)
				s.startMessage(ctx, pipeliner, c, m.SendMessage, func(r *pb.Result) {
					results.put(r, resultBytes(r))
					flights.done(session)
				})
				return
			}
			flights.wait(ctx, session, 1)
		}
		r := s.runCall(ctx, c)
		results.put(r, resultBytes(r))
	}}
	for {
		batch, err := stream.Recv()
		if err != nil {
			cancel()
			if serr := <-sent; serr != nil {
				return serr
			}
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, c := range batch.Calls {
			workers.add(callSession(c), c)
		}
	}
}

// sendResults sends queued results in batches until ctx ends.
func sendResults(ctx context.Context, stream pb.Backend_CallsServer, results *batcher[*pb.Result]) error {
	var batch []*pb.Result // reused: Send has encoded it when it returns
	for {
		batch = results.take(batch[:0])
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-results.ready:
				continue
			}
		}
		if err := stream.Send(&pb.ResultBatch{Results: batch}); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// callSession is the session a call belongs to.
func callSession(c *pb.Call) string {
	switch k := c.Kind.(type) {
	case *pb.Call_SendMessage:
		return k.SendMessage.GetSessionId()
	case *pb.Call_SendTyping:
		return k.SendTyping.GetSessionId()
	case *pb.Call_SetPresence:
		return k.SetPresence.GetSessionId()
	}
	return ""
}

// callContext is the context a call runs in: ctx with the call's timeout.
func callContext(ctx context.Context, c *pb.Call) (context.Context, context.CancelFunc) {
	if c.TimeoutMs > 0 {
		return context.WithTimeout(ctx, time.Duration(c.TimeoutMs)*time.Millisecond)
	}
	return ctx, func() {}
}

// startMessage starts the SendMessage call c on a MessagePipeliner; finish
// gets its result.
func (s *grpcServer) startMessage(ctx context.Context, p MessagePipeliner, c *pb.Call, req *pb.SendMessageRequest, finish func(*pb.Result)) {
	ctx, cancel := callContext(ctx, c)
	id := c.Id
	var called atomic.Bool
	p.StartSendMessage(ctx, OutgoingMessage{SessionID: req.SessionId, ConversationID: req.ConversationId,
		To: req.To, Text: req.Text, IdempotencyKey: req.IdempotencyKey}, func(conv string, err error) {
		if called.Swap(true) {
			// A backend broke the contract; the first result stands.
			s.logger.Error("StartSendMessage called done more than once; later calls ignored", "session", req.SessionId)
			return
		}
		cancel()
		r := &pb.Result{Id: id}
		if err == nil {
			r.Kind = &pb.Result_SendMessage{SendMessage: &pb.SendMessageResponse{ConversationId: conv}}
		}
		finish(settle(r, err))
	})
}

// runCall runs one call on the backend and builds its result.
func (s *grpcServer) runCall(ctx context.Context, c *pb.Call) *pb.Result {
	ctx, cancel := callContext(ctx, c)
	defer cancel()
	r := &pb.Result{Id: c.Id}
	var err error
	switch k := c.Kind.(type) {
	case *pb.Call_SendMessage:
		var resp *pb.SendMessageResponse
		if resp, err = s.sendMessage(ctx, k.SendMessage); err == nil {
			r.Kind = &pb.Result_SendMessage{SendMessage: resp}
		}
	case *pb.Call_SendTyping:
		if err = s.sendTyping(ctx, k.SendTyping); err == nil {
			r.Kind = &pb.Result_Empty{Empty: &pb.Empty{}}
		}
	case *pb.Call_SetPresence:
		if err = s.setPresence(ctx, k.SetPresence); err == nil {
			r.Kind = &pb.Result_Empty{Empty: &pb.Empty{}}
		}
	default:
		err = Errorf(ReasonUnsupported, "unknown call on the call stream")
	}
	return settle(r, err)
}

// settle completes the result r of a call that ended with err: the error
// replaces its content, as does one for a result too large to send.
func settle(r *pb.Result, err error) *pb.Result {
	if size := resultBytes(r); err == nil && size > maxItemBytes {
		err = Errorf(ReasonInternal, "a result of %d bytes exceeds the %d byte limit", size, maxItemBytes)
	}
	if err != nil {
		r.Kind, r.Error = nil, callErrorToPB(err)
	}
	return r
}

// callErrorToPB is the CallError form of a backend error: what toStatus
// would put into a unary call's status.
func callErrorToPB(err error) *pb.CallError {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Reason: ReasonOf(err), Message: err.Error()}
	}
	code, ok := reasonCodes[e.Reason]
	if !ok {
		code = codes.Internal
	}
	return &pb.CallError{Code: uint32(code), Reason: string(e.Reason), Message: e.Message, LimitBytes: e.LimitBytes}
}

// callErrorFromPB turns a CallError back into an *Error. A CallError
// without a reason (a plugin in another language that set only the code)
// gets the reason fromStatus would give its code.
func callErrorFromPB(ce *pb.CallError) *Error {
	if ce.Reason != "" {
		return &Error{Reason: Reason(ce.Reason), Message: ce.Message, LimitBytes: ce.LimitBytes}
	}
	var e *Error
	errors.As(fromStatus(status.Error(codes.Code(ce.Code), ce.Message)), &e)
	return e
}

// sessionWorkers runs work in order per session: a session with queued
// work has one goroutine working through it, which ends when the session's
// queue is empty. Sessions run concurrently.
type sessionWorkers[T any] struct {
	run    func(T)
	mu     sync.Mutex
	queues map[string][]T
}

func (w *sessionWorkers[T]) add(session string, v T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.queues == nil {
		w.queues = make(map[string][]T)
	}
	q, busy := w.queues[session]
	w.queues[session] = append(q, v)
	if !busy {
		go w.work(session)
	}
}

func (w *sessionWorkers[T]) work(session string) {
	var zero T
	for {
		w.mu.Lock()
		q := w.queues[session]
		if len(q) == 0 {
			delete(w.queues, session)
			w.mu.Unlock()
			return
		}
		v := q[0]
		q[0] = zero
		w.queues[session] = q[1:]
		w.mu.Unlock()
		w.run(v)
	}
}
