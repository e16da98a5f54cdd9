package sdk

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxPendingCalls bounds the calls of one Client waiting for their results
// on the call stream; more fail at once with ReasonBackendUnavailable.
const maxPendingCalls = 16384

// callStream is one Calls stream to the plugin and the calls waiting for
// their results on it. A stream that failed is never reused: the Client
// opens a new one for the next call.
type callStream struct {
	client *Client
	ready  chan struct{} // closed when the stream is open or failed to open
	stream pb.Backend_CallsClient
	cancel context.CancelFunc
	out    *batcher[*pb.Call]

	mu      sync.Mutex
	pending map[uint64]*streamCall
	nextID  uint64
	err     error // why the stream failed; nil while it works
}

// streamCall is a call waiting for its result.
type streamCall struct {
	ctx      context.Context
	session  string
	method   string // the unary method's full name, for ObserveCall
	call     *pb.Call
	deadline time.Time
	done     func(*pb.Result, error)
	timer    *time.Timer
	stopCtx  func() bool
}

// callTimeoutError is the error of a call whose deadline passed before
// its result arrived.
func callTimeoutError() error {
	return &Error{Reason: ReasonTimeout, Message: "the plugin did not answer within the call's deadline"}
}

// contextError is the error of a call whose caller gave up.
func contextError(err error) error { return &Error{Reason: ReasonOf(err), Message: err.Error()} }

// start runs call on the call stream and calls done exactly once with its
// result: on the stream's receiving goroutine, a timer's, or before start
// returns. Calls started one after the other are sent in that order.
func (c *Client) start(ctx context.Context, session, method string, call *pb.Call, done func(*pb.Result, error)) {
	if err := ctx.Err(); err != nil {
		c.complete(method, nil, contextError(err), done)
		return
	}
	deadline := time.Now().Add(c.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	size := callBytes(call)
	if size > maxItemBytes {
		c.complete(method, nil, Errorf(ReasonInvalidArgument, "a call of %d bytes exceeds the %d byte limit", size, maxItemBytes), done)
		return
	}
	for attempt := 0; ; attempt++ {
		cs, fallback := c.callStream()
		if fallback != nil {
			c.track(session)
			fallback.add(session, &streamCall{ctx: ctx, session: session, method: method, call: call, deadline: deadline, done: done})
			return
		}
		err := cs.waitOpen(ctx, deadline)
		if err == nil {
			if err = cs.add(ctx, session, method, call, size, deadline, done); err == nil {
				return
			}
		}
		// The stream failed before the call was on it: try a new one (or
		// the fallback) once.
		if attempt > 0 || !cs.failed() {
			c.complete(method, nil, err, done)
			return
		}
	}
}

// complete reports a failed streamed call to ObserveCall, then calls done.
func (c *Client) complete(method string, r *pb.Result, err error, done func(*pb.Result, error)) {
	if err != nil && c.ObserveCall != nil {
		c.ObserveCall(method, toStatus(err))
	}
	done(r, err)
}

// runUnary runs a call as the unary call it stands for, for a plugin built
// with an SDK that has no Calls stream, and completes it. The fallback's
// session workers run it, in order within the session.
func (c *Client) runUnary(sc *streamCall) {
	ctx, cancel := context.WithDeadline(sc.ctx, sc.deadline)
	defer cancel()
	r := &pb.Result{Id: sc.call.Id}
	var err error
	switch k := sc.call.Kind.(type) {
	case *pb.Call_SendMessage:
		var resp *pb.SendMessageResponse
		if resp, err = c.rpc.SendMessage(ctx, k.SendMessage); err == nil {
			r.Kind = &pb.Result_SendMessage{SendMessage: resp}
		}
	case *pb.Call_SendTyping:
		_, err = c.rpc.SendTyping(ctx, k.SendTyping)
	case *pb.Call_SetPresence:
		_, err = c.rpc.SetPresence(ctx, k.SetPresence)
	}
	if sc.timer != nil { // a call that was waiting on the failed stream
		sc.timer.Stop()
	}
	if sc.stopCtx != nil {
		sc.stopCtx()
	}
	c.untrack(sc.session)
	if err != nil {
		sc.done(nil, fromStatus(err)) // the metrics interceptor saw the unary call
		return
	}
	sc.done(r, nil)
}

// callStream returns the working call stream, opening one if there is
// none or the last one failed; or, for a plugin without the Calls stream,
// the workers that run its calls as unary calls.
func (c *Client) callStream() (*callStream, *sessionWorkers[*streamCall]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fallback != nil {
		return nil, c.fallback
	}
	if cs := c.calls; cs != nil && !cs.failed() {
		return cs, nil
	}
	cs := &callStream{client: c, ready: make(chan struct{}), out: newBatcher[*pb.Call](), pending: make(map[uint64]*streamCall)}
	c.calls = cs
	go cs.run()
	return cs, nil
}

func (cs *callStream) failed() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.err != nil
}

