package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// messageSize is the length of every chat message text the relay sends.
const messageSize = 100

// relayPath carries messages from the sender to the receiver of each pair,
// either through the gateway or straight to the IM server or plugin (the
// baseline). Deliveries are reported to the tracker given at setup.
type relayPath interface {
	label() string
	// send sends text from pair's sender to its receiver and returns when
	// the sender's side has accepted it.
	send(ctx context.Context, pair int, text string) error
	close()
}

// tracker matches delivered messages to the step they belong to.
type tracker struct{ cur atomic.Pointer[step] }

// delivered is called by receivers with the text they got.
func (t *tracker) delivered(text string) {
	now := time.Now()
	if s := t.cur.Load(); s != nil {
		s.delivered(text, now)
	}
}

// step is one load level on one path.
type step struct {
	tag      string // prefix of every text, so late deliveries of other steps are ignored
	t0       time.Time
	n        int
	intended []int64        // ns after t0 the message was due to be sent
	recvAt   []atomic.Int64 // ns after t0 it was delivered (+1; 0: not yet)
	received atomic.Int64
	dups     atomic.Int64
	sendErrs atomic.Int64
	firstErr atomic.Pointer[error]
	done     chan struct{} // closed when every sent message was delivered
	sent     atomic.Int64
	sending  atomic.Bool
}

func newStep(tag string, capacity int) *step {
	return &step{tag: tag, intended: make([]int64, capacity), recvAt: make([]atomic.Int64, capacity), done: make(chan struct{})}
}

// text is the message with id i: tag, id, then filler up to messageSize.
func (s *step) text(i int) string {
	head := s.tag + strconv.Itoa(i) + " "
	return head + strings.Repeat("x", max(messageSize-len(head), 0))
}

func (s *step) delivered(text string, at time.Time) {
	rest, ok := strings.CutPrefix(text, s.tag)
	if !ok {
		return
	}
	idText, _, _ := strings.Cut(rest, " ")
	i, err := strconv.Atoi(idText)
	if err != nil || i < 0 || i >= len(s.recvAt) {
		return
	}
	if !s.recvAt[i].CompareAndSwap(0, int64(at.Sub(s.t0))+1) {
		s.dups.Add(1)
		return
	}
	if s.received.Add(1) == s.sent.Load() && !s.sending.Load() {
		s.finish()
	}
}

func (s *step) finish() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

func (s *step) failed(err error) {
	s.sendErrs.Add(1)
	s.firstErr.CompareAndSwap(nil, &err)
}

// stepResult is what one step measured.
type stepResult struct {
	path       string
	offered    float64 // msgs/s; 0: closed loop
	sent       int
	delivered  int
	dups       int
	sendErrs   int
	firstErr   error
	throughput float64 // delivered msgs/s
	lat        durations
	wall       time.Duration
	cpu        string
	cpuPerMsg  []time.Duration // per process of the step, per delivered message
}

// cpuPerMessage is the CPU all processes spent per delivered message.
func (r stepResult) cpuPerMessage() time.Duration {
	var sum time.Duration
	for _, c := range r.cpuPerMsg {
		sum += c
	}
	return sum
}

// cpuUS is the CPU the processes at index idx of the step's process list
// spent per delivered message, in µs.
func (r stepResult) cpuUS(idx ...int) float64 {
	var sum time.Duration
	for _, i := range idx {
		if i >= 0 && i < len(r.cpuPerMsg) {
			sum += r.cpuPerMsg[i]
		}
	}
	return float64(sum) / 1e3
}

