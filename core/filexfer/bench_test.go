package filexfer_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parleygw/parley/core/configdb"
	"github.com/parleygw/parley/core/filexfer"
	"github.com/parleygw/parley/plugins/sdk"
	devicev1 "github.com/parleygw/parley/proto/parley/device/v1"
)

// BenchmarkTransferThroughGateway sends a file from one device to another
// through the whole in-process path (TLS links, router, spool files, the
// memory backend over gRPC) and reports the peak heap in use, sampled
// while it runs (it does not grow with the file's size), and the CPU the
// process used per byte, devices included: on this shared machine that
// varies much less than the time. The data is incompressible, as most
// files are, or zeros.
func BenchmarkTransferThroughGateway(b *testing.B) {
	for _, mib := range []int64{8, 64} {
		for _, data := range []struct {
			name string
			r    func(size int64) io.Reader
		}{
			{"random", func(size int64) io.Reader { return &noise{n: size} }},
			{"zeros", func(size int64) io.Reader { return io.LimitReader(zeros{}, size) }},
		} {
			b.Run(fmt.Sprintf("%dMiB/%s", mib, data.name), func(b *testing.B) { benchmarkTransfer(b, mib<<20, data.r) })
		}
	}
}

func benchmarkTransfer(b *testing.B, size int64, data func(int64) io.Reader) {
	g := startGateway(b, gatewayOptions{imMaxBytes: uint64(size)})
	alice, bob := g.login(b, "alice"), g.login(b, "bob")
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	b.SetBytes(size)
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		// A reader that holds nothing: the heap is the transfer's own.
		sent := sendAsync(alice, "bob", "big.bin", data(size), size)
		inv := bob.invitation(b)
		if _, err := bob.Accept(context.Background(), inv.TransferId, false, io.Discard, 0); err != nil {
			b.Fatal(err)
		}
		if r := result(b, sent); r.err != nil {
			b.Fatal(r.err)
		}
	}
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(int64(b.N)*size>>20)/1e3, "cpu-µs/MiB")
}

// BenchmarkTransferLiveHeap measures what a transfer through the whole
// in-process path keeps live, which is what "buffered per transfer"
// means, for one transfer and for four at once (idle pooled buffers are
// shared, so the second is closer to the cost of one more): every 20 ms
// it collects garbage and reads the heap profile, with every allocation
// recorded, and reports the largest growth of the live heap over the idle
// one per transfer, split by the side whose code allocated it: the
// gateway (links, file manager, the plugin hop's gRPC client), the plugin
// (its gRPC server and the memory backend) and the two devices (package
// client, which keeps a window of sent data for resending). With -v it
// logs the gateway's largest allocation sites at that peak. Forced
// collections and recording every allocation make its time meaningless.
func BenchmarkTransferLiveHeap(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("transfers=%d", n), func(b *testing.B) { benchmarkLiveHeap(b, n) })
	}
}

// benchmarkLiveHeap runs n transfers at once and reports the live heap
// growth per transfer.
func benchmarkLiveHeap(b *testing.B, n int) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	const size = 32 << 20
	var users []string
	for i := range n {
		users = append(users, fmt.Sprint("alice", i), fmt.Sprint("bob", i))
	}
	g := startGateway(b, gatewayOptions{imMaxBytes: size, users: users})
	senders, receivers := make([]*device, n), make([]*device, n)
	for i := range n {
		senders[i], receivers[i] = g.login(b, fmt.Sprint("alice", i)), g.login(b, fmt.Sprint("bob", i))
	}
	idle := liveBySide()
	var peak heapSides
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if h := liveBySide(); h.bytes[sideGateway] > peak.bytes[sideGateway] {
				peak = h
			}
		}
	}()
	for b.Loop() {
		errs := make(chan error, n)
		for i := range n {
			go func() {
				sent := sendAsync(senders[i], fmt.Sprint("bob", i), "big.bin", &noise{n: size}, size)
				inv := receivers[i].invitation(b)
				if _, err := receivers[i].Accept(context.Background(), inv.TransferId, false, io.Discard, 0); err != nil {
					errs <- err
					return
				}
				errs <- (<-sent).err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	close(stop)
	<-sampled
	for side, name := range sideNames {
		b.ReportMetric(float64(peak.bytes[side]-idle.bytes[side])/1024/float64(n), name+"-live-KB/transfer")
	}
	for _, s := range peak.growth(idle, sideGateway, 12) {
		b.Logf("gateway live growth at the peak: %7.1f KB  %s", float64(s.bytes)/1024, s.where)
	}
}

// The sides of a transfer that BenchmarkTransferLiveHeap tells apart.
const (
	sideGateway = iota
	sidePlugin
	sideDevices
	sideCount
)

var sideNames = [sideCount]string{"gateway", "plugin", "devices"}

// heapSides is the live heap by side, and by allocation site.
type heapSides struct {
	bytes [sideCount]int64
	sites map[string]int64 // "side: function" → bytes
}

// liveBySide collects garbage and sums the heap profile's live bytes by
// the side whose code allocated them.
func liveBySide() heapSides {
	runtime.GC()
	n, _ := runtime.MemProfile(nil, true)
	records := make([]runtime.MemProfileRecord, n+256)
	n, _ = runtime.MemProfile(records, true)
	h := heapSides{sites: map[string]int64{}}
	for _, r := range records[:n] {
		if r.InUseBytes() == 0 {
			continue
		}
		side, where := sideOf(r.Stack())
		if side < 0 {
			continue
		}
		h.bytes[side] += r.InUseBytes()
		h.sites[sideNames[side]+": "+where] += r.InUseBytes()
	}
	return h
}

// sideOf attributes an allocation to a side by the functions on its
// stack (-1 for the measurement's own), and names the innermost function of this module (or else the
// innermost one outside the runtime) as where.
func sideOf(stack []uintptr) (int, string) {
	side, where, other := sideGateway, "", ""
	frames := runtime.CallersFrames(stack)
	for {
		f, more := frames.Next()
		fn := f.Function
		switch {
		case strings.Contains(fn, "filexfer_test.liveBySide"):
			return -1, "" // the measurement's own
		case strings.Contains(fn, "parley/client."):
			side = sideDevices
		case strings.Contains(fn, "http2Server") || strings.Contains(fn, "grpc.(*Server)") || strings.Contains(fn, "serverStream") ||
			strings.Contains(fn, "sdk.(*grpcServer)") || strings.Contains(fn, "/memory."):
			side = sidePlugin
		}
		if where == "" && strings.Contains(fn, "parleygw/parley/") {
			where = fn
		}
		if other == "" && !strings.HasPrefix(fn, "runtime.") {
			other = fn
		}
		if !more {
			return side, cmp.Or(where, other)
		}
	}
}

type heapSite struct {
	where string
	bytes int64
}

// growth lists the allocation sites of side whose live bytes grew most
// since idle.
func (h heapSides) growth(idle heapSides, side, n int) []heapSite {
	var sites []heapSite
	for where, bytes := range h.sites {
		if grown := bytes - idle.sites[where]; strings.HasPrefix(where, sideNames[side]+": ") && grown > 0 {
			sites = append(sites, heapSite{strings.TrimPrefix(where, sideNames[side]+": "), grown})
		}
	}
	slices.SortFunc(sites, func(a, b heapSite) int { return cmp.Compare(b.bytes, a.bytes) })
	return sites[:min(n, len(sites))]
}

// cpuTime is the CPU the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// noisePattern is incompressible data that noise repeats.
var noisePattern = func() []byte {
	b := make([]byte, 1<<20)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}()

// noise yields n incompressible bytes.
type noise struct{ off, n int64 }

func (r *noise) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n-r.off)], noisePattern[r.off%int64(len(noisePattern)):])
	r.off += int64(k)
	return k, nil
}

