package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// figure is one measured number, with the baseline measured in the same
// run and the target it is judged against.
type figure struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Baseline is the same measure without the gateway (direct to the IM
	// server or the plugin), when there is one.
	Baseline     *float64 `json:"baseline,omitempty"`
	BaselineName string   `json:"baseline_name,omitempty"`
	// Ratio is Value / Baseline.
	Ratio *float64 `json:"ratio,omitempty"`
	// Target is the goal in words, Met whether Value reaches it.
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	// LoadAvg is the machine's 1-minute load average when measured.
	LoadAvg float64 `json:"load_avg"`
	Note    string  `json:"note,omitempty"`
}

// report collects the figures of a run.
type report struct {
	Started time.Time `json:"started"`
	Host    hostInfo  `json:"host"`
	Figures []figure  `json:"figures"`
	// Targets is the summary against issue 7, computed from Measured.
	Targets  []targetRow  `json:"targets"`
	Measured measurements `json:"measurements"`
	Problems []string     `json:"problems,omitempty"`
	// Elapsed is how long the whole run took, in seconds.
	Elapsed float64 `json:"elapsed_s"`
}

type hostInfo struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	NoFile    uint64 `json:"rlimit_nofile"`
}

// add records a figure; use the with* helpers for the optional parts.
func (r *report) add(f figure) {
	if f.LoadAvg == 0 {
		f.LoadAvg = loadAvg()
	}
	if f.Baseline != nil && *f.Baseline != 0 {
		ratio := f.Value / *f.Baseline
		f.Ratio = &ratio
	}
	r.Figures = append(r.Figures, f)
}

func (r *report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

func ptr[T any](v T) *T { return &v }

// atMost and atLeast judge a value against a target.
func atMost(v, limit float64) *bool  { return ptr(v <= limit) }
func atLeast(v, limit float64) *bool { return ptr(v >= limit) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeTable prints the figures for a terminal.
func (r *report) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "scenario\tmeasure\tvalue\tbaseline\tratio\ttarget\tmet\tload\t")
	for _, f := range r.Figures {
		base, ratio, met := "", "", ""
		if f.Baseline != nil {
			base = num(*f.Baseline)
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2fx", *f.Ratio)
		}
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*f.Met]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\t%.1f\t\n", f.Scenario, f.Name, num(f.Value), f.Unit, base, ratio, f.Target, met, f.LoadAvg)
	}
	tw.Flush()
	notes := false
	for _, f := range r.Figures {
		if f.Note == "" {
			continue
		}
		if !notes {
			fmt.Fprintln(w, "\nnotes:")
			notes = true
		}
		fmt.Fprintf(w, "  %s / %s: %s\n", f.Scenario, f.Name, f.Note)
	}
	writeTargets(w, r.Targets)
	if r.Elapsed > 0 {
		fmt.Fprintf(w, "\nthe run took %v (load average now %.2f)\n", time.Duration(r.Elapsed*float64(time.Second)).Round(time.Second), loadAvg())
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(w, "\nproblems:")
		for _, p := range r.Problems {
			fmt.Fprintln(w, "  "+p)
		}
	}
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// durations summarises a set of durations.
type durations []time.Duration

// pct returns the q-quantile (0..1) by the nearest-rank method.
func (d durations) pct(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// summary is "p50 a / p99 b / max c" in milliseconds.
func (d durations) summary() string {
	if len(d) == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %.3f ms, p99 %.3f ms, max %.3f ms (n=%d)", ms(d.pct(0.5)), ms(d.pct(0.99)), ms(d.pct(1)), len(d))
}

// cpuShares formats CPU use per process over an interval, in cores.
func cpuShares(names []string, used []time.Duration, wall time.Duration) string {
	parts := make([]string, 0, len(names))
	for i, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, used[i].Seconds()/wall.Seconds()))
	}
	return "CPU cores: " + strings.Join(parts, ", ")
}