// runStep offers rate msgs/s (0: as fast as inflight senders per pair
// allow) on path for dur, then waits for the deliveries.
func runStep(ctx context.Context, tr *tracker, path relayPath, pairs int, tag string, rate float64, dur time.Duration, inflight int, procs []namedPID) stepResult {
	capacity := int(rate*dur.Seconds()) + 1
	if rate == 0 {
		capacity = 4_000_000
	}
	s := newStep(tag, capacity)
	s.sending.Store(true)
	tr.cur.Store(s)
	defer tr.cur.Store(nil)

	cpu0 := cpuOf(procs)
	s.t0 = time.Now()
	var wg sync.WaitGroup
	sendOne := func(i int) {
		if err := path.send(ctx, i%pairs, s.text(i)); err != nil {
			s.failed(err)
		}
	}
	if rate > 0 {
		queues := make([]chan int, pairs)
		for p := range queues {
			queues[p] = make(chan int, 4096)
			for range inflight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range queues[p] {
						sendOne(i)
					}
				}()
			}
		}
		interval := float64(time.Second) / rate
		for i := 0; i < capacity-1; {
			due := int(float64(time.Since(s.t0))/interval) + 1
			for ; i < due && i < capacity-1; i++ {
				s.intended[i] = int64(float64(i) * interval)
				s.sent.Add(1)
				queues[i%pairs] <- i
			}
			if next := time.Duration(float64(i) * interval); next > time.Since(s.t0) {
				time.Sleep(next - time.Since(s.t0))
			}
		}
		for _, q := range queues {
			close(q)
		}
	} else {
		var next atomic.Int64
		deadline := s.t0.Add(dur)
		for p := range pairs {
			for range inflight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) {
						i := int(next.Add(1) - 1)
						if i >= capacity {
							return
						}
						s.intended[i] = int64(time.Since(s.t0))
						s.sent.Add(1)
						if err := path.send(ctx, p, s.text(i)); err != nil {
							s.failed(err)
						}
					}
				}()
			}
		}
	}
	wg.Wait()
	s.sending.Store(false)
	if s.received.Load() >= s.sent.Load()-s.sendErrs.Load() {
		s.finish()
	}
	drain := time.NewTimer(10 * time.Second)
	select {
	case <-s.done:
	case <-drain.C:
	case <-ctx.Done():
	}
	drain.Stop()
	wall := time.Since(s.t0)
	r := stepResult{path: path.label(), offered: rate, sent: int(s.sent.Load()), dups: int(s.dups.Load()), sendErrs: int(s.sendErrs.Load()), wall: wall}
	if e := s.firstErr.Load(); e != nil {
		r.firstErr = *e
	}
	var last int64
	for i := range r.sent {
		at := s.recvAt[i].Load()
		if at == 0 {
			continue
		}
		r.delivered++
		at--
		last = max(last, at)
		r.lat = append(r.lat, time.Duration(at-s.intended[i]))
	}
	if last > 0 {
		r.throughput = float64(r.delivered) / (float64(last) / float64(time.Second))
	}
	used := cpuDelta(procs, cpu0)
	r.cpu = cpuShares(namesOf(procs), used, wall)
	if r.delivered > 0 {
		r.cpuPerMsg = make([]time.Duration, len(used))
		for i, u := range used {
			r.cpuPerMsg[i] = u / time.Duration(r.delivered)
		}
	}
	return r
}

// namedPID is a process whose CPU use a step reports.
type namedPID struct {
	name string
	pid  int
}

func cpuOf(procs []namedPID) []time.Duration {
	out := make([]time.Duration, len(procs))
	for i, p := range procs {
		out[i] = cpuTime(p.pid)
	}
	return out
}

func cpuDelta(procs []namedPID, before []time.Duration) []time.Duration {
	after := cpuOf(procs)
	for i := range after {
		after[i] -= before[i]
	}
	return after
}

func namesOf(procs []namedPID) []string {
	out := make([]string, len(procs))
	for i, p := range procs {
		out[i] = p.name
	}
	return out
}

// errNotDelivered reports messages that never arrived.
var errNotDelivered = errors.New("messages not delivered")

// lossNote describes sends that failed or were not delivered.
func (r stepResult) lossNote() string {
	var parts []string
	if lost := r.sent - r.delivered - r.sendErrs; lost > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d not delivered", lost, r.sent))
	}
	if r.sendErrs > 0 {
		parts = append(parts, fmt.Sprintf("%d sends failed (first: %v)", r.sendErrs, r.firstErr))
	}
	if r.dups > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicates", r.dups))
	}
	return strings.Join(parts, "; ")
}
