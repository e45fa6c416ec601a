package compare

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// serverBin is the bench server, built once for the package's tests.
var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ccbench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "server")
	out, err := exec.Command("go", "build", "-o", serverBin, "github.com/ccserver/ccserver/bench/cmd/server").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build server: %v\n%s", err, out)
		os.Exit(1)
	}
	goleak.VerifyTestMain(cleanupAfter{m, func() { os.RemoveAll(dir) }})
}

// cleanupAfter runs the tests, then cleans up (goleak then exits).
type cleanupAfter struct {
	m       *testing.M
	cleanup func()
}

func (c cleanupAfter) Run() int {
	defer c.cleanup()
	return c.m.Run()
}

// TestCompareEndToEnd runs the five servers (the four of the published
// matrix and the leansync control) as processes over mTLS with the real
// load generator, every workload once, and checks that each reported real
// work: transactions without errors (the chaincode fails a range or a read
// that does not find the seeded state), server allocations, and a table
// with every row, ratio and target.
func TestCompareEndToEnd(t *testing.T) {
	var log bytes.Buffer
	cfg := Config{
		ServerBin: serverBin, Dir: t.TempDir(),
		Impls: []string{Ours, Anchor, Raw, Lean, Leansync}, Funcs: []string{"noop", "getput", "range"},
		Concurrency: []int{TargetConcurrency}, Connections: []int{2},
		Rounds: 1, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Log: &log,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	rep, err := Compare(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	if len(rep.Runs) != 15 {
		t.Fatalf("%d runs, want 15", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		if r.TxPerSecond <= 0 || r.Errors != 0 || r.P99 <= 0 || r.Allocs <= 0 || r.ServerCPU < 0 {
			t.Errorf("%s %s: implausible run %+v", r.Impl, r.Func, r)
		}
	}
	checks := rep.Checks()
	if len(checks) != 3*5+1 {
		t.Fatalf("%d target checks, want 16", len(checks))
	}
	for _, c := range checks {
		if math.IsNaN(c.Ratio) || math.IsInf(c.Ratio, 0) || c.Ratio <= 0 {
			t.Errorf("check %s has ratio %v", c.Name, c.Ratio)
		}
	}
	var md bytes.Buffer
	rep.WriteMarkdown(&md)
	for _, want := range []string{"| noop | 64 × 2 | ours |", "| range | 64 × 2 | anchor |", "| getput | 64 × 2 | raw |", "| noop | 64 × 2 | lean |", "| getput | 64 × 2 | leansync |", "| range | 64 × 2 | leansync |", "| range | 64 × 2 | ", "CPU ÷ leansync |", "leansync CPU ÷ lean |", "allocs ours/lean", "lean/anchor", "targets met"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, md.String())
		}
	}
}

// TestServerRefusesWithoutTLS: the server binary runs over mTLS only.
func TestServerRefusesWithoutTLS(t *testing.T) {
	out, err := exec.Command(serverBin, "-impl", "raw").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "-cert, -key and -client-ca are required") {
		t.Fatalf("err %v, output %s", err, out)
	}
}

func TestStartServerUnknownImpl(t *testing.T) {
	cfg := Config{ServerBin: serverBin, Dir: t.TempDir(), Impls: []string{"nosuch"}, Funcs: []string{"noop"},
		Concurrency: []int{1}, Connections: []int{1}, Rounds: 1, Duration: time.Millisecond}
	_, err := Compare(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "nosuch server did not report its address") {
		t.Fatalf("err = %v", err)
	}
}

func TestCells(t *testing.T) {
	cfg := Config{Funcs: []string{"noop", "range"}, Concurrency: []int{1, 64}, Connections: []int{1, 4}}
	var got []string
	for _, c := range cfg.Cells() {
		got = append(got, fmt.Sprintf("%s/%d/%d", c.Func, c.Concurrency, c.Connections))
	}
	want := "noop/1/1 noop/64/1 noop/64/4 range/1/1 range/64/1 range/64/4"
	if strings.Join(got, " ") != want {
		t.Fatalf("cells %v, want %s", got, want)
	}
}

