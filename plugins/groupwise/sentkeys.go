package groupwise

import (
	"context"
	"sync"
)

// sentKeysWindow bounds the idempotency keys remembered per session.
const sentKeysWindow = 1024

// sentKeys remembers the idempotency keys of a session's recent sends and
// the conversation each went to, so that a retried send is answered
// without sending again. A send with a key that is still in flight waits
// for it.
type sentKeys struct {
	mu       sync.Mutex
	conv     map[string]string        // key → conversation id, for completed sends
	inflight map[string]chan struct{} // closed when the send ends; nil until a retry waits
	ring     []string                 // completed keys, oldest at next once full
	next     int
	window   int
}

func newSentKeys(window int) *sentKeys {
	return &sentKeys{conv: map[string]string{}, inflight: map[string]chan struct{}{}, window: window}
}

// begin claims key. It returns the conversation and true if a send with
// the key has already completed; otherwise the caller must call finish.
func (k *sentKeys) begin(ctx context.Context, key string) (string, bool, error) {
	for {
		k.mu.Lock()
		if conv, ok := k.conv[key]; ok {
			k.mu.Unlock()
			return conv, true, nil
		}
		wait, busy := k.inflight[key]
		if !busy {
			k.inflight[key] = nil // the usual case: nobody will wait for it
			k.mu.Unlock()
			return "", false, nil
		}
		if wait == nil {
			wait = make(chan struct{})
			k.inflight[key] = wait
		}
		k.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
	}
}

// finish ends the send of key; a successful one is remembered, a failed
// one may be retried.
func (k *sentKeys) finish(key, conv string, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if wait := k.inflight[key]; wait != nil {
		close(wait)
	}
	delete(k.inflight, key)
	if !ok {
		return
	}
	k.conv[key] = conv
	if len(k.ring) < k.window {
		// the ring grows with use: most sessions never send that many
		k.ring = append(k.ring, key)
		return
	}
	delete(k.conv, k.ring[k.next])
	k.ring[k.next] = key
	k.next = (k.next + 1) % len(k.ring)
}
