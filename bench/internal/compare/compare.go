// Package compare runs the benchmark servers side by side: each
// implementation in its own process, the same closed-loop load generator
// (devpeer.Bench, acting as the peer over mTLS) against each in turn,
// alternating implementations within every round so that machine noise
// hits all alike, and reports medians over rounds with ratios.
package compare

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ccserver/ccserver/bench/internal/benchcc"
	"github.com/ccserver/ccserver/bench/internal/benchpki"
	"github.com/ccserver/ccserver/bench/internal/stats"
	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/devpeer"
)

// The implementations, as the server binary names them.
const (
	Ours   = "ours"
	Anchor = "anchor"
	Raw    = "raw"
	// Lean is the protocol bound the targets refer to (package lean); Raw
	// stays as the generated-code reference.
	Lean = "lean"
	// Leansync is the control for the synchronous stub API: lean's codec
	// and frames with a worker per transaction in flight, a routing map and
	// a send lock (lean.RegisterSync). Not run by default; the tables show
	// ours ÷ leansync when it ran.
	Leansync = "leansync"
)

// CCID is the package id every benchmark server registers with.
const CCID = "bench_1.0:0000"

// Config describes a comparison.
type Config struct {
	// ServerBin is the path of the bench/cmd/server binary.
	ServerBin string
	// Dir holds the generated PKI and any profiles.
	Dir         string
	Impls       []string
	Funcs       []string
	Concurrency []int
	Connections []int
	Rounds      int
	Duration    time.Duration
	Warmup      time.Duration
	// Profile writes CPU and allocation profiles of every server into Dir
	// (<impl>.cpu.pprof, <impl>.allocs.pprof).
	Profile bool
	// MemProfileRate, with Profile, is the servers' runtime.MemProfileRate
	// (1 records every allocation: exact counts, but it slows the server, so
	// read the CPU figures of such a run with care). 0 keeps Go's default.
	MemProfileRate int
	// ServerCPUs, if set, runs every server under `taskset -c ServerCPUs`
	// (run the load generator itself on the other CPUs), so that on a small
	// machine the servers do not compete with the generator for CPU.
	ServerCPUs string
	// Log receives one line per run (nil: silent).
	Log io.Writer
}

// Cell is one load setting.
type Cell struct {
	Func        string `json:"func"`
	Concurrency int    `json:"concurrency"`
	Connections int    `json:"connections"`
}

// Run is one measurement of one implementation in one cell.
type Run struct {
	Cell
	Impl        string        `json:"impl"`
	Round       int           `json:"round"`
	TxPerSecond float64       `json:"tx_per_second"`
	P99         time.Duration `json:"p99_ns"`
	ServerCPU   time.Duration `json:"server_cpu_per_tx_ns"`
	LoadCPU     time.Duration `json:"load_generator_cpu_per_tx_ns"`
	Allocs      float64       `json:"allocs_per_tx"`
	Goroutines  uint64        `json:"server_goroutines_after"`
	Errors      int64         `json:"errors"`
	// Steal is the share of the machine's CPU time the hypervisor took
	// during the measured window (-1: unknown).
	Steal float64 `json:"machine_steal_fraction"`
}

// Report holds every run.
type Report struct {
	Config Config `json:"-"`
	Runs   []Run  `json:"runs"`
}

// Cells lists the settings to run. Concurrency 1 over several connections
// is concurrency 1 over one (the generator never opens more connections
// than workers), so it is measured once.
func (c Config) Cells() []Cell {
	var out []Cell
	for _, f := range c.Funcs {
		for _, n := range c.Concurrency {
			for _, k := range c.Connections {
				if k > n {
					continue
				}
				out = append(out, Cell{f, n, k})
			}
		}
	}
	return out
}

// server is one running benchmark server process.
type server struct {
	cmd   *exec.Cmd
	ready struct {
		Impl, Addr, Stats string
		PID               int
	}
	done chan error
}

func startServer(ctx context.Context, bin, cpus, impl string, files benchpki.Files, profileDir string, memRate int, extra ...string) (*server, error) {
	args := append([]string{"-impl", impl, "-cert", files.ServerCert, "-key", files.ServerKey, "-client-ca", files.CA, "-ccid", CCID}, extra...)
	if profileDir != "" {
		args = append(args, "-cpuprofile", filepath.Join(profileDir, impl+".cpu.pprof"), "-memprofile", filepath.Join(profileDir, impl+".allocs.pprof"))
		if memRate > 0 {
			args = append(args, "-memprofilerate", strconv.Itoa(memRate))
		}
	}
	cmd := exec.Command(bin, args...)
	if cpus != "" {
		cmd = exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s server: %w", impl, err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	line := make(chan error, 1)
	go func() {
		r := bufio.NewReader(out)
		b, err := r.ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(b, &s.ready)
		}
		line <- err
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case err := <-line:
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("%s server did not report its address: %w", impl, err)
		}
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s server not ready after 60s", impl)
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	return s, nil
}

