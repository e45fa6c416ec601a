package devpeer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccserver/ccserver/ccaas"
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
	Conn        ccaas.Connection // as the peer dials: rendered
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
	// Seed is committed to the public world state before the run, so that
	// reads and range queries find data (the state is otherwise empty).
	Seed map[string][]byte
	// Warmup runs the load this long before measuring; its transactions,
	// latencies and server CPU are not counted.
	Warmup time.Duration
	// OnMeasure, if set, is called once when measurement begins (after
	// dialing and warmup), for example to sample server-side counters.
	OnMeasure func()
	// Unsigned sends proposals with a creator but no signature, as the
	// chaincode never verifies it: the load generator then spends no ECDSA
	// signature per transaction, leaving the CPU to the server.
	Unsigned bool
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
// transaction is simulated against the same in-memory state (empty, or
// cfg.Seed), as an endorsing peer does.
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
	if err := seed(store, cfg.Seed); err != nil {
		return nil, err
	}
	opts := []peerside.Option{peerside.WithStore(store)}
	if cfg.Unsigned {
		certPEM, err := selfSignedCreator()
		if err != nil {
			return nil, err
		}
		opts = append(opts, peerside.WithIdentity(peerside.DefaultMSPID, certPEM, nil))
	}
	if cfg.CCID != "" {
		opts = append(opts, peerside.WithCCID(cfg.CCID))
	}
	for range conns {
		c, obs, err := dial(ctx, cfg.Conn, opts)
		if err != nil {
			return nil, diagnose(ctx, cfg.Conn, obs, err)
		}
		clients = append(clients, c)
	}
	if cfg.ServerPID > 0 {
		if _, err := ProcessCPU(cfg.ServerPID); err != nil {
			return nil, err
		}
	}
	totalWeight := 0
	for _, e := range cfg.Mix {
		totalWeight += e.Weight
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
	defer cancel()
	var measuring atomic.Bool
	var txs, errs atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), 1))
			cl := clients[w%len(clients)]
			for runCtx.Err() == nil {
				e := pick(cfg.Mix, rng.IntN(totalWeight))
				t0 := time.Now()
				// The engine's Execute: no conversion of results on the load path.
				res, err := cl.conn.Execute(runCtx, &peerside.Tx{ChannelID: cfg.ChannelID, Args: e.Args})
				if runCtx.Err() != nil {
					return // the run ended during this transaction: not counted
				}
				if !measuring.Load() {
					continue // warming up
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
	if cfg.Warmup > 0 {
		select {
		case <-time.After(cfg.Warmup):
		case <-runCtx.Done():
		}
	}
	var cpu0 time.Duration
	if cfg.ServerPID > 0 {
		cpu0, _ = ProcessCPU(cfg.ServerPID) // readable above; an error here shows as a CPU error below
	}
	if cfg.OnMeasure != nil {
		cfg.OnMeasure()
	}
	start := time.Now()
	measuring.Store(true)
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

// seed commits kv as one transaction.
func seed(store peerside.Store, kv map[string][]byte) error {
	if len(kv) == 0 {
		return nil
	}
	u := &peerside.Update{TxID: "bench-seed", Timestamp: time.Now()}
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		u.Writes = append(u.Writes, peerside.Write{Kind: peerside.WritePut, Key: k, Value: kv[k]})
	}
	if err := store.Commit(u); err != nil {
		return fmt.Errorf("seed bench state: %w", err)
	}
	return nil
}

// selfSignedCreator mints the certificate of a proposal creator that never
// signs: only its serialized identity travels in proposals.
func selfSignedCreator() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate creator key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ccpeer-bench-client", Organization: []string{"ccpeer"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create creator certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
