package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// fileOptions shape the file scenario.
type fileOptions struct {
	t8Size         int64 // bytes of T8's single transfer, run t8Reps times (0: skipped)
	size           int64 // bytes of the long single transfer
	concurrent     int   // transfers at once in the last run
	concurrentSize int64 // bytes of each of them
}

// pattern is the incompressible block file data repeats.
var pattern = func() []byte {
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(7, 11))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

// patternReader yields n bytes of pattern; off counts what was read.
type patternReader struct {
	off atomic.Int64
	n   int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	off := r.off.Load()
	if off >= r.n {
		return 0, io.EOF
	}
	i := int(off % int64(len(pattern)))
	k := copy(p[:min(int64(len(p)), r.n-off)], pattern[i:])
	r.off.Add(int64(k))
	return k, nil
}

// checkWriter checks that what it receives is the pattern, without
// keeping any of it; off counts what was written.
type checkWriter struct {
	off atomic.Int64
	bad bool
}

func (w *checkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		off := w.off.Load()
		i := int(off % int64(len(pattern)))
		k := min(len(p), len(pattern)-i)
		if !bytes.Equal(p[:k], pattern[i:i+k]) {
			w.bad = true
		}
		w.off.Add(int64(k))
		p = p[k:]
	}
	return n, nil
}

// inFlight tracks the data of running transfers that was read from the
// sender but not yet written to the receiver: what the path buffers.
type inFlight struct {
	mu    sync.Mutex
	pairs map[*patternReader]*checkWriter
}

func (f *inFlight) add(r *patternReader, w *checkWriter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairs[r] = w
}

func (f *inFlight) remove(r *patternReader) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pairs, r)
}

// max is the largest amount one transfer has in flight right now.
func (f *inFlight) max() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m int64
	for r, w := range f.pairs {
		m = max(m, r.off.Load()-w.off.Load())
	}
	return m
}

var errCorruptFile = errors.New("file data differs from what was sent")