// stop asks the server to end (it writes its profiles) and waits.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Compare starts one server per implementation and runs every cell
// Rounds times, rotating the order of implementations each round.
func Compare(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Rounds < 1 || cfg.Duration <= 0 || len(cfg.Impls) == 0 || len(cfg.Cells()) == 0 {
		return nil, errors.New("compare needs at least one round, a positive duration, implementations and cells")
	}
	files, err := benchpki.Generate(cfg.Dir)
	if err != nil {
		return nil, err
	}
	ca, err1 := os.ReadFile(files.CA)
	cert, err2 := os.ReadFile(files.ClientCert)
	key, err3 := os.ReadFile(files.ClientKey)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	servers := map[string]*server{}
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, impl := range cfg.Impls {
		dir := ""
		if cfg.Profile {
			dir = cfg.Dir
		}
		s, err := startServer(ctx, cfg.ServerBin, cfg.ServerCPUs, impl, files, dir, cfg.MemProfileRate)
		if err != nil {
			return nil, err
		}
		servers[impl] = s
	}
	seed := benchcc.Seed()
	rep := &Report{Config: cfg}
	cells := cfg.Cells()
	total, done := cfg.Rounds*len(cells)*len(cfg.Impls), 0
	for round := range cfg.Rounds {
		for _, cell := range cells {
			for i := range cfg.Impls {
				impl := cfg.Impls[(i+round)%len(cfg.Impls)]
				s := servers[impl]
				conn := ccaas.Connection{Address: s.ready.Addr, DialTimeout: "20s", TLSRequired: true, ClientAuthRequired: true,
					RootCert: string(ca), ClientCert: string(cert), ClientKey: string(key)}
				r, err := measure(ctx, cfg, cell, s, conn, seed)
				if err != nil {
					return nil, fmt.Errorf("%s %s c%d x%d: %w", impl, cell.Func, cell.Concurrency, cell.Connections, err)
				}
				r.Impl, r.Round = impl, round
				rep.Runs = append(rep.Runs, r)
				done++
				if cfg.Log != nil {
					fmt.Fprintf(cfg.Log, "[%d/%d] round %d %-6s c%-2d x%d %-8s %8.0f tx/s  p99 %7s  cpu %6.1fµs/tx  allocs %6.1f/tx  load-cpu %6.1fµs/tx  errors %d%s\n",
						done, total, round+1, cell.Func, cell.Concurrency, cell.Connections, impl, r.TxPerSecond, r.P99.Round(10*time.Microsecond),
						micros(r.ServerCPU), r.Allocs, micros(r.LoadCPU), r.Errors, stealNote(r.Steal))
				}
			}
		}
	}
	return rep, nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func measure(ctx context.Context, cfg Config, cell Cell, s *server, conn ccaas.Connection, seed map[string][]byte) (Run, error) {
	var s0 stats.Snapshot
	var statsErr error
	var load0 time.Duration
	var cpu0 cpuTimes
	var cpuErr0 error
	res, err := devpeer.Bench(ctx, devpeer.BenchConfig{
		Conn: conn, CCID: CCID, ChannelID: "bench",
		Concurrency: cell.Concurrency, Connections: cell.Connections,
		Duration: cfg.Duration, Warmup: cfg.Warmup,
		Mix:       []devpeer.MixEntry{{Args: [][]byte{[]byte(cell.Func)}, Weight: 1}},
		ServerPID: s.ready.PID, Seed: seed, Unsigned: true,
		OnMeasure: func() {
			s0, statsErr = stats.Fetch(nil, s.ready.Stats)
			load0, _ = devpeer.ProcessCPU(os.Getpid())
			cpu0, cpuErr0 = readCPUTimes()
		},
	})
	if err != nil {
		return Run{}, err
	}
	load1, _ := devpeer.ProcessCPU(os.Getpid())
	cpu1, cpuErr1 := readCPUTimes()
	if statsErr != nil {
		return Run{}, statsErr
	}
	s1, err := stats.Fetch(nil, s.ready.Stats)
	if err != nil {
		return Run{}, err
	}
	if res.Transactions == 0 {
		return Run{}, errors.New("no transaction completed")
	}
	if res.Errors > 0 {
		return Run{}, fmt.Errorf("%d of %d transactions failed, first: %s", res.Errors, res.Transactions, res.FirstError)
	}
	n := float64(res.Transactions)
	return Run{
		Cell:        cell,
		TxPerSecond: res.Throughput,
		P99:         res.P99,
		ServerCPU:   res.ServerCPUPer1000 / 1000,
		LoadCPU:     time.Duration(float64(load1-load0) / n),
		Allocs:      float64(s1.Allocs-s0.Allocs) / n,
		Goroutines:  s1.Goroutines,
		Steal:       stealFraction(cpu0, cpu1, cpuErr0, cpuErr1),
	}, nil
}

// Median is the per-cell, per-implementation median over rounds.
type Median struct {
	TxPerSecond float64
	P99         time.Duration
	ServerCPU   time.Duration
	LoadCPU     time.Duration
	Allocs      float64
}

// Medians returns the median of every metric, per cell and implementation.
func (r *Report) Medians() map[Cell]map[string]Median {
	group := map[Cell]map[string][]Run{}
	for _, run := range r.Runs {
		if group[run.Cell] == nil {
			group[run.Cell] = map[string][]Run{}
		}
		group[run.Cell][run.Impl] = append(group[run.Cell][run.Impl], run)
	}
	out := map[Cell]map[string]Median{}
	for cell, byImpl := range group {
		out[cell] = map[string]Median{}
		for impl, runs := range byImpl {
			out[cell][impl] = Median{
				TxPerSecond: median(runs, func(r Run) float64 { return r.TxPerSecond }),
				P99:         time.Duration(median(runs, func(r Run) float64 { return float64(r.P99) })),
				ServerCPU:   time.Duration(median(runs, func(r Run) float64 { return float64(r.ServerCPU) })),
				LoadCPU:     time.Duration(median(runs, func(r Run) float64 { return float64(r.LoadCPU) })),
				Allocs:      median(runs, func(r Run) float64 { return r.Allocs }),
			}
		}
	}
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

// stealNote flags a run the hypervisor took CPU from.
func stealNote(f float64) string {
	if f < 0.005 {
		return ""
	}
	return fmt.Sprintf("  steal %.0f%%", 100*f)
}
