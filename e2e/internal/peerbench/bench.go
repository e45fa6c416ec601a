// Package peerbench is the end-to-end benchmark of issue 14: the same
// chaincode (package benchcc) served by our shim and by
// fabric-chaincode-go v2.3.0, each in its own chaincode server process,
// driven through a real Fabric peer by the Fabric Gateway client in a
// closed loop, the two alternating, with throughput, latency and the CPU
// per transaction of the chaincode server, the peer, the orderer and the
// client. cmd/peerbench runs it on a network of its own; the e2e tests
// run it briefly on theirs (TestPeerBenchSmoke). Nothing here asserts a
// timing.
package peerbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"
)

// Workloads are the benchmark's workloads, in the order they run and are
// reported: get and range are evaluated (the peer endorses, nothing is
// ordered), put is submitted and waited for until committed.
var Workloads = []string{"get", "put", "range"}

// Submits reports whether a workload is submitted (ordered and committed).
func Submits(workload string) bool { return workload == "put" }

// Config is what to run.
type Config struct {
	Workloads []string      // default Workloads
	Rounds    int           // default 3
	Duration  time.Duration // measured window of every run; default 5s
	Warmup    time.Duration // unmeasured closed loop before it (0: none)
	Workers   int           // closed-loop gateway workers; default 16
	// Logf, if set, hears one line per run as it finishes.
	Logf func(format string, args ...any)
}

func (c Config) withDefaults() Config {
	if len(c.Workloads) == 0 {
		c.Workloads = Workloads
	}
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// The processes whose CPU is measured, in the order they are reported.
const (
	ProcChaincode = "chaincode" // the server of the implementation running
	ProcPeer      = "peer"
	ProcOrderer   = "orderer"
	ProcClient    = "client" // this process: the gateway client's workers
)

var procs = []string{ProcChaincode, ProcPeer, ProcOrderer, ProcClient}

// Run is one closed-loop run of one workload on one implementation.
type Run struct {
	Workload string
	Impl     string
	Round    int  // from 1
	First    bool // went first in its round
	// Tx counts transactions that completed successfully in the measured
	// window; Errors the failures from the start of the warmup to the end.
	Tx, Errors int64
	FirstError string
	Window     time.Duration
	// TxPerSecond is Tx over Window; P50 and P99 are latencies of the
	// window's transactions as the client saw them (for put: endorsed,
	// ordered and committed).
	TxPerSecond float64
	P50, P99    time.Duration
	// CPU per transaction in the window, by process (Proc*).
	CPU map[string]time.Duration
	// Coarse names the processes whose CPU came from /proc/<pid>/stat's
	// 10 ms ticks because their threads' times did not add up (a thread
	// ended in the window); normally none.
	Coarse []string
	// Load1 is the 1-minute load average at the end of the run.
	Load1 float64
}

// Bench runs cfg against the chaincodes (one per implementation, from
// Deploy) through gw, a gateway connection to net's peer: for each
// workload, Rounds rounds, in each one run per implementation, the first
// one alternating from round to round.
func Bench(ctx context.Context, cfg Config, net *network.Network, gw *network.Gateway, ccs []*Chaincode) (*Report, error) {
	cfg = cfg.withDefaults()
	if len(ccs) == 0 {
		return nil, errors.New("no chaincode to run")
	}
	for _, w := range cfg.Workloads {
		if !slices.Contains(Workloads, w) {
			return nil, fmt.Errorf("unknown workload %q: want some of %s", w, strings.Join(Workloads, ","))
		}
	}
	rep := &Report{Config: cfg, Fabric: net.Fabric.Version, Start: time.Now(), LoadStart: loadAvg()}
	for _, w := range cfg.Workloads {
		for round := 1; round <= cfg.Rounds; round++ {
			for i := range ccs {
				// Round 1: the given order; round 2: reversed; and so on.
				k := i
				if round%2 == 0 {
					k = len(ccs) - 1 - i
				}
				r, err := runOnce(ctx, cfg, net, gw, ccs[k], w)
				if err != nil {
					return nil, err
				}
				r.Round, r.First = round, i == 0
				rep.Runs = append(rep.Runs, r)
				cfg.Logf("%-5s round %d %-6s %7.1f tx/s  p50 %-8s p99 %-8s  µs/tx: chaincode %.1f peer %.1f orderer %.1f client %.1f  errors %d  load %.2f",
					w, round, r.Impl, r.TxPerSecond, fmtDur(r.P50), fmtDur(r.P99), micros(r.CPU[ProcChaincode]), micros(r.CPU[ProcPeer]),
					micros(r.CPU[ProcOrderer]), micros(r.CPU[ProcClient]), r.Errors, r.Load1)
			}
		}
	}
	rep.Elapsed = time.Since(rep.Start)
	rep.LoadEnd = loadAvg()
	return rep, nil
}

// Measurement phases of a run.
const (
	warming = iota
	measuring
	stopping
)

// runOnce runs one closed loop: Workers goroutines, each sending its next
// transaction when the previous one returned, for Warmup and then
// Duration; what completes within the second part is counted.
func runOnce(ctx context.Context, cfg Config, net *network.Network, gw *network.Gateway, cc *Chaincode, workload string) (Run, error) {
	contract := gw.Contract(cc.Name)
	pids := map[string]int{ProcChaincode: cc.Proc.PID(), ProcPeer: net.Peers[0].Proc.PID(), ProcOrderer: net.Orderer.PID(), ProcClient: os.Getpid()}
	var phase atomic.Int32
	var errCount atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, cfg.Workers)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("w%03d", w)
			for seq := 0; phase.Load() != stopping && runCtx.Err() == nil; seq++ {
				t := time.Now()
				err := call(runCtx, contract, workload, key, seq)
				d := time.Since(t)
				if err != nil {
					if runCtx.Err() != nil {
						return
					}
					errCount.Add(1)
					firstErr.CompareAndSwap(nil, ErrorText(err))
					time.Sleep(10 * time.Millisecond) // no hot loop against a broken chaincode
					continue
				}
				if phase.Load() == measuring {
					lat[w] = append(lat[w], d)
				}
			}
		}()
	}
	stop := func() { phase.Store(stopping); wg.Wait() }
	if err := sleep(ctx, cfg.Warmup); err != nil {
		cancel()
		stop()
		return Run{}, err
	}
	before, err := sampleCPU(pids)
	if err != nil {
		cancel()
		stop()
		return Run{}, err
	}
	t0 := time.Now()
	phase.Store(measuring)
	if err := sleep(ctx, cfg.Duration); err != nil {
		cancel()
		stop()
		return Run{}, err
	}
	phase.Store(stopping)
	window := time.Since(t0)
	after, err := sampleCPU(pids)
	if err != nil {
		cancel()
		stop()
		return Run{}, err
	}
	wg.Wait() // the transactions in flight finish, uncounted
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := Run{Workload: workload, Impl: cc.Impl, Tx: int64(len(all)), Errors: errCount.Load(), Window: window,
		TxPerSecond: float64(len(all)) / window.Seconds(), CPU: map[string]time.Duration{}, Load1: loadAvg()[0]}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	if n := len(all); n > 0 {
		r.P50, r.P99 = all[(n-1)*50/100], all[(n-1)*99/100]
		for _, p := range procs {
			d, coarse := cpuDelta(before[p], after[p])
			r.CPU[p] = d / time.Duration(n)
			if coarse {
				r.Coarse = append(r.Coarse, p)
			}
		}
	}
	return r, nil
}

