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
	// Reconnect is how long a connection whose stream the server closed
	// (a restart, a drain, a revoked certificate) is redialed, with
	// backoff from 100 ms to 2 s, before the run stops with an error.
	// Zero stops at the first closed stream. Workers of a closed stream
	// wait for it; they never spin on a dead one.
	Reconnect time.Duration
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
	// StreamsLost counts streams the server closed during the run;
	// Reconnects the redials that succeeded; LongestOutage the longest
	// time a connection had no stream (the recovery time).
	StreamsLost   int64         `json:"streams_lost"`
	Reconnects    int64         `json:"reconnects"`
	LongestOutage time.Duration `json:"longest_outage_ns"`
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
	var slots []*benchConn
	var stats reconnectStats
	for range conns {
		c, obs, err := dial(ctx, cfg.Conn, opts)
		if err != nil {
			return nil, diagnose(ctx, cfg.Conn, obs, err)
		}
		clients = append(clients, c)
		slots = append(slots, &benchConn{c: c, stats: &stats, redial: func(ctx context.Context) (*Client, error) {
			c, obs, err := dial(ctx, cfg.Conn, opts)
			if err != nil {
				return nil, diagnose(ctx, cfg.Conn, obs, err)
			}
			return c, nil
		}})
	}
	defer func() {
		for _, s := range slots {
			s.close()
		}
	}()
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
	var stopErr atomic.Value // why the run stopped early
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
			slot := slots[w%len(slots)]
			for runCtx.Err() == nil {
				cl, gen := slot.get()
				e := pick(cfg.Mix, rng.IntN(totalWeight))
				t0 := time.Now()
				// The engine's Execute: no conversion of results on the load path.
				res, err := cl.conn.Execute(runCtx, &peerside.Tx{ChannelID: cfg.ChannelID, Args: e.Args})
				if runCtx.Err() != nil {
					return // the run ended during this transaction: not counted
				}
				if err != nil && streamClosed(cl) {
					// Counted below as failed: it was in flight when the stream ended.
					if rerr := slot.reconnect(runCtx, gen, cfg.Reconnect); rerr != nil && runCtx.Err() == nil {
						stopErr.CompareAndSwap(nil, rerr)
						cancel()
					}
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
	res := &BenchResult{Transactions: txs.Load(), Errors: errs.Load(), Elapsed: elapsed, Concurrency: cfg.Concurrency, Connections: conns,
		StreamsLost: stats.lost.Load(), Reconnects: stats.reconnects.Load(), LongestOutage: time.Duration(stats.longest.Load())}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	res.Throughput = float64(res.Transactions) / elapsed.Seconds()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if n := len(all); n > 0 {
		res.P50, res.P99, res.Max = all[(n-1)*50/100], all[(n-1)*99/100], all[n-1]
	}
	if err, ok := stopErr.Load().(error); ok {
		return res, &BenchStopped{Result: res, Err: err}
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

// BenchStopped is returned (with the figures so far) when the server
// closed a stream and it could not be redialed within Reconnect.
type BenchStopped struct {
	Result *BenchResult
	Err    error
}

func (e *BenchStopped) Error() string {
	return fmt.Sprintf("bench stopped: the server closed a stream and it could not be reopened: %v", e.Err)
}

func (e *BenchStopped) Unwrap() error { return e.Err }

// streamClosed reports whether c's stream has ended.
func streamClosed(c *Client) bool {
	select {
	case <-c.conn.Done():
		return true
	default:
		return false
	}
}

type reconnectStats struct {
	lost, reconnects, longest atomic.Int64
}

// benchConn is one of the run's connections; a worker that finds its
// stream closed redials it, and the others wait for that redial.
type benchConn struct {
	mu     sync.Mutex
	c      *Client
	gen    int
	stats  *reconnectStats
	redial func(context.Context) (*Client, error)
	extra  []*Client
}

func (b *benchConn) get() (*Client, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.c, b.gen
}

// reconnect replaces the stream of generation gen, unless another worker
// already did, with backoff for up to limit.
func (b *benchConn) reconnect(ctx context.Context, gen int, limit time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		return nil
	}
	b.stats.lost.Add(1)
	start := time.Now()
	wait := 100 * time.Millisecond
	for {
		if time.Since(start) >= limit {
			return fmt.Errorf("no stream for %v: %w", time.Since(start).Round(time.Millisecond), b.c.conn.Err())
		}
		c, err := b.redial(ctx)
		if err == nil {
			if b.gen > 0 { // generation 0 is closed by Bench's own list
				b.extra = append(b.extra, b.c)
			}
			b.c, b.gen = c, b.gen+1
			b.stats.reconnects.Add(1)
			d := int64(time.Since(start))
			for {
				old := b.stats.longest.Load()
				if d <= old || b.stats.longest.CompareAndSwap(old, d) {
					break
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(wait, limit-time.Since(start))):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (b *benchConn) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.extra {
		c.Close()
	}
	if b.gen > 0 {
		b.c.Close() // the first one is in the caller's list
	}
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
