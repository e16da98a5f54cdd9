package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// goStats are the Go runtime figures parleyd exports on /metrics.
type goStats struct {
	heapInuse, stackInuse float64
	heapAlloc             float64 // bytes of heap objects, garbage not yet collected included
	goroutines            float64
}

// scrapeGoStats reads parleyd's Prometheus endpoint.
func scrapeGoStats(ctx context.Context, addr string) (goStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return goStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return goStats{}, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	var s goStats
	want := map[string]*float64{
		"go_memstats_heap_inuse_bytes":  &s.heapInuse,
		"go_memstats_heap_alloc_bytes":  &s.heapAlloc,
		"go_memstats_stack_inuse_bytes": &s.stackInuse,
		"go_goroutines":                 &s.goroutines,
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p, known := want[name]; ok && known {
			*p, _ = strconv.ParseFloat(strings.TrimSpace(value), 64)
		}
	}
	return s, sc.Err()
}