func TestMedianAndChecks(t *testing.T) {
	cell := Cell{"range", TargetConcurrency, 1}
	var runs []Run
	for i, v := range []struct {
		impl   string
		tps    float64
		cpu    time.Duration
		allocs float64
	}{
		{Ours, 900, 10, 100}, {Ours, 1000, 12, 100}, {Ours, 5000, 11, 100},
		{Anchor, 500, 30, 700}, {Raw, 1000, 10, 200}, {Lean, 1050, 10, 40},
	} {
		runs = append(runs, Run{Cell: cell, Impl: v.impl, Round: i, TxPerSecond: v.tps, P99: time.Millisecond, ServerCPU: v.cpu, Allocs: v.allocs})
	}
	rep := &Report{Config: Config{Funcs: []string{"range"}, Concurrency: []int{TargetConcurrency}, Connections: []int{1}}, Runs: runs}
	if m := rep.Medians()[cell][Ours]; m.TxPerSecond != 1000 || m.ServerCPU != 11 {
		t.Fatalf("median %+v", m)
	}
	got := map[string]bool{}
	for _, c := range rep.Checks() {
		got[c.Name] = c.Met()
	}
	want := map[string]bool{"throughput ours/lean": true, "throughput ours/anchor": true, "throughput lean/anchor": true, "server CPU ours/lean": true, "p99 ours/anchor": true, "allocs ours/lean": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("checks %v, want %v", got, want)
	}
	rep.Runs[3].TxPerSecond = 600 // anchor now 600: ours/anchor 1.67 < 1.8
	for _, c := range rep.Checks() {
		if c.Name == "throughput ours/anchor" && c.Met() {
			t.Fatalf("%s reported met", c)
		}
	}
}

// TestMarkdownLeansync: the ratio table has the leansync columns only when
// leansync ran, and then ours ÷ leansync and leansync's CPU ÷ lean.
func TestMarkdownLeansync(t *testing.T) {
	cell := Cell{"getput", TargetConcurrency, 1}
	runs := []Run{
		{Cell: cell, Impl: Ours, TxPerSecond: 900, P99: time.Millisecond, ServerCPU: 30 * time.Microsecond, Allocs: 40},
		{Cell: cell, Impl: Lean, TxPerSecond: 1000, P99: time.Millisecond, ServerCPU: 20 * time.Microsecond, Allocs: 25},
		{Cell: cell, Impl: Leansync, TxPerSecond: 1200, P99: time.Millisecond, ServerCPU: 24 * time.Microsecond, Allocs: 20},
	}
	cfg := Config{Impls: []string{Ours, Lean, Leansync}, Funcs: []string{"getput"}, Concurrency: []int{TargetConcurrency}, Connections: []int{1}, Rounds: 1}
	var md bytes.Buffer
	(&Report{Config: cfg, Runs: runs}).WriteMarkdown(&md)
	for _, want := range []string{
		"| getput | 64 × 1 | leansync | 1200 |",
		"| allocs ÷ anchor | p99 ÷ anchor | tx/s ÷ leansync | CPU ÷ leansync | allocs ÷ leansync | leansync CPU ÷ lean |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
		"| getput | 64 × 1 | 0.90 | – | – | – | 1.50 | – | – | 1.60 | – | – | – | 0.75 | 1.25 | 2.00 | 1.20 |\n",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, md.String())
		}
	}
	cfg.Impls = []string{Ours, Lean}
	md.Reset()
	(&Report{Config: cfg, Runs: runs[:2]}).WriteMarkdown(&md)
	if strings.Contains(md.String(), "leansync") || !strings.Contains(md.String(), "| getput | 64 × 1 | 0.90 | – | – | – | 1.50 | – | – | 1.60 | – | – | – |\n") {
		t.Errorf("table without leansync:\n%s", md.String())
	}
}

// TestCosts measures the cost per peer of two servers with few streams:
// it checks the numbers are there, not what they are.
func TestCosts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	costs, err := MeasureCosts(ctx, CostConfig{ServerBin: serverBin, Dir: t.TempDir(), Impls: []string{Ours, Anchor}, Streams: 3, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range costs {
		if c.StartToReady <= 0 || c.GoroutinesPerStream <= 0 {
			t.Errorf("implausible %+v", c)
		}
	}
	var md bytes.Buffer
	WriteCostMarkdown(&md, costs)
	if !strings.Contains(md.String(), "| anchor |") {
		t.Errorf("table:\n%s", md.String())
	}
}
