package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
)

// row finds the summary row whose target starts with prefix.
func row(t *testing.T, rows []targetRow, prefix string) targetRow {
	t.Helper()
	for _, r := range rows {
		if strings.HasPrefix(r.Target, prefix) {
			return r
		}
	}
	t.Fatalf("no target row %q in %+v", prefix, rows)
	return targetRow{}
}

func met(r targetRow) string { return metText(r.Met) }

func TestThroughputIsJudgedOnlyAtALoadThatCouldReachIt(t *testing.T) {
	rows := targets(measurements{Relay: []relayLevel{
		{Backend: "memory", Offered: 5000, Throughput: 5000, DirectThroughput: 5000},
	}})
	for _, r := range rows {
		if strings.HasPrefix(r.Target, ">= 20000") {
			t.Fatalf("throughput judged from a 5,000/s offered load: %+v", r)
		}
	}
	rows = targets(measurements{Relay: []relayLevel{
		{Backend: "memory", Offered: 0, Throughput: 21000, DirectThroughput: 30000, GatewayCPU: 80, DevicesCPU: 40},
		{Backend: "groupwise", Offered: 0, Throughput: 7000, DirectThroughput: 22000},
		{Backend: "groupwise", Offered: 20000, Throughput: 6000, DirectThroughput: 20000},
	}})
	if r := row(t, rows, ">= 20000 chat msgs/s end to end (memory)"); met(r) != "yes" || !strings.Contains(r.Measured, "21000") || !strings.Contains(r.Baseline, "30000") {
		t.Errorf("memory: %+v", r)
	}
	if r := row(t, rows, ">= 20000 chat msgs/s end to end (memory)"); !strings.Contains(r.Note, "simulated devices 40 us") || !strings.Contains(r.Note, "parleyd + plugin 80 us") {
		t.Errorf("the devices' CPU is not reported apart from the gateway's: %q", r.Note)
	}
	if r := row(t, rows, ">= 20000 chat msgs/s end to end (groupwise)"); met(r) != "NO" || !strings.Contains(r.Measured, "7000") {
		t.Errorf("groupwise: the best of its loads is 7,000/s and misses: %+v", r)
	}
}

func TestAddedLatencyIsGatewayMinusDirectAtHalfLoad(t *testing.T) {
	rows := targets(measurements{Relay: []relayLevel{
		{Backend: "memory", Offered: 2000, Throughput: 2000, P50: 9, P99: 9, DirectP50: 1, DirectP99: 1}, // not a half load
		{Backend: "memory", Offered: 3500, HalfOf: 7000, Throughput: 3500, P50: 1.2, P99: 4, DirectP50: 1.0, DirectP99: 1.5},
		{Backend: "memory", Offered: 10000, Throughput: 7000, Lost: 12, P50: 800, P99: 1500, DirectP50: 0.5, DirectP99: 1},
	}})
	var p50 []targetRow
	for _, r := range rows {
		if strings.HasPrefix(r.Target, "added latency p50") {
			p50 = append(p50, r)
		}
	}
	if len(p50) != 2 {
		t.Fatalf("want a p50 row for the half of max and one for 10,000/s, got %+v", p50)
	}
	half, issue := p50[0], p50[1]
	if met(half) != "yes" || !strings.Contains(half.Measured, "+0.20 ms") || !strings.Contains(half.Note, "half the 7000/s closed-loop maximum") {
		t.Errorf("half of max: %+v", half)
	}
	if met(issue) != "NO" || !strings.Contains(issue.Note, "the issue's half load") || !strings.Contains(issue.Note, "saturated") {
		t.Errorf("10,000/s: %+v", issue)
	}
	if r := row(t, rows, "added latency p99 <= 2 ms at half load, 3500/s = half of max (memory)"); met(r) != "NO" || !strings.Contains(r.Measured, "+2.50 ms") {
		t.Errorf("p99 at half of max, 4 - 1.5 = 2.5 ms > 2 ms: %+v", r)
	}
}