// call sends one transaction of workload. put writes the worker's own
// key, so that no two transactions in flight touch the same key (no MVCC
// conflicts), with a value of the size of the seeded ones.
func call(ctx context.Context, c *client.Contract, workload, key string, seq int) error {
	var err error
	switch workload {
	case "put":
		value := `{"id":"` + key + `","owner":"org1-user-1","value":` + strconv.Itoa(seq) + `}`
		_, err = c.SubmitWithContext(ctx, "put", client.WithArguments(key, value))
	default:
		_, err = c.EvaluateWithContext(ctx, workload)
	}
	return err
}

func sampleCPU(pids map[string]int) (map[string]cpuSample, error) {
	out := make(map[string]cpuSample, len(pids))
	for name, pid := range pids {
		s, err := readCPU(pid)
		if err != nil {
			return nil, fmt.Errorf("CPU of %s: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute averages (zeros if unreadable).
func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(b)) {
		if i == 3 {
			break
		}
		l[i], _ = strconv.ParseFloat(f, 64)
	}
	return l
}

// ErrorText is an error from the gateway with the peers' details, which
// hold the chaincode's status and message.
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(err.Error())
	for _, d := range status.Convert(err).Details() {
		if e, ok := d.(*gateway.ErrorDetail); ok {
			b.WriteString(" | " + e.GetMspId() + "@" + e.GetAddress() + ": " + e.GetMessage())
		}
	}
	return b.String()
}
