package sdk

import (
	"sync"

	pb "github.com/parleygw/parley/plugins/sdk/internal/proto/parley/backend/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Bounds of the Calls stream's batches (CallBatch and ResultBatch).
const (
	// maxBatchItems bounds the calls or results in one stream message.
	maxBatchItems = 256
	// maxBatchBytes bounds the encoded size of one stream message when it
	// carries more than one item; a single larger item goes alone.
	maxBatchBytes = 1 << 20
	// maxItemBytes bounds one call or result, so that even a batch of one
	// stays under gRPC's default 4 MiB message limit (a plugin built with
	// another gRPC than this SDK's Serve has that limit).
	maxItemBytes = 4<<20 - 1<<10
	// itemHeaderBytes covers the fields a call or result gets after it was
	// measured: its id (a varint of up to 10 bytes) and timeout.
	itemHeaderBytes = 18
)

// entryBytes is the encoded size of an item of n bytes as one element of a
// batch's repeated field 1 (tag, length, body).
func entryBytes(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

// batcher queues items for one sending goroutine, in order, and hands them
// out in batches bounded by maxBatchItems and maxBatchBytes. Like the
// event queue, queued items are items[head:].
type batcher[T any] struct {
	mu    sync.Mutex
	items []sizedItem[T]
	head  int
	ready chan struct{} // signalled (non-blocking) when items arrive
}

type sizedItem[T any] struct {
	v    T
	size int // encoded size of v, including itemHeaderBytes
}

func newBatcher[T any]() *batcher[T] { return &batcher[T]{ready: make(chan struct{}, 1)} }

// put queues v, whose encoded size is size.
func (b *batcher[T]) put(v T, size int) {
	b.mu.Lock()
	b.items = append(b.items, sizedItem[T]{v: v, size: size})
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take appends the next batch to dst: nothing if the queue is empty, else
// at least one item and at most maxBatchItems, whose entries add up to no
// more than maxBatchBytes unless the first alone is larger.
func (b *batcher[T]) take(dst []T) []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	var zero sizedItem[T]
	total := 0
	for n := 0; b.head < len(b.items) && n < maxBatchItems; n++ {
		it := &b.items[b.head]
		e := entryBytes(it.size)
		if n > 0 && total+e > maxBatchBytes {
			break
		}
		total += e
		dst = append(dst, it.v)
		*it = zero // let the sent item be collected
		b.head++
	}
	if b.head == len(b.items) {
		b.items, b.head = b.items[:0], 0
	} else if b.head > len(b.items)/2 {
		b.items, b.head = append(b.items[:0], b.items[b.head:]...), 0
	}
	return dst
}

// fieldBytes bounds the encoded size of a string, bytes or message field
// whose body has n bytes: a tag of up to two bytes, the length, the body.
func fieldBytes(n int) int { return 2 + protowire.SizeVarint(uint64(n)) + n }

// scalarBytes bounds the encoded size of a varint field (tag and value).
const scalarBytes = 2 + 10

// callBytes bounds the encoded size of a call, including itemHeaderBytes.
// It adds up field lengths instead of walking the message as proto.Size
// does, which on this hot path cost as much as encoding the call.
func callBytes(c *pb.Call) int {
	var body int
	switch k := c.Kind.(type) {
	case *pb.Call_SendMessage:
		m := k.SendMessage
		body = fieldBytes(len(m.SessionId)) + fieldBytes(len(m.ConversationId)) + fieldBytes(len(m.To)) +
			fieldBytes(len(m.Text)) + fieldBytes(len(m.IdempotencyKey))
	case *pb.Call_SendTyping:
		m := k.SendTyping
		body = fieldBytes(len(m.SessionId)) + fieldBytes(len(m.ConversationId)) + fieldBytes(len(m.To)) + scalarBytes
	case *pb.Call_SetPresence:
		m := k.SetPresence
		body = fieldBytes(len(m.SessionId)) + scalarBytes + fieldBytes(len(m.Note))
	default:
		return proto.Size(c) + itemHeaderBytes
	}
	return fieldBytes(body) + itemHeaderBytes
}

// resultBytes bounds the encoded size of a result, including
// itemHeaderBytes.
func resultBytes(r *pb.Result) int {
	size := itemHeaderBytes
	if e := r.Error; e != nil {
		size += fieldBytes(scalarBytes + fieldBytes(len(e.Reason)) + fieldBytes(len(e.Message)) + scalarBytes)
	}
	switch k := r.Kind.(type) {
	case nil:
	case *pb.Result_SendMessage:
		size += fieldBytes(fieldBytes(len(k.SendMessage.GetConversationId())))
	case *pb.Result_Empty:
		size += fieldBytes(0)
	default:
		return proto.Size(r) + itemHeaderBytes
	}
	return size
}