func TestIdleHeldStormFileWireAndResumeAgainstTheirLimits(t *testing.T) {
	m := measurements{
		Idle: []idleLevel{
			{Backend: "memory", From: 10000, To: 19800, GatewayKB: 23.9, TotalKB: 30},
			{Backend: "groupwise", From: 500, To: 1000, GatewayKB: 40, TotalKB: 110},
		},
		Held:   &heldSessions{Attached: 19800, Cached: 100000},
		Limits: []sizeShortage{{Scenario: "idle attached", Requested: 100000, Reached: 19800, Why: "RLIMIT_NOFILE 20000"}},
		Resume: []resumeRatio{{Name: "memory", LoginMS: 2.5, ResumeMS: 1.0}, {Name: "groupwise +50ms IM RTT", LoginMS: 160, ResumeMS: 1.4}},
		Storm:  &stormResult{Requested: 10000, Devices: 10000, Seconds: 8.2},
		File: []fileRun{
			{Path: "via parleyd", Transfers: 1, MBps: 94, BufferedKB: 9000},
			{Path: "plugin hop", Transfers: 20, MBps: 139, BufferedKB: 256},
		},
		Wire: &wireBytes{Contacts: 200, Compressed: 3400, Uncompressed: 7464},
	}
	rows := targets(m)
	for _, c := range []struct{ prefix, want string }{
		{"<= 24 KB per idle session in parleyd (memory", "yes"},
		{"<= 64 KB per idle session with the plugin side (memory", "yes"},
		{"<= 24 KB per idle session in parleyd (groupwise", "NO"},
		{"<= 64 KB per idle session with the plugin side (groupwise", "NO"},
		{"100000 sessions held", "yes"},
		{"— of them attached", "not judged"},
		{"resume <= 20% of a full login (memory)", "NO"},
		{"resume <= 20% of a full login (groupwise +50ms IM RTT)", "yes"},
		{"10000-device reconnect storm", "yes"},
		{"file relay >= 100 MB/s (via parleyd, 1 transfer)", "NO"},
		{"<= 256 KB buffered per transfer (via parleyd, 1 transfer)", "NO"},
		{"file relay >= 100 MB/s (plugin hop, 20 concurrent)", "yes"},
		{"<= 256 KB buffered per transfer (plugin hop, 20 concurrent)", "yes"},
		{"login snapshot (200 contacts) on the wire", "yes"},
	} {
		if got := met(row(t, rows, c.prefix)); got != c.want {
			t.Errorf("%s: met %s, want %s", c.prefix, got, c.want)
		}
	}
	if r := row(t, rows, "— of them attached"); !strings.Contains(r.Note, "100000 requested, 19800 reached (RLIMIT_NOFILE 20000)") {
		t.Errorf("the attached row does not say why it stopped: %q", r.Note)
	}

	m.Storm = &stormResult{Requested: 10000, Devices: 10000, Seconds: 6, Failed: 3, FirstFailure: "tls handshake: EOF"}
	m.Held = &heldSessions{Attached: 19800, Cached: 99999}
	m.Limits = nil
	rows = targets(m)
	if r := row(t, rows, "10000-device reconnect storm"); met(r) != "NO" || !strings.Contains(r.Note, "tls handshake: EOF") {
		t.Errorf("a storm where resumes failed: %+v", r)
	}
	m.Storm = &stormResult{Requested: 10000, Devices: 10000, Seconds: 6, Lost: 1}
	if got := met(row(t, targets(m), "10000-device reconnect storm")); got != "NO" {
		t.Errorf("a storm that lost a message is judged %s", got)
	}
	if got := met(row(t, rows, "100000 sessions held")); got != "NO" {
		t.Errorf("99,999 held is judged %s", got)
	}
	if got := met(row(t, rows, "— of them attached")); got != "NO" {
		t.Errorf("attached short of the target with no machine limit is judged %s", got)
	}
	m.Storm = &stormResult{Requested: 10000, Devices: 5000, Seconds: 3}
	if r := row(t, targets(m), "10000-device reconnect storm"); met(r) != "not judged" || !strings.Contains(r.Note, "5000 reached") {
		t.Errorf("a storm of 5,000 says nothing about a 10,000-device target: %+v", r)
	}
}

func TestTargetsOnlyForWhatWasMeasured(t *testing.T) {
	if rows := targets(measurements{}); len(rows) != 0 {
		t.Fatalf("an empty run has target rows: %+v", rows)
	}
	rows := targets(measurements{Wire: &wireBytes{Contacts: 200, Compressed: 3000, Uncompressed: 7000}})
	if len(rows) != 1 {
		t.Fatalf("only the wire target was measured, got %+v", rows)
	}
}

