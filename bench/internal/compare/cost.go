package compare

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccserver/ccserver/bench/internal/benchpki"
	"github.com/ccserver/ccserver/bench/internal/stats"
	"github.com/ccserver/ccserver/ccaas"
	"github.com/ccserver/ccserver/devpeer"
)

// Cost is what one implementation costs per connected peer, apart from
// any transaction: the time from starting its process to a peer's stream
// being READY, and the memory each idle peer stream (its own connection,
// as a peer opens) holds.
type Cost struct {
	Impl string
	// StartToReady is the median over runs of: exec of the server process
	// → a peer's first stream has completed REGISTER/REGISTERED/READY.
	StartToReady time.Duration
	Streams      int
	// Per idle stream, from the server's own runtime/metrics after a GC
	// (live heap, goroutine stacks) and from /proc (resident set).
	HeapPerStream, StacksPerStream, RSSPerStream float64
	GoroutinesPerStream                          float64
}

// CostConfig describes a cost measurement.
type CostConfig struct {
	ServerBin, Dir, ServerCPUs string
	Impls                      []string
	Streams, Runs              int
	Log                        io.Writer
}

// MeasureCosts measures Cost for every implementation.
func MeasureCosts(ctx context.Context, cfg CostConfig) ([]Cost, error) {
	if cfg.Streams < 1 || cfg.Runs < 1 {
		return nil, errors.New("cost needs at least one stream and one run")
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
	conn := func(addr string) ccaas.Connection {
		return ccaas.Connection{Address: addr, DialTimeout: "20s", TLSRequired: true, ClientAuthRequired: true,
			RootCert: string(ca), ClientCert: string(cert), ClientKey: string(key)}
	}
	var out []Cost
	for _, impl := range cfg.Impls {
		c := Cost{Impl: impl, Streams: cfg.Streams}
		var starts []time.Duration
		for range cfg.Runs {
			d, err := startToReady(ctx, cfg, impl, files, conn)
			if err != nil {
				return nil, fmt.Errorf("%s start to READY: %w", impl, err)
			}
			starts = append(starts, d)
		}
		slices.Sort(starts)
		c.StartToReady = starts[len(starts)/2]
		if err := idleCost(ctx, cfg, impl, files, conn, &c); err != nil {
			return nil, fmt.Errorf("%s idle streams: %w", impl, err)
		}
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "cost %-6s start→READY %s, per idle stream: heap %.1f KiB, stacks %.1f KiB, RSS %.1f KiB, %.1f goroutines\n",
				impl, c.StartToReady.Round(100*time.Microsecond), c.HeapPerStream/1024, c.StacksPerStream/1024, c.RSSPerStream/1024, c.GoroutinesPerStream)
		}
		out = append(out, c)
	}
	return out, nil
}

// startToReady starts a server on a port chosen beforehand and dials it
// as a peer until a stream is READY.
func startToReady(ctx context.Context, cfg CostConfig, impl string, files benchpki.Files, conn func(string) ccaas.Connection) (time.Duration, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := lis.Addr().String()
	lis.Close()
	t0 := time.Now()
	type result struct {
		s   *server
		err error
	}
	started := make(chan result, 1)
	go func() {
		s, err := startServer(ctx, cfg.ServerBin, cfg.ServerCPUs, impl, files, "", 0, "-addr", addr)
		started <- result{s, err}
	}()
	var ready time.Duration
	for {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := devpeer.Dial(dctx, conn(addr))
		cancel()
		if err == nil {
			ready = time.Since(t0)
			_ = c.Close()
			break
		}
		if time.Since(t0) > 30*time.Second || ctx.Err() != nil {
			r := <-started
			if r.s != nil {
				r.s.stop()
			}
			return 0, fmt.Errorf("no READY stream after 30s: %w", err)
		}
		time.Sleep(time.Millisecond)
	}
	r := <-started
	if r.err != nil {
		return 0, r.err
	}
	r.s.stop()
	return ready, nil
}

// idleCost connects Streams idle peers to one server and reads what they
// added to its memory.
func idleCost(ctx context.Context, cfg CostConfig, impl string, files benchpki.Files, conn func(string) ccaas.Connection, c *Cost) error {
	s, err := startServer(ctx, cfg.ServerBin, cfg.ServerCPUs, impl, files, "", 0)
	if err != nil {
		return err
	}
	defer s.stop()
	// One stream first: what every server pays once (TLS session caches,
	// gRPC server goroutines) is not a per-peer cost.
	first, err := devpeer.Dial(ctx, conn(s.ready.Addr))
	if err != nil {
		return err
	}
	defer first.Close()
	time.Sleep(200 * time.Millisecond)
	before, rss0, err := memory(s)
	if err != nil {
		return err
	}
	var clients []*devpeer.Client
	defer func() {
		for _, cl := range clients {
			_ = cl.Close()
		}
	}()
	for range cfg.Streams {
		cl, err := devpeer.Dial(ctx, conn(s.ready.Addr))
		if err != nil {
			return err
		}
		clients = append(clients, cl)
	}
	time.Sleep(time.Second) // let handshake garbage and TLS buffers settle
	after, rss1, err := memory(s)
	if err != nil {
		return err
	}
	n := float64(cfg.Streams)
	c.HeapPerStream = (float64(after.HeapObjects) - float64(before.HeapObjects)) / n
	c.StacksPerStream = (float64(after.Stacks) - float64(before.Stacks)) / n
	c.RSSPerStream = (float64(rss1) - float64(rss0)) / n
	c.GoroutinesPerStream = (float64(after.Goroutines) - float64(before.Goroutines)) / n
	return nil
}

func memory(s *server) (stats.Snapshot, uint64, error) {
	snap, err := stats.Fetch(nil, s.ready.Stats+"?gc=1")
	if err != nil {
		return snap, 0, err
	}
	rss, err := residentBytes(s.ready.PID)
	return snap, rss, err
}

// residentBytes reads VmRSS of a process from /proc.
func residentBytes(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// WriteCostMarkdown writes the costs as a table.
func WriteCostMarkdown(w io.Writer, costs []Cost) {
	if len(costs) == 0 {
		return
	}
	fmt.Fprintf(w, "Cost per peer (%d idle streams, each its own connection; start to READY: median):\n\n", costs[0].Streams)
	fmt.Fprintln(w, "| impl | process start → READY | live heap / idle stream | stacks / idle stream | RSS / idle stream | goroutines / idle stream |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	for _, c := range costs {
		fmt.Fprintf(w, "| %s | %s | %.1f KiB | %.1f KiB | %.1f KiB | %.1f |\n", c.Impl, fmtDur(c.StartToReady),
			c.HeapPerStream/1024, c.StacksPerStream/1024, c.RSSPerStream/1024, c.GoroutinesPerStream)
	}
}
