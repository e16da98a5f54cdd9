package filexfer_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTransferThroughGateway sends a file from one device to another
// through the whole in-process path (TLS links, router, spool files, the
// memory backend over gRPC) and reports the peak heap in use, sampled
// while it runs: it does not grow with the file's size.
func BenchmarkTransferThroughGateway(b *testing.B) {
	for _, mib := range []int64{8, 64} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) { benchmarkTransfer(b, mib<<20) })
	}
}

func benchmarkTransfer(b *testing.B, size int64) {
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
	b.ResetTimer()
	for b.Loop() {
		// A reader that holds nothing: the heap is the transfer's own.
		sent := sendAsync(alice, "bob", "big.bin", io.LimitReader(zeros{}, size), size)
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
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