func TestTargetsAreInTheTableAndTheJSON(t *testing.T) {
	rep := &report{Measured: measurements{Wire: &wireBytes{Contacts: 200, Compressed: 3000, Uncompressed: 7000}}}
	rep.Targets = targets(rep.Measured)
	var table bytes.Buffer
	rep.writeTable(&table)
	if !strings.Contains(table.String(), "target") || !strings.Contains(table.String(), "baseline (same run)") ||
		!strings.Contains(table.String(), "3000 B = 43%") {
		t.Errorf("table:\n%s", table.String())
	}
	var out bytes.Buffer
	if err := rep.writeJSON(&out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Targets []struct {
			Target string `json:"target"`
			Met    *bool  `json:"met"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Targets) != 1 || got.Targets[0].Met == nil || !*got.Targets[0].Met {
		t.Errorf("JSON targets: %+v", got.Targets)
	}
}

func TestHalfLoadNeedsTheMaximumBeforeIt(t *testing.T) {
	got, err := parseLoads("max,half,10000")
	if err != nil || len(got) != 3 || got[0] != 0 || got[1] != halfLoad || got[2] != 10000 {
		t.Fatalf("parseLoads = %v, %v", got, err)
	}
	if _, err := parseLoads("half,max"); err == nil {
		t.Error("half before max accepted")
	}
}

func TestSessionCapacityIsTheSmallestLimitLessTheReserve(t *testing.T) {
	if got := sessionCapacity(20000, 20000); got != 20000-fdReserve {
		t.Errorf("capacity %d", got)
	}
	if got := sessionCapacity(200000, 50000, 0); got != 50000-fdReserve {
		t.Errorf("a child with a lower limit: capacity %d", got)
	}
	if got := sessionCapacity(100); got != 0 {
		t.Errorf("below the reserve: capacity %d", got)
	}
}

func TestMemoryUsersAreShardedOverBackends(t *testing.T) {
	spec := gatewaySpec{memoryUsers: numbered("u", 25), memoryShard: 10}
	for i, want := range map[int]string{0: "memory", 9: "memory", 10: "memory-2", 24: "memory-3"} {
		if got := spec.memoryBackend(i); got != want {
			t.Errorf("user %d on %s, want %s", i, got, want)
		}
	}
	cfg := gatewayConfig("/bin", "/data", 1, spec)
	if n := strings.Count(cfg, `plugin = "parley-backend-memory"`); n != 3 {
		t.Errorf("%d memory backends in the configuration, want 3:\n%s", n, cfg)
	}
	if strings.Count(cfg, "{ id = ") != 25 {
		t.Errorf("not every user is in the configuration")
	}
}

func TestRaiseNoFileLiftsTheSoftLimitToTheHardOne(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Skip(err)
	}
	got := raiseNoFile(1)
	var after syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after); err != nil {
		t.Fatal(err)
	}
	if got != after.Cur || after.Cur != after.Max {
		t.Errorf("raiseNoFile(1) = %d; soft %d, hard %d: the soft limit should be the hard one", got, after.Cur, after.Max)
	}
	if after.Max < before.Max {
		t.Errorf("the hard limit went down from %d to %d", before.Max, after.Max)
	}
}

// T8's 5 MB transfer gets rows of its own, and the live heap of parleyd
// is judged beside its RSS, each row saying how it was measured.
func TestFileRowsNameT8SizeAndLiveHeap(t *testing.T) {
	rows := targets(measurements{File: []fileRun{
		{Path: "via parleyd", Transfers: 1, SizeMB: 5, MBps: 104, BufferedKB: 900, BufferedWhat: "rss", LiveKB: 200, LiveWhat: "live"},
		{Path: "via parleyd", Transfers: 1, MBps: 96, BufferedKB: 1400, BufferedWhat: "rss"},
	}})
	for _, c := range []struct{ prefix, want, measured, note string }{
		{"file relay >= 100 MB/s (via parleyd, 1 transfer of 5 MB)", "yes", "104 MB/s", ""},
		{"<= 256 KB buffered per transfer (via parleyd, 1 transfer of 5 MB)", "NO", "900 KB", "rss"},
		{"<= 256 KB buffered per transfer (via parleyd, live heap, 1 transfer of 5 MB)", "yes", "200 KB", "live"},
		{"file relay >= 100 MB/s (via parleyd, 1 transfer)", "NO", "96 MB/s", ""},
	} {
		r := row(t, rows, c.prefix)
		if met(r) != c.want || r.Measured != c.measured || r.Note != c.note {
			t.Errorf("%s: %+v, want met %s, measured %s, note %q", c.prefix, r, c.want, c.measured, c.note)
		}
	}
	for _, r := range rows {
		if strings.Contains(r.Target, "live heap, 1 transfer)") {
			t.Errorf("a live heap row for a run without one: %+v", r)
		}
	}
}
