package devpeer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccserver/ccserver/internal/peerside"
)

// MixEntry is one function of a workload with its weight.
type MixEntry struct {
	Args   [][]byte // function name first
	Weight int
}

// ParseMix parses "noop=1,getput=2" (function=weight; weight defaults to
// 1). args are appended to every function's arguments.
func ParseMix(s string, args []string) ([]MixEntry, error) {
	var out []MixEntry
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		weight := 1
		if hasW {
			n, err := strconv.Atoi(w)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("mix entry %q: weight must be a non-negative integer", part)
			}
			weight = n
		}
		if name == "" {
			return nil, fmt.Errorf("mix entry %q: empty function name", part)
		}
		e := MixEntry{Args: [][]byte{[]byte(name)}, Weight: weight}
		for _, a := range args {
			e.Args = append(e.Args, []byte(a))
		}
		out = append(out, e)
	}
	total := 0
	for _, e := range out {
		total += e.Weight
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q has no function with a positive weight (e.g. noop=1,getput=1)", s)
	}
	return out, nil
}

// BenchConfig describes a closed-loop load run: Concurrency workers spread
// over Connections streams, each sending its next transaction as soon as
// the previous one completed, for Duration.
type BenchConfig struct {
	Conn        *Connection
	CCID        string
	ChannelID   string
	Concurrency int
	Connections int
	Duration    time.Duration
	Mix         []MixEntry
	// ServerPID, if > 0, is read from /proc to report server CPU.
	ServerPID int
	// Progress, if set, is called every ProgressEvery with totals so far.
	Progress      func(BenchProgress)
	ProgressEvery time.Duration
}

// BenchProgress is a running total.
type BenchProgress struct {
	Elapsed      time.Duration
	Transactions int64
	Errors       int64
}

// BenchResult summarises a run.
type BenchResult struct {
	Transactions int64         `json:"transactions"`
	Errors       int64         `json:"errors"`
	FirstError   string        `json:"first_error,omitempty"`
	Elapsed      time.Duration `json:"elapsed_ns"`
	Throughput   float64       `json:"tx_per_second"`
	P50          time.Duration `json:"p50_ns"`
	P99          time.Duration `json:"p99_ns"`
	Max          time.Duration `json:"max_ns"`
	Concurrency  int           `json:"concurrency"`
	Connections  int           `json:"connections"`
	// ServerCPUPer1000 is server user+system CPU per 1000 transactions
	// (only with ServerPID).
	ServerCPUPer1000 time.Duration `json:"server_cpu_per_1000_tx_ns,omitempty"`
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcessCPU returns user+system CPU time of a process from /proc.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read server CPU: %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("read server CPU: unexpected /proc/%d/stat format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("read server CPU: unexpected /proc/%d/stat format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("read server CPU: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// Bench runs the load and returns its summary. Nothing is committed: every
// transaction is simulated against the same empty in-memory state, as an
// endorsing peer does.
func Bench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	if cfg.Concurrency < 1 || cfg.Connections < 1 || cfg.Duration <= 0 || len(cfg.Mix) == 0 {
		return nil, errors.New("bench needs concurrency ≥ 1, connections ≥ 1, a positive duration and a mix")
	}
	conns := min(cfg.Connections, cfg.Concurrency)
	store := peerside.NewMemStore()
	var clients []*Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	opts := []peerside.Option{peerside.WithStore(store)}
	if cfg.CCID != "" {
		opts = append(opts, peerside.WithCCID(cfg.CCID))
	}
	for range conns {
		c, err := Dial(ctx, cfg.Conn, opts...)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	var cpu0 time.Duration
	if cfg.ServerPID > 0 {
		var err error
		if cpu0, err = ProcessCPU(cfg.ServerPID); err != nil {
			return nil, err
		}
	}
	totalWeight := 0
	for _, e := range cfg.Mix {
		totalWeight += e.Weight
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var txs, errs atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			cl := clients[w%len(clients)]
			for runCtx.Err() == nil {
				e := pick(cfg.Mix, rng.IntN(totalWeight))
				t0 := time.Now()
				res, err := cl.Execute(runCtx, &peerside.Tx{ChannelID: cfg.ChannelID, Args: e.Args})
				if runCtx.Err() != nil {
					return // the run ended during this transaction: not counted
				}
				lat[w] = append(lat[w], time.Since(t0))
				txs.Add(1)
				if err == nil && res.Response.Status >= 400 {
					err = fmt.Errorf("%s: status %d: %s", e.Args[0], res.Response.Status, res.Response.Message)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	if cfg.Progress != nil {
		every := cfg.ProgressEvery
		if every <= 0 {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
	loop:
		for {
			select {
			case <-runCtx.Done():
				break loop
			case <-t.C:
				cfg.Progress(BenchProgress{Elapsed: time.Since(start), Transactions: txs.Load(), Errors: errs.Load()})
			}
		}
		t.Stop()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := &BenchResult{Transactions: txs.Load(), Errors: errs.Load(), Elapsed: elapsed, Concurrency: cfg.Concurrency, Connections: conns}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	res.Throughput = float64(res.Transactions) / elapsed.Seconds()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if n := len(all); n > 0 {
		res.P50, res.P99, res.Max = all[(n-1)*50/100], all[(n-1)*99/100], all[n-1]
	}
	if cfg.ServerPID > 0 && res.Transactions > 0 {
		cpu1, err := ProcessCPU(cfg.ServerPID)
		if err != nil {
			return nil, err
		}
		res.ServerCPUPer1000 = (cpu1 - cpu0) * 1000 / time.Duration(res.Transactions)
	}
	return res, nil
}

func pick(mix []MixEntry, n int) MixEntry {
	for _, e := range mix {
		if n < e.Weight {
			return e
		}
		n -= e.Weight
	}
	return mix[len(mix)-1]
}
