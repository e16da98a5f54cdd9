package sdk

import (
	"context"
	"sync"
)

// MessagePipeliner is implemented by a backend that can have several
// messages of one session at its IM server at once, in order: a protocol
// that matches answers to requests (by a transaction id, say) rather than
// by waiting for each.
//
// Without it, the SDK calls SendMessage for a session's messages one after
// another, each after the previous returned, so a session has one message
// at the IM server at a time. With it, the messages on the gateway's call
// stream go to StartSendMessage, still one at a time and in the gateway's
// order, but without waiting for their results: StartSendMessage must fix
// the message's place in the session's order before it returns (write the
// request to the IM connection, or queue it for writing there) and report
// the result through done. SendTyping and SetPresence of the session, and
// the gateway's other calls for it, still wait until the messages started
// before them are done. At most MaxPipelinedMessages of a session are
// started and not done at a time.
type MessagePipeliner interface {
	// StartSendMessage starts sending msg. done must be called exactly
	// once, with what SendMessage would return, either before
	// StartSendMessage returns or later from any goroutine; it does not
	// block. ctx, which carries the call's deadline, is cancelled after
	// done.
	StartSendMessage(ctx context.Context, msg OutgoingMessage, done func(conversationID string, err error))
}

// MaxPipelinedMessages bounds the messages of one session that a
// MessagePipeliner has started and not finished; the next waits.
const MaxPipelinedMessages = 64

// inFlight counts, per session, the pipelined calls started and not done,
// so that the session's next call can wait for them. Only the session's
// worker waits, so a session has at most one waiter.
type inFlight struct {
	mu       sync.Mutex
	sessions map[string]*sessionFlight
}

type sessionFlight struct {
	n     int           // started, not done
	below int           // the waiter's bound: it wakes when n < below
	wake  chan struct{} // closed to wake the waiter; nil if none waits
}

// add counts a call of session that is about to start.
func (f *inFlight) add(session string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions == nil {
		f.sessions = make(map[string]*sessionFlight)
	}
	sf := f.sessions[session]
	if sf == nil {
		sf = &sessionFlight{}
		f.sessions[session] = sf
	}
	sf.n++
}

// done uncounts a call of session and wakes the waiter once the count is
// below its bound.
func (f *inFlight) done(session string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sf := f.sessions[session]
	sf.n--
	if sf.wake != nil && sf.n < sf.below {
		close(sf.wake)
		sf.wake = nil
	}
	if sf.n == 0 && sf.wake == nil {
		delete(f.sessions, session)
	}
}

// wait returns once fewer than below calls of session are in flight, or
// ctx has ended.
func (f *inFlight) wait(ctx context.Context, session string, below int) {
	f.mu.Lock()
	sf := f.sessions[session]
	if sf == nil || sf.n < below {
		f.mu.Unlock()
		return
	}
	wake := make(chan struct{})
	sf.wake, sf.below = wake, below
	f.mu.Unlock()
	select {
	case <-wake:
	case <-ctx.Done():
	}
}
