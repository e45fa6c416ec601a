package peerbench

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is a whole benchmark: every run, in the order they ran.
type Report struct {
	Config  Config
	Fabric  string // the Fabric version
	Runs    []Run
	Start   time.Time
	Elapsed time.Duration
	// LoadStart and LoadEnd are /proc/loadavg before and after.
	LoadStart, LoadEnd [3]float64
}

// Median is the median over the rounds of one workload on one
// implementation, each figure on its own; Errors is the sum.
type Median struct {
	Runs        int
	TxPerSecond float64
	P50, P99    time.Duration
	CPU         map[string]time.Duration
	Errors      int64
}

// Medians returns the medians by workload and implementation.
func (r *Report) Medians() map[string]map[string]Median {
	out := map[string]map[string]Median{}
	for _, w := range r.Config.Workloads {
		for _, impl := range r.impls() {
			var runs []Run
			for _, run := range r.Runs {
				if run.Workload == w && run.Impl == impl {
					runs = append(runs, run)
				}
			}
			if len(runs) == 0 {
				continue
			}
			m := Median{Runs: len(runs), CPU: map[string]time.Duration{},
				TxPerSecond: median(runs, func(r Run) float64 { return r.TxPerSecond }),
				P50:         time.Duration(median(runs, func(r Run) float64 { return float64(r.P50) })),
				P99:         time.Duration(median(runs, func(r Run) float64 { return float64(r.P99) })),
			}
			for _, p := range procs {
				m.CPU[p] = time.Duration(median(runs, func(r Run) float64 { return float64(r.CPU[p]) }))
			}
			for _, run := range runs {
				m.Errors += run.Errors
			}
			if out[w] == nil {
				out[w] = map[string]Median{}
			}
			out[w][impl] = m
		}
	}
	return out
}

// impls are the implementations that ran, ours and anchor first.
func (r *Report) impls() []string {
	var out []string
	for _, run := range r.Runs {
		if !slices.Contains(out, run.Impl) {
			out = append(out, run.Impl)
		}
	}
	rank := func(s string) int {
		if i := slices.Index(Impls, s); i >= 0 {
			return i
		}
		return len(Impls)
	}
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}

func median(runs []Run, f func(Run) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Loads returns the minimum, median and maximum of the runs' 1-minute
// load averages.
func (r *Report) Loads() (lo, med, hi float64) {
	if len(r.Runs) == 0 {
		return
	}
	v := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		v[i] = run.Load1
	}
	slices.Sort(v)
	return v[0], median(r.Runs, func(r Run) float64 { return r.Load1 }), v[len(v)-1]
}

// WriteMarkdown writes the setting, the medians, the ratios and every run.
func (r *Report) WriteMarkdown(w io.Writer) {
	cfg := r.Config
	lo, med, hi := r.Loads()
	fmt.Fprintf(w, "Fabric %s: one org, one peer, one etcdraft orderer on loopback; %d gateway workers in a closed loop; "+
		"medians of %d rounds of %s (after %s warmup) per run; %s alternate within each round, the first one rotating. "+
		"%s, %d CPUs, %s in all. Load average (1 min) over the runs: min %.2f, median %.2f, max %.2f (before: %.2f %.2f %.2f; after: %.2f %.2f %.2f).\n\n",
		r.Fabric, cfg.Workers, cfg.Rounds, cfg.Duration, cfg.Warmup, strings.Join(r.impls(), " and "),
		runtime.Version(), runtime.NumCPU(), r.Elapsed.Round(time.Second), lo, med, hi,
		r.LoadStart[0], r.LoadStart[1], r.LoadStart[2], r.LoadEnd[0], r.LoadEnd[1], r.LoadEnd[2])

	meds := r.Medians()
	fmt.Fprintln(w, "| workload | impl | tx/s | p50 | p99 | chaincode CPU µs/tx | peer CPU µs/tx | orderer CPU µs/tx | client CPU µs/tx | errors |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, wl := range cfg.Workloads {
		for _, impl := range r.impls() {
			m, ok := meds[wl][impl]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %.1f | %.1f | %s | %.1f | %d |\n", wl, impl, m.TxPerSecond, fmtDur(m.P50), fmtDur(m.P99),
				micros(m.CPU[ProcChaincode]), micros(m.CPU[ProcPeer]), ordererCell(wl, m.CPU[ProcOrderer]), micros(m.CPU[ProcClient]), m.Errors)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios of medians, ours ÷ anchor (tx/s: higher is better; the rest: lower is better). "+
		"\"chaincode + peer\" is the sum of the two CPU medians, the endorsing side's cost per transaction.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | tx/s | p50 | p99 | chaincode CPU | peer CPU | chaincode + peer CPU | orderer CPU |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, wl := range cfg.Workloads {
		o, okO := meds[wl][Ours]
		a, okA := meds[wl][Anchor]
		if !okO || !okA {
			continue
		}
		orderer := "–"
		if Submits(wl) {
			orderer = ratio(float64(o.CPU[ProcOrderer]), float64(a.CPU[ProcOrderer]))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", wl,
			ratio(o.TxPerSecond, a.TxPerSecond), ratio(float64(o.P50), float64(a.P50)), ratio(float64(o.P99), float64(a.P99)),
			ratio(float64(o.CPU[ProcChaincode]), float64(a.CPU[ProcChaincode])), ratio(float64(o.CPU[ProcPeer]), float64(a.CPU[ProcPeer])),
			ratio(float64(o.CPU[ProcChaincode]+o.CPU[ProcPeer]), float64(a.CPU[ProcChaincode]+a.CPU[ProcPeer])), orderer)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every run, in the order they ran (CPU in µs per transaction).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | round | impl | tx | tx/s | p50 | p99 | chaincode | peer | orderer | client | errors | load 1 min |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, run := range r.Runs {
		fmt.Fprintf(w, "| %s | %d | %s | %d | %.0f | %s | %s | %.1f | %.1f | %s | %.1f | %d | %.2f |\n", run.Workload, run.Round, run.Impl, run.Tx,
			run.TxPerSecond, fmtDur(run.P50), fmtDur(run.P99), micros(run.CPU[ProcChaincode]), micros(run.CPU[ProcPeer]),
			ordererCell(run.Workload, run.CPU[ProcOrderer]), micros(run.CPU[ProcClient]), run.Errors, run.Load1)
	}
	for _, run := range r.Runs {
		if len(run.Coarse) > 0 {
			fmt.Fprintf(w, "\nCPU of %s in %s round %d %s from /proc/<pid>/stat's 10 ms ticks (a thread ended in the window).\n",
				strings.Join(run.Coarse, ", "), run.Workload, run.Round, run.Impl)
		}
		if run.FirstError != "" {
			fmt.Fprintf(w, "\nFirst error of %s round %d %s: %s\n", run.Workload, run.Round, run.Impl, run.FirstError)
		}
	}
}

// ordererCell shows the orderer's CPU for submits only: evaluations never
// reach it, and its idle CPU divided by their count is noise.
func ordererCell(workload string, d time.Duration) string {
	if !Submits(workload) {
		return "–"
	}
	return fmt.Sprintf("%.1f", micros(d))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return strings.Replace(d.Round(time.Microsecond).String(), "µs", " µs", 1)
}
