package compare

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Check is one target of issue 3 evaluated on one cell.
type Check struct {
	Cell
	Name   string  // e.g. "throughput ours/raw"
	Ratio  float64 // measured
	Limit  float64
	AtMost bool // the ratio must be ≤ Limit (else ≥)
}

// Met reports whether the target holds.
func (c Check) Met() bool {
	if c.AtMost {
		return c.Ratio <= c.Limit
	}
	return c.Ratio >= c.Limit
}

func (c Check) String() string {
	op, verdict := "≥", "met"
	if c.AtMost {
		op = "≤"
	}
	if !c.Met() {
		verdict = "MISSED"
	}
	return fmt.Sprintf("%-6s c%d x%d  %-22s %5.2f %s %.2f  %s", c.Func, c.Concurrency, c.Connections, c.Name, c.Ratio, op, c.Limit, verdict)
}

// TargetConcurrency is where the targets apply.
const TargetConcurrency = 64

// Checks evaluates the targets on every cell at TargetConcurrency where
// all three implementations ran: throughput ≥ 0.9× raw and ≥ 1.8× anchor,
// server CPU per transaction ≤ 1.25× raw, p99 ≤ anchor's, and for range
// allocations per transaction ≤ 2× raw.
func (r *Report) Checks() []Check {
	var out []Check
	med := r.Medians()
	for _, cell := range r.Config.Cells() {
		m := med[cell]
		o, okO := m[Ours]
		a, okA := m[Anchor]
		w, okW := m[Raw]
		if cell.Concurrency != TargetConcurrency || !okO || !okA || !okW {
			continue
		}
		out = append(out,
			Check{cell, "throughput ours/raw", o.TxPerSecond / w.TxPerSecond, 0.9, false},
			Check{cell, "throughput ours/anchor", o.TxPerSecond / a.TxPerSecond, 1.8, false},
			Check{cell, "server CPU ours/raw", ratio(o.ServerCPU, w.ServerCPU), 1.25, true},
			Check{cell, "p99 ours/anchor", ratio(o.P99, a.P99), 1, true},
		)
		if cell.Func == "range" {
			out = append(out, Check{cell, "allocs ours/raw", o.Allocs / w.Allocs, 2, true})
		}
	}
	return out
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// WriteMarkdown writes the medians, the ratios and the target checks.
func (r *Report) WriteMarkdown(w io.Writer) {
	cfg := r.Config
	med := r.Medians()
	fmt.Fprintf(w, "Medians of %d rounds of %s (after %s warmup) per cell; implementations alternate within each round.\n\n", cfg.Rounds, cfg.Duration, cfg.Warmup)
	fmt.Fprintln(w, "| workload | conc × conns | impl | tx/s | p99 | server CPU µs/tx | server allocs/tx | load-gen CPU µs/tx |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|")
	for _, cell := range cfg.Cells() {
		for _, impl := range orderedImpls(cfg.Impls) {
			m, ok := med[cell][impl]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %d × %d | %s | %.0f | %s | %.1f | %.1f | %.1f |\n", cell.Func, cell.Concurrency, cell.Connections, impl,
				m.TxPerSecond, fmtDur(m.P99), micros(m.ServerCPU), m.Allocs, micros(m.LoadCPU))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios of medians (ours ÷ other; throughput: higher is better, the rest: lower is better).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | conc × conns | tx/s ÷ raw | tx/s ÷ anchor | CPU ÷ raw | CPU ÷ anchor | p99 ÷ anchor | allocs ÷ raw | allocs ÷ anchor |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, cell := range cfg.Cells() {
		m := med[cell]
		o, okO := m[Ours]
		a, okA := m[Anchor]
		x, okW := m[Raw]
		if !okO || !okA || !okW {
			continue
		}
		fmt.Fprintf(w, "| %s | %d × %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", cell.Func, cell.Concurrency, cell.Connections,
			o.TxPerSecond/x.TxPerSecond, o.TxPerSecond/a.TxPerSecond, ratio(o.ServerCPU, x.ServerCPU), ratio(o.ServerCPU, a.ServerCPU),
			ratio(o.P99, a.P99), o.Allocs/x.Allocs, o.Allocs/a.Allocs)
	}
	if checks := r.Checks(); len(checks) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Targets (concurrency %d):\n\n```\n", TargetConcurrency)
		missed := 0
		for _, c := range checks {
			fmt.Fprintln(w, c)
			if !c.Met() {
				missed++
			}
		}
		fmt.Fprintf(w, "```\n\n%d of %d targets met.\n", len(checks)-missed, len(checks))
	}
}

// orderedImpls reports ours, anchor, raw first, in that order.
func orderedImpls(impls []string) []string {
	rank := func(s string) int {
		if i := slices.Index([]string{Ours, Anchor, Raw}, s); i >= 0 {
			return i
		}
		return 3
	}
	out := slices.Clone(impls)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return strings.Replace(d.Round(time.Microsecond).String(), "µs", " µs", 1)
}