func scenarioFile(ctx context.Context, o options, rep *report) error {
	fo := o.file
	work, err := os.MkdirTemp("", "parley-bench-file-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	k := max(fo.concurrent, 1)
	users := append(numbered("fa", k), numbered("fb", k)...)
	var mu sync.Mutex
	offers := map[string]chan sdk.FileOfferEvent{}
	offerCh := func(session string) chan sdk.FileOfferEvent {
		mu.Lock()
		defer mu.Unlock()
		ch, ok := offers[session]
		if !ok {
			ch = make(chan sdk.FileOfferEvent, 1)
			offers[session] = ch
		}
		return ch
	}
	host, c, pid, err := startPlugin(ctx, o.binDir, work, "memory", memorySettings(users, 1<<40), sdk.ServerAddress{Host: "localhost", Port: 1},
		func(evs []sdk.Event) {
			for _, e := range evs {
				if f, ok := e.Kind.(sdk.FileOfferEvent); ok {
					offerCh(e.SessionID) <- f
				}
			}
		})
	if err != nil {
		return err
	}
	defer host.Shutdown(context.Background())
	for _, u := range users {
		if _, err := c.OpenSession(ctx, sdk.Credentials{SessionID: u.ID, Login: u.ID, Password: password}); err != nil {
			return fmt.Errorf("file: open session %s: %w", u.ID, err)
		}
	}
	var seq atomic.Int64
	flights := &inFlight{pairs: map[*patternReader]*checkWriter{}}
	transfer := func(i int, size int64) error {
		from, to := "fa"+strconv.Itoa(i), "fb"+strconv.Itoa(i)
		sendErr := make(chan error, 1)
		r, w := &patternReader{n: size}, &checkWriter{}
		flights.add(r, w)
		defer flights.remove(r)
		go func() {
			_, err := c.SendFile(ctx, sdk.FileHeader{SessionID: from, TransferID: fmt.Sprintf("bench-%d", seq.Add(1)), To: to,
				Name: "bench.bin", Extension: "bin", Size: uint64(size)}, r)
			sendErr <- err
		}()
		var offer sdk.FileOfferEvent
		select {
		case offer = <-offerCh(to):
		case err := <-sendErr:
			return fmt.Errorf("send ended before the offer: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := c.ReceiveFile(ctx, to, offer.TransferID, w); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if err := <-sendErr; err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if got := w.off.Load(); got != size || w.bad {
			return fmt.Errorf("%w: got %d of %d bytes", errCorruptFile, got, size)
		}
		return nil
	}
	// Warm up the streams once.
	if err := transfer(0, 4<<20); err != nil {
		return fmt.Errorf("file warm-up: %w", err)
	}
	for _, run := range fo.runs() {
		res, rates, err := measureRepeated(pid, run, flights, transfer)
		if err != nil {
			return fmt.Errorf("file %s: %w", run.name, err)
		}
		o.logf("file %s of %s: %.0f MB/s, at most %d KB in flight per transfer, plugin peak RSS +%d KB, host heap peak +%d KB",
			run.name, mbText(run.size), res.rate, res.inFlight>>10, res.pluginPeak>>10, res.hostPeak>>10)
		scen := "file plugin hop " + run.name
		rep.Measured.File = append(rep.Measured.File, fileRun{Path: "plugin hop", Transfers: run.n, SizeMB: run.sizeMB(), MBps: res.rate, BufferedKB: float64(res.inFlight) / 1024, Load: loadAvg(),
			BufferedWhat: "peak bytes read from the sender and not yet written to the receiver"})
		note := fmt.Sprintf("the plugin hop alone: SDK SendFile/ReceiveFile through the memory plugin process (go-plugin gRPC), %s each, %d transfers", mbText(run.size), run.n)
		if run.reps > 1 {
			note += fmt.Sprintf("; the median of %d runs (%s MB/s)", run.reps, ratesText(rates))
		}
		rep.add(figure{Scenario: scen, Name: "throughput (all transfers)", Value: res.rate, Unit: "MB/s",
			Target: fmt.Sprintf(">= %d MB/s", targetFileRate), Met: atLeast(res.rate, targetFileRate), Note: note})
		rep.add(figure{Scenario: scen, Name: "peak bytes in flight per transfer", Value: float64(res.inFlight) / 1024, Unit: "KB",
			Target: fmt.Sprintf("<= %d KB", targetFileBuffer>>10), Met: atMost(float64(res.inFlight), targetFileBuffer),
			Note: "read from the sender but not yet written to the receiver: gRPC windows, socket and plugin buffers"})
		rep.add(figure{Scenario: scen, Name: "plugin peak RSS growth per transfer", Value: float64(res.pluginPeak) / float64(run.n) / 1024, Unit: "KB",
			Note: "includes garbage the plugin's GC had not collected yet"})
		rep.add(figure{Scenario: scen, Name: "host-side peak heap growth per transfer", Value: float64(res.hostPeak) / float64(run.n) / 1024, Unit: "KB",
			Note: "the gRPC client half parleyd would run, measured in this process, garbage included"})
	}
	return fileThroughGateway(ctx, o, rep, work, users, flights)
}

// fileRunSpec is one set of transfers of the file scenario.
type fileRunSpec struct {
	name string
	n    int   // transfers at once
	size int64 // bytes of each
	reps int   // times the set runs; rates are their median
	t8   bool  // the single transfer of T8's size
}

// sizeMB is the size the targets table names: only the T8 run's, which
// would otherwise read like the long single transfer.
func (r fileRunSpec) sizeMB() float64 {
	if r.t8 {
		return float64(r.size) / 1e6
	}
	return 0
}

// t8Reps is how often the T8-sized single transfer runs: at 100 MB/s it
// takes 50 ms, short enough for one scheduling hiccup to halve its rate.
const t8Reps = 5

// runs are the transfer sets: T8's single 5 MB transfer (if asked for),
// one long transfer, and concurrent ones.
func (fo fileOptions) runs() []fileRunSpec {
	k := max(fo.concurrent, 1)
	var runs []fileRunSpec
	if fo.t8Size > 0 {
		runs = append(runs, fileRunSpec{name: fmt.Sprintf("1 transfer of %s", mbText(fo.t8Size)), n: 1, size: fo.t8Size, reps: t8Reps, t8: true})
	}
	return append(runs, fileRunSpec{name: "1 transfer", n: 1, size: fo.size, reps: 1},
		fileRunSpec{name: fmt.Sprintf("%d concurrent", k), n: k, size: fo.concurrentSize, reps: 1})
}

// mbText is a size in decimal MB, as T8 states it.
func mbText(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + " MB" }

// deviceRelay is k pairs of devices logged in to a parleyd, sender i
// sending to receiver i.
type deviceRelay struct {
	g                  *gateway
	senders, receivers []*client.Conn
	flights            *inFlight
	sums               map[int64][]byte
	mu                 sync.Mutex
}

func newDeviceRelay(ctx context.Context, g *gateway, k int, flights *inFlight) (*deviceRelay, error) {
	d := &deviceRelay{g: g, senders: make([]*client.Conn, k), receivers: make([]*client.Conn, k), flights: flights, sums: map[int64][]byte{}}
	for i := range k {
		for j, c := range []**client.Conn{&d.senders[i], &d.receivers[i]} {
			user := []string{"fa", "fb"}[j] + strconv.Itoa(i)
			conn, err := client.Dial(ctx, client.Config{Addr: g.addr, TLS: g.tls, ClientName: "parley-bench", DeviceID: user + "-file", EventBuffer: 64})
			if err != nil {
				d.close()
				return nil, err
			}
			*c = conn
			if _, err := conn.Login(ctx, user, password); err != nil {
				d.close()
				return nil, g.failure("file: login "+user, err)
			}
		}
		// A sender's events (the progress of its transfers) are not
		// needed, but a client whose event buffer is full stops reading
		// from the gateway, and its transfers with it.
		go func(events <-chan *devicev1.Event) {
			for range events {
			}
		}(d.senders[i].Events())
	}
	return d, nil
}

func (d *deviceRelay) close() {
	for _, c := range append(d.senders, d.receivers...) {
		if c != nil {
			c.Close()
		}
	}
}

// sum is the sha256 of the first size bytes of the pattern.
func (d *deviceRelay) sum(size int64) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.sums[size]; ok {
		return s
	}
	h := sha256.New()
	io.Copy(h, &patternReader{n: size})
	d.sums[size] = h.Sum(nil)
	return d.sums[size]
}

// transfer sends size bytes from sender i to receiver i, which accepts
// them, and checks that they arrived intact.
func (d *deviceRelay) transfer(ctx context.Context, i int, size int64) error {
	r, w := &patternReader{n: size}, &checkWriter{}
	d.flights.add(r, w)
	defer d.flights.remove(r)
	sendErr := make(chan error, 1)
	sum := d.sum(size)
	go func() {
		_, err := d.senders[i].SendFile(ctx, "fb"+strconv.Itoa(i), "", "bench.bin", r, size, client.WithSHA256(sum))
		sendErr <- err
	}()
	var id string
	for id == "" {
		select {
		case e, ok := <-d.receivers[i].Events():
			if !ok {
				return fmt.Errorf("receiver's link ended: %w", d.receivers[i].Err())
			}
			if inv := e.GetFileInvitation(); inv != nil {
				id = inv.TransferId
			}
		case err := <-sendErr:
			return fmt.Errorf("send ended before the invitation: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if _, err := d.receivers[i].Accept(ctx, id, false, w, 0, client.WithExpectedSize(uint64(size))); err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	if err := <-sendErr; err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if got := w.off.Load(); got != size || w.bad {
		return fmt.Errorf("%w: got %d of %d bytes", errCorruptFile, got, size)
	}
	return nil
}

// fileThroughGateway relays the same files device to device through
// parleyd (issue 5's chunked, acknowledged transfer) and the memory
// plugin: first for throughput, CPU and RSS, then through a second
// parleyd that runs with GOGC=1 for its live heap.
func fileThroughGateway(ctx context.Context, o options, rep *report, work string, users []imUser, flights *inFlight) error {
	k := max(o.file.concurrent, 1)
	g, err := startGateway(ctx, o.binDir, work, "gateway", gatewaySpec{memoryUsers: users, maxFileBytes: 1 << 40})
	if err != nil {
		return err
	}
	defer g.stop()
	relay, err := newDeviceRelay(ctx, g, k, flights)
	if err != nil {
		return err
	}
	defer relay.close()
	transfer := func(i int, size int64) error { return relay.transfer(ctx, i, size) }
	if err := transfer(0, 4<<20); err != nil {
		return g.failure("file through parleyd: warm-up", err)
	}
	plugin := g.plugin("parley-backend-memory")
	runs := o.file.runs()
	var measured []fileRun
	for _, run := range runs {
		var res transferResult
		var rates []float64
		var gwPeak int64
		gwCPU := cpuTime(g.PID())
		prof := o.perf.start(o, "file-via-parleyd-"+strings.ReplaceAll(run.name, " ", "-"), g.PID(), plugin)
		for range run.reps {
			gwBefore := rss(g.PID())
			if err := resetPeakRSS(g.PID()); err != nil {
				return err
			}
			r, err := measureTransfers(plugin, run.n, run.size, flights, transfer)
			if err != nil {
				prof.stop(o)
				return g.failure("file through parleyd "+run.name, err)
			}
			gwHWM, err := procStatus(g.PID(), "VmHWM")
			if err != nil {
				return err
			}
			gwPeak = max(gwPeak, gwHWM-gwBefore)
			rates = append(rates, r.rate)
			res = r.worst(res)
		}
		prof.stop(o)
		res.rate = median(slices.Clone(rates))
		mib := float64(run.reps*run.n) * float64(run.size) / (1 << 20)
		cpuPerMiB := float64(cpuTime(g.PID())-gwCPU) / float64(time.Millisecond) / mib
		o.logf("file via parleyd %s of %s: %.0f MB/s, at most %d KB in flight per transfer, parleyd peak RSS +%d KB, plugin +%d KB",
			run.name, mbText(run.size), res.rate, res.inFlight>>10, gwPeak>>10, res.pluginPeak>>10)
		scen := "file via parleyd " + run.name
		note := fmt.Sprintf("device to device through parleyd and the memory plugin, %s each, %d transfers", mbText(run.size), run.n)
		if run.reps > 1 {
			note += fmt.Sprintf("; the median of %d runs (%s MB/s)", run.reps, ratesText(rates))
		}
		rep.add(figure{Scenario: scen, Name: "throughput (all transfers)", Value: res.rate, Unit: "MB/s",
			Target: fmt.Sprintf(">= %d MB/s", targetFileRate), Met: atLeast(res.rate, targetFileRate), Note: note})
		per := float64(gwPeak) / float64(run.n)
		measured = append(measured, fileRun{Path: "via parleyd", Transfers: run.n, SizeMB: run.sizeMB(), MBps: res.rate, BufferedKB: per / 1024, Load: loadAvg(),
			BufferedWhat: "parleyd's peak RSS growth per transfer, garbage not yet collected and memory the Go runtime keeps included (the transfer's spool is on disk)"})
		rep.add(figure{Scenario: scen, Name: "parleyd peak RSS growth per transfer", Value: per / 1024, Unit: "KB",
			Target: fmt.Sprintf("<= %d KB", targetFileBuffer>>10), Met: atMost(per, targetFileBuffer),
			Note: "garbage not yet collected and heap the runtime keeps for reuse included"})
		rep.add(figure{Scenario: scen, Name: "parleyd CPU per MiB relayed", Value: cpuPerMiB, Unit: "ms",
			Note: "parleyd's user+system time over the transfers; the device link's TLS, the spool, both sha256 checks and the plugin hop's gRPC"})
		rep.add(figure{Scenario: scen, Name: "peak bytes in flight per transfer, end to end", Value: float64(res.inFlight) / 1024, Unit: "KB",
			Note: fmt.Sprintf("sender's window %d KB, the plugin hop, the receiver", client.FileWindow>>10)})
	}
	relay.close()
	g.stop()
	live, err := fileLiveHeap(ctx, o, work, users, flights, runs)
	if err != nil {
		return err
	}
	for i, run := range runs {
		per := live[i] / float64(run.n)
		measured[i].LiveKB = per / 1024
		measured[i].LiveWhat = liveHeapWhat
		o.logf("file via parleyd %s, live heap pass: parleyd heap +%.0f KB per transfer", run.name, per/1024)
		rep.add(figure{Scenario: "file via parleyd " + run.name, Name: "parleyd live heap growth per transfer", Value: per / 1024, Unit: "KB",
			Target: fmt.Sprintf("<= %d KB", targetFileBuffer>>10), Met: atMost(per, targetFileBuffer), Note: liveHeapWhat})
	}
	rep.Measured.File = append(rep.Measured.File, measured...)
	return nil
}

// liveHeapWhat says how the live heap figure is measured.
const liveHeapWhat = "a second parleyd run with GOGC=1, so that its heap holds little garbage: the median of its heap objects (go_memstats_heap_alloc_bytes, sampled every 5 ms) during the transfers less the median when idle, per transfer; link, gRPC and chunk buffers included, and what a collection every 1 % of growth leaves (it also empties buffer pools, whose refills are garbage until the next one)"

// liveHeapEvery is how often the live heap pass samples parleyd's heap.
const liveHeapEvery = 5 * time.Millisecond

// fileLiveHeap runs the transfer sets through a parleyd with GOGC=1 and
// returns, for each, the growth of its heap objects over the idle heap
// (medians of the samples): with a collection whenever the heap grows by
// 1 %, that is close to what the transfers keep live.
func fileLiveHeap(ctx context.Context, o options, work string, users []imUser, flights *inFlight, runs []fileRunSpec) ([]float64, error) {
	k := max(o.file.concurrent, 1)
	g, err := startGateway(ctx, o.binDir, work, "gateway-live", gatewaySpec{memoryUsers: users, maxFileBytes: 1 << 40, gogc: "1"})
	if err != nil {
		return nil, err
	}
	defer g.stop()
	relay, err := newDeviceRelay(ctx, g, k, flights)
	if err != nil {
		return nil, err
	}
	defer relay.close()
	transfer := func(i int, size int64) error { return relay.transfer(ctx, i, size) }
	if err := transfer(0, 4<<20); err != nil {
		return nil, g.failure("file live heap: warm-up", err)
	}
	var out []float64
	for _, run := range runs {
		var idle []float64
		for range 20 {
			st, err := scrapeGoStats(ctx, g.metricsAddr)
			if err != nil {
				return nil, err
			}
			idle = append(idle, st.heapAlloc)
			time.Sleep(liveHeapEvery)
		}
		var during []float64
		for range run.reps {
			samples, err := heapDuring(ctx, g.metricsAddr, func() error {
				_, err := measureTransfers(g.plugin("parley-backend-memory"), run.n, run.size, flights, transfer)
				return err
			})
			if err != nil {
				return nil, g.failure("file live heap "+run.name, err)
			}
			during = append(during, samples...)
		}
		if len(during) == 0 {
			return nil, fmt.Errorf("file live heap %s: no sample of parleyd's heap during the transfers", run.name)
		}
		out = append(out, max(median(during)-median(idle), 0))
	}
	return out, nil
}

// heapDuring runs fn while sampling parleyd's heap objects, and returns
// the samples.
func heapDuring(ctx context.Context, metricsAddr string, fn func() error) ([]float64, error) {
	stop := make(chan struct{})
	result := make(chan []float64, 1)
	go func() {
		var samples []float64
		t := time.NewTicker(liveHeapEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				result <- samples
				return
			case <-t.C:
			}
			if st, err := scrapeGoStats(ctx, metricsAddr); err == nil {
				samples = append(samples, st.heapAlloc)
			}
		}
	}()
	err := fn()
	close(stop)
	return <-result, err
}

// median of xs (not empty); xs is sorted in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// ratesText lists rates in the order they were measured.
func ratesText(rates []float64) string {
	parts := make([]string, len(rates))
	for i, r := range rates {
		parts[i] = strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strings.Join(parts, ", ")
}

type transferResult struct {
	rate       float64 // MB/s over all transfers
	inFlight   int64   // most bytes one transfer had in flight
	pluginPeak int64   // plugin VmHWM growth over its RSS before
	hostPeak   int64   // this process's peak heap growth
}

// worst combines the memory figures of two runs of a set: the larger of
// each. The rate is left to the caller.
func (r transferResult) worst(o transferResult) transferResult {
	r.inFlight = max(r.inFlight, o.inFlight)
	r.pluginPeak = max(r.pluginPeak, o.pluginPeak)
	r.hostPeak = max(r.hostPeak, o.hostPeak)
	return r
}

// measureRepeated runs the set run.reps times (measureTransfers) and
// returns the median rate and the worst memory figures, and every rate.
func measureRepeated(pid int, run fileRunSpec, flights *inFlight, transfer func(int, int64) error) (transferResult, []float64, error) {
	var res transferResult
	var rates []float64
	for range run.reps {
		r, err := measureTransfers(pid, run.n, run.size, flights, transfer)
		if err != nil {
			return transferResult{}, nil, err
		}
		rates = append(rates, r.rate)
		res = r.worst(res)
	}
	res.rate = median(slices.Clone(rates))
	return res, rates, nil
}

// measureTransfers runs n transfers of size at once and reads the peak
// memory they took in the plugin and in this process.
func measureTransfers(pid, n int, size int64, flights *inFlight, transfer func(int, int64) error) (transferResult, error) {
	before := rss(pid)
	if err := resetPeakRSS(pid); err != nil {
		return transferResult{}, fmt.Errorf("resetting the plugin's peak RSS: %w", err)
	}
	heap0 := heapBytes()
	var peak, flight atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if h := heapBytes() - heap0; h > peak.Load() {
				peak.Store(h)
			}
			if f := flights.max(); f > flight.Load() {
				flight.Store(f)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	t0 := time.Now()
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- transfer(i, size) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	elapsed := time.Since(t0)
	close(stop)
	<-sampled
	if first != nil {
		return transferResult{}, first
	}
	hwm, err := procStatus(pid, "VmHWM")
	if err != nil {
		return transferResult{}, err
	}
	return transferResult{rate: float64(size) * float64(n) / elapsed.Seconds() / 1e6, pluginPeak: max(hwm-before, 0), hostPeak: peak.Load(), inFlight: flight.Load()}, nil
}

// heapBytes is the live heap of this process (objects, including garbage
// not yet collected).
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
