package compare

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Check is one target evaluated on one cell.
type Check struct {
	Cell
	Name   string  // e.g. "throughput ours/lean"
	Ratio  float64 // measured
	Limit  float64
	AtMost bool // the ratio must be ≤ Limit (else ≥)
	// Info marks a figure shown beside the targets, not a target: what
	// the bound itself reaches against the anchor.
	Info bool
}

// Met reports whether the target holds.
func (c Check) Met() bool {
	if c.AtMost {
		return c.Ratio <= c.Limit
	}
	return c.Ratio >= c.Limit
}

func (c Check) String() string {
	if c.Info {
		return fmt.Sprintf("%-6s c%d x%d  %-22s %5.2f   (the bound's own figure, not a target)", c.Func, c.Concurrency, c.Connections, c.Name, c.Ratio)
	}
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

// The targets (issue 14), against the lean bound and the anchor.
const (
	MinThroughputVsLean   = 0.9
	MaxCPUVsLean          = 1.15
	MaxRangeAllocsVsLean  = 1.5
	MinThroughputVsAnchor = 1.8
)

// Checks evaluates the targets on every cell at TargetConcurrency where
// ours, the anchor and the lean bound ran: throughput ≥ 0.9× lean and
// ≥ 1.8× anchor (beside it, lean ÷ anchor: what the bound itself allows),
// server CPU per transaction ≤ 1.15× lean, p99 ≤ anchor's, and for range
// allocations per transaction ≤ 1.5× lean.
func (r *Report) Checks() []Check {
	var out []Check
	med := r.Medians()
	for _, cell := range r.Config.Cells() {
		m := med[cell]
		o, okO := m[Ours]
		a, okA := m[Anchor]
		l, okL := m[Lean]
		if cell.Concurrency != TargetConcurrency || !okO || !okA || !okL {
			continue
		}
		out = append(out,
			Check{Cell: cell, Name: "throughput ours/lean", Ratio: o.TxPerSecond / l.TxPerSecond, Limit: MinThroughputVsLean},
			Check{Cell: cell, Name: "throughput ours/anchor", Ratio: o.TxPerSecond / a.TxPerSecond, Limit: MinThroughputVsAnchor},
			Check{Cell: cell, Name: "throughput lean/anchor", Ratio: l.TxPerSecond / a.TxPerSecond, Info: true},
			Check{Cell: cell, Name: "server CPU ours/lean", Ratio: ratio(o.ServerCPU, l.ServerCPU), Limit: MaxCPUVsLean, AtMost: true},
			Check{Cell: cell, Name: "p99 ours/anchor", Ratio: ratio(o.P99, a.P99), Limit: 1, AtMost: true},
		)
		if cell.Func == "range" {
			out = append(out, Check{Cell: cell, Name: "allocs ours/lean", Ratio: o.Allocs / l.Allocs, Limit: MaxRangeAllocsVsLean, AtMost: true})
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
	if line := r.stealLine(); line != "" {
		fmt.Fprintln(w, line)
		fmt.Fprintln(w)
	}
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
	fmt.Fprintln(w, "Ratios of medians (ours ÷ other; throughput: higher is better, the rest: lower is better; – where one did not run).")
	fmt.Fprintln(w)
	// The leansync columns only when it ran, so that the default tables
	// stay as they were.
	withSync := slices.Contains(cfg.Impls, Leansync)
	header, align := "| workload | conc × conns | tx/s ÷ lean | tx/s ÷ raw | tx/s ÷ anchor | lean tx/s ÷ anchor | CPU ÷ lean | CPU ÷ raw | CPU ÷ anchor | allocs ÷ lean | allocs ÷ raw | allocs ÷ anchor | p99 ÷ anchor |",
		"|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	if withSync {
		header += " tx/s ÷ leansync | CPU ÷ leansync | allocs ÷ leansync | leansync CPU ÷ lean |"
		align += "--:|--:|--:|--:|"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, align)
	for _, cell := range cfg.Cells() {
		m := med[cell]
		o, ok := m[Ours]
		if !ok {
			continue
		}
		l, okL := m[Lean]
		x, okW := m[Raw]
		a, okA := m[Anchor]
		f := func(ok bool, v float64) string {
			if !ok {
				return "–"
			}
			return fmt.Sprintf("%.2f", v)
		}
		fmt.Fprintf(w, "| %s | %d × %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", cell.Func, cell.Concurrency, cell.Connections,
			f(okL, o.TxPerSecond/l.TxPerSecond), f(okW, o.TxPerSecond/x.TxPerSecond), f(okA, o.TxPerSecond/a.TxPerSecond), f(okL && okA, l.TxPerSecond/a.TxPerSecond),
			f(okL, ratio(o.ServerCPU, l.ServerCPU)), f(okW, ratio(o.ServerCPU, x.ServerCPU)), f(okA, ratio(o.ServerCPU, a.ServerCPU)),
			f(okL, o.Allocs/l.Allocs), f(okW, o.Allocs/x.Allocs), f(okA, o.Allocs/a.Allocs), f(okA, ratio(o.P99, a.P99)))
		if withSync {
			y, okY := m[Leansync]
			fmt.Fprintf(w, " %s | %s | %s | %s |", f(okY, o.TxPerSecond/y.TxPerSecond), f(okY, ratio(o.ServerCPU, y.ServerCPU)),
				f(okY, o.Allocs/y.Allocs), f(okY && okL, ratio(y.ServerCPU, l.ServerCPU)))
		}
		fmt.Fprintln(w)
	}
	if checks := r.Checks(); len(checks) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Targets (concurrency %d):\n\n```\n", TargetConcurrency)
		missed, targets := 0, 0
		for _, c := range checks {
			fmt.Fprintln(w, c)
			if c.Info {
				continue
			}
			targets++
			if !c.Met() {
				missed++
			}
		}
		fmt.Fprintf(w, "```\n\n%d of %d targets met.\n", targets-missed, targets)
	}
}

// orderedImpls reports ours, anchor, raw, lean, leansync first, in that
// order.
func orderedImpls(impls []string) []string {
	order := []string{Ours, Anchor, Raw, Lean, Leansync}
	rank := func(s string) int {
		if i := slices.Index(order, s); i >= 0 {
			return i
		}
		return len(order)
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

// stealLine summarises the CPU the hypervisor took during the runs, or ""
// when none was measured.
func (r *Report) stealLine() string {
	var fs []float64
	over := 0
	for _, run := range r.Runs {
		if run.Steal >= 0 {
			fs = append(fs, run.Steal)
			if run.Steal > 0.05 {
				over++
			}
		}
	}
	if len(fs) == 0 {
		return ""
	}
	sort.Float64s(fs)
	return fmt.Sprintf("CPU steal (the hypervisor's share of the machine's CPU time) per run: median %.1f %%, max %.1f %%; %d of %d runs above 5 %% (their CPU per transaction is inflated).",
		100*fs[len(fs)/2], 100*fs[len(fs)-1], over, len(fs))
}