// waitOpen waits until the stream is open, or failed to open.
func (cs *callStream) waitOpen(ctx context.Context, deadline time.Time) error {
	select {
	case <-cs.ready:
	default:
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		select {
		case <-cs.ready:
		case <-ctx.Done():
			return contextError(ctx.Err())
		}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.err
}

// run opens the stream, starts its sender and receives results until the
// stream fails.
func (cs *callStream) run() {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := cs.client.rpc.Calls(ctx)
	if err != nil {
		cancel()
		cs.mu.Lock()
		cs.err = fromStatus(err)
		cs.mu.Unlock()
		close(cs.ready)
		return
	}
	cs.stream, cs.cancel = stream, cancel
	close(cs.ready)
	go cs.send(ctx)
	for {
		batch, err := stream.Recv()
		if err != nil {
			cs.fail(err)
			return
		}
		for _, r := range batch.Results {
			cs.finish(r.Id, r, nil)
		}
	}
}

// send sends queued calls in batches until the stream ends.
func (cs *callStream) send(ctx context.Context) {
	var batch []*pb.Call // reused: Send has encoded it when it returns
	for {
		batch = cs.out.take(batch[:0])
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-cs.out.ready:
				continue
			}
		}
		if err := cs.stream.Send(&pb.CallBatch{Calls: batch}); err != nil {
			return // Recv reports why the stream ended
		}
	}
}

// add registers a call and queues it for sending. It fails only if the
// stream has failed or too many calls are waiting.
func (cs *callStream) add(ctx context.Context, session, method string, call *pb.Call, size int, deadline time.Time, done func(*pb.Result, error)) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.err != nil {
		return cs.err
	}
	if len(cs.pending) >= maxPendingCalls {
		return Errorf(ReasonBackendUnavailable, "%d calls are already waiting for the plugin", maxPendingCalls)
	}
	cs.nextID++
	id := cs.nextID
	call.Id = id
	left := time.Until(deadline)
	call.TimeoutMs = uint32(max(1, (left+time.Millisecond-1)/time.Millisecond))
	sc := &streamCall{ctx: ctx, session: session, method: method, call: call, deadline: deadline, done: done}
	sc.timer = time.AfterFunc(left, func() { cs.finish(id, nil, callTimeoutError()) })
	if ctx.Done() != nil {
		sc.stopCtx = context.AfterFunc(ctx, func() { cs.finish(id, nil, contextError(ctx.Err())) })
	}
	cs.pending[id] = sc
	cs.client.track(session)
	cs.out.put(call, size) // under cs.mu: ids go out in order
	return nil
}

// finish completes the call id unless it was completed already.
func (cs *callStream) finish(id uint64, r *pb.Result, err error) {
	cs.mu.Lock()
	sc, ok := cs.pending[id]
	delete(cs.pending, id)
	cs.mu.Unlock()
	if !ok {
		return // timed out, cancelled or failed before its result came
	}
	if err == nil && r.Error != nil {
		r, err = nil, callErrorFromPB(r.Error)
	}
	cs.complete(sc, r, err)
}

func (cs *callStream) complete(sc *streamCall, r *pb.Result, err error) {
	sc.timer.Stop()
	if sc.stopCtx != nil {
		sc.stopCtx()
	}
	cs.client.untrack(sc.session)
	cs.client.complete(sc.method, r, err, sc.done)
}

// fail ends the stream: the calls waiting on it fail with the stream's
// error (ReasonBackendUnavailable when the plugin is gone). A plugin that
// does not know the Calls stream gets its waiting calls again as unary
// calls, in order, and all later calls as unary calls too.
func (cs *callStream) fail(err error) {
	c := cs.client
	unimplemented := status.Code(err) == codes.Unimplemented
	if unimplemented {
		// No new stream and no unary call until the waiting calls are
		// queued for the fallback, ahead of any later call.
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	switch {
	case errors.Is(err, io.EOF):
		err = &Error{Reason: ReasonBackendUnavailable, Message: "the plugin ended the call stream"}
	default:
		err = fromStatus(err)
	}
	cs.mu.Lock()
	cs.err = err
	waiting := make([]*streamCall, 0, len(cs.pending))
	for _, sc := range cs.pending {
		waiting = append(waiting, sc)
	}
	clear(cs.pending)
	cs.mu.Unlock()
	cs.cancel()
	slices.SortFunc(waiting, func(a, b *streamCall) int { return cmp.Compare(a.call.Id, b.call.Id) })
	if !unimplemented {
		for _, sc := range waiting {
			cs.complete(sc, nil, err)
		}
		return
	}
	if c.fallback == nil {
		c.fallback = &sessionWorkers[*streamCall]{run: c.runUnary}
	}
	for _, sc := range waiting {
		c.fallback.add(sc.session, sc)
	}
}

// track counts a session's call waiting on the stream; untrack uncounts
// it and wakes those waiting for the session's calls to finish.
func (c *Client) track(session string) {
	c.flightMu.Lock()
	c.flights[session]++
	c.flightMu.Unlock()
}

func (c *Client) untrack(session string) {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	n := c.flights[session] - 1
	if n > 0 {
		c.flights[session] = n
		return
	}
	delete(c.flights, session)
	if idle, ok := c.idle[session]; ok {
		close(idle)
		delete(c.idle, session)
	}
}

// after waits until the calls of the session started on the call stream
// have their results, so that a unary call does not overtake them.
func (c *Client) after(ctx context.Context, session string) error {
	c.flightMu.Lock()
	if c.flights[session] == 0 {
		c.flightMu.Unlock()
		return nil
	}
	idle, ok := c.idle[session]
	if !ok {
		idle = make(chan struct{})
		c.idle[session] = idle
	}
	c.flightMu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return contextError(ctx.Err())
	}
}
