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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleygw/parley/client"
	"github.com/parleygw/parley/plugins/sdk"
)

// fileOptions shape the file scenario.
type fileOptions struct {
	size           int64 // bytes of the single transfer
	concurrent     int   // transfers at once in the second run
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
	for _, run := range []struct {
		name string
		n    int
		size int64
	}{{"1 transfer", 1, fo.size}, {fmt.Sprintf("%d concurrent", k), k, fo.concurrentSize}} {
		res, err := measureTransfers(pid, run.n, run.size, flights, transfer)
		if err != nil {
			return fmt.Errorf("file %s: %w", run.name, err)
		}
		o.logf("file %s of %d MiB: %.0f MB/s, at most %d KB in flight per transfer, plugin peak RSS +%d KB, host heap peak +%d KB",
			run.name, run.size>>20, res.rate, res.inFlight>>10, res.pluginPeak>>10, res.hostPeak>>10)
		scen := "file plugin hop " + run.name
		rep.Measured.File = append(rep.Measured.File, fileRun{Path: "plugin hop", Transfers: run.n, MBps: res.rate, BufferedKB: float64(res.inFlight) / 1024, Load: loadAvg(),
			BufferedWhat: "peak bytes read from the sender and not yet written to the receiver"})
		note := fmt.Sprintf("the plugin hop alone: SDK SendFile/ReceiveFile through the memory plugin process (go-plugin gRPC), %d MiB each, %d transfers", run.size>>20, run.n)
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

// fileThroughGateway relays the same files device to device through
// parleyd (issue 5's chunked, acknowledged transfer) and the memory
// plugin.
func fileThroughGateway(ctx context.Context, o options, rep *report, work string, users []imUser, flights *inFlight) error {
	fo := o.file
	k := max(fo.concurrent, 1)
	g, err := startGateway(ctx, o.binDir, work, "gateway", gatewaySpec{memoryUsers: users, maxFileBytes: 1 << 40})
	if err != nil {
		return err
	}
	defer g.stop()
	senders, receivers := make([]*client.Conn, k), make([]*client.Conn, k)
	for i := range k {
		for j, c := range []**client.Conn{&senders[i], &receivers[i]} {
			user := []string{"fa", "fb"}[j] + strconv.Itoa(i)
			conn, err := client.Dial(ctx, client.Config{Addr: g.addr, TLS: g.tls, ClientName: "parley-bench", DeviceID: user + "-file", EventBuffer: 64})
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := conn.Login(ctx, user, password); err != nil {
				return g.failure("file: login "+user, err)
			}
			*c = conn
		}
	}
	sums := map[int64][]byte{}
	sum := func(size int64) []byte {
		if s, ok := sums[size]; ok {
			return s
		}
		h := sha256.New()
		io.Copy(h, &patternReader{n: size})
		sums[size] = h.Sum(nil)
		return sums[size]
	}
	transfer := func(i int, size int64) error {
		r, w := &patternReader{n: size}, &checkWriter{}
		flights.add(r, w)
		defer flights.remove(r)
		sendErr := make(chan error, 1)
		go func() {
			_, err := senders[i].SendFile(ctx, "fb"+strconv.Itoa(i), "", "bench.bin", r, size, client.WithSHA256(sum(size)))
			sendErr <- err
		}()
		var id string
		for id == "" {
			select {
			case e, ok := <-receivers[i].Events():
				if !ok {
					return fmt.Errorf("receiver's link ended: %w", receivers[i].Err())
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
		if _, err := receivers[i].Accept(ctx, id, false, w, 0, client.WithExpectedSize(uint64(size))); err != nil {
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
	if err := transfer(0, 4<<20); err != nil {
		return g.failure("file through parleyd: warm-up", err)
	}
	plugin := g.plugin("parley-backend-memory")
	for _, run := range []struct {
		name string
		n    int
		size int64
	}{{"1 transfer", 1, fo.size}, {fmt.Sprintf("%d concurrent", k), k, fo.concurrentSize}} {
		gwBefore := rss(g.PID())
		if err := resetPeakRSS(g.PID()); err != nil {
			return err
		}
		gwCPU := cpuTime(g.PID())
		res, err := measureTransfers(plugin, run.n, run.size, flights, transfer)
		if err != nil {
			return g.failure("file through parleyd "+run.name, err)
		}
		mib := float64(run.n) * float64(run.size) / (1 << 20)
		cpuPerMiB := float64(cpuTime(g.PID())-gwCPU) / float64(time.Millisecond) / mib
		gwHWM, err := procStatus(g.PID(), "VmHWM")
		if err != nil {
			return err
		}
		gwPeak := max(gwHWM-gwBefore, 0)
		o.logf("file via parleyd %s of %d MiB: %.0f MB/s, at most %d KB in flight per transfer, parleyd peak RSS +%d KB, plugin +%d KB",
			run.name, run.size>>20, res.rate, res.inFlight>>10, gwPeak>>10, res.pluginPeak>>10)
		scen := "file via parleyd " + run.name
		rep.add(figure{Scenario: scen, Name: "throughput (all transfers)", Value: res.rate, Unit: "MB/s",
			Target: fmt.Sprintf(">= %d MB/s", targetFileRate), Met: atLeast(res.rate, targetFileRate),
			Note: fmt.Sprintf("device to device through parleyd and the memory plugin, %d MiB each, %d transfers", run.size>>20, run.n)})
		per := float64(gwPeak) / float64(run.n)
		rep.Measured.File = append(rep.Measured.File, fileRun{Path: "via parleyd", Transfers: run.n, MBps: res.rate, BufferedKB: per / 1024, Load: loadAvg(),
			BufferedWhat: "parleyd's peak RSS growth per transfer, garbage not yet collected included (the transfer's spool is on disk)"})
		rep.add(figure{Scenario: scen, Name: "parleyd peak RSS growth per transfer", Value: per / 1024, Unit: "KB",
			Target: fmt.Sprintf("<= %d KB", targetFileBuffer>>10), Met: atMost(per, targetFileBuffer),
			Note: "garbage not yet collected included"})
		rep.add(figure{Scenario: scen, Name: "parleyd CPU per MiB relayed", Value: cpuPerMiB, Unit: "ms",
			Note: "parleyd's user+system time over the transfers; the device link's TLS, the spool, both sha256 checks and the plugin hop's gRPC"})
		rep.add(figure{Scenario: scen, Name: "peak bytes in flight per transfer, end to end", Value: float64(res.inFlight) / 1024, Unit: "KB",
			Note: fmt.Sprintf("sender's window %d KB, the plugin hop, the receiver", client.FileWindow>>10)})
	}
	return nil
}

type transferResult struct {
	rate       float64 // MB/s over all transfers
	inFlight   int64   // most bytes one transfer had in flight
	pluginPeak int64   // plugin VmHWM growth over its RSS before
	hostPeak   int64   // this process's peak heap growth
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