// discardBackend takes uploads and throws them away.
type discardBackend struct{ fakeBackend }

func (*discardBackend) SendFile(_ context.Context, _ sdk.FileHeader, r io.Reader) (uint64, error) {
	n, err := io.Copy(io.Discard, r)
	return uint64(n), err
}

// BenchmarkUploadChunks is the gateway's side of an upload, as the link
// drives it: FileChunk messages into the spool, the plugin reading it,
// acknowledgements out. Per 64 KiB chunk.
func BenchmarkUploadChunks(b *testing.B) {
	const size = 1 << 40
	u := newUnit(b, filexfer.Options{SpoolLimit: size,
		Policies: &policies{def: configdb.Policy{FileTransfer: true, MaxFileBytes: size}, by: map[string]configdb.Policy{}}})
	chunk := noisePattern[:filexfer.MaxChunk]
	id := u.offer(b, &discardBackend{}, size, nil)
	wake := u.m.Wake(u.dev)
	var sent, acked uint64
	b.SetBytes(filexfer.MaxChunk)
	b.ReportAllocs()
	for b.Loop() {
		for sent+filexfer.MaxChunk > acked+filexfer.Window {
			for _, m := range u.m.Next(u.dev, u.gen) {
				acked = max(acked, m.GetFileChunkAck().GetOffset())
			}
			if sent+filexfer.MaxChunk > acked+filexfer.Window {
				<-wake
			}
		}
		u.chunk(id, sent, chunk, false)
		sent += filexfer.MaxChunk
	}
}

// BenchmarkDownloadChunks is the gateway's side of a download: the plugin
// filling the spool, the link taking chunks with Next and giving their
// buffers back, the device acknowledging. Per 16 MiB file.
func BenchmarkDownloadChunks(b *testing.B) {
	u := newUnit(b, filexfer.Options{})
	data := noisePattern[:1<<20]
	fb := &fakeBackend{download: bytes.Repeat(data, 16)}
	size := uint64(len(fb.download))
	ctx := context.Background()
	wake := u.m.Wake(u.dev)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		id := fmt.Sprintf("in-%d", n)
		u.m.Offered(ctx, fb, u.dev.Session(), sdk.FileOfferEvent{TransferID: id, From: "bob", Name: "x.bin", Size: size})
		if err := u.m.Accept(ctx, fb, u.dev, &devicev1.AcceptFile{TransferId: id}); err != nil {
			b.Fatal(err)
		}
		for offset, last := uint64(0), false; !last; {
			msgs := u.m.Next(u.dev, u.gen)
			for _, m := range msgs {
				offset += uint64(len(m.GetFileChunk().GetData()))
				last = last || m.GetFileChunk().GetLast()
			}
			u.m.Release(msgs)
			if len(msgs) == 0 {
				<-wake
				continue
			}
			u.m.FromDevice(u.dev, &devicev1.Message{Body: &devicev1.Message_FileChunkAck{FileChunkAck: &devicev1.FileChunkAck{
				TransferId: id, Offset: offset}}})
		}
	}
}
