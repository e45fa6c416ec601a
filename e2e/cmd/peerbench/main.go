// Command peerbench is the end-to-end benchmark of issue 14: the same
// chaincode (chaincode/benchcc) served as a chaincode server by our shim
// and by fabric-chaincode-go v2.3.0 (cmd/benchcc, one process each, mTLS
// as the peer's ccaas builder dials it), driven through a real Fabric
// peer by the Fabric Gateway client. It brings up its own network (one
// org, one peer, one etcdraft orderer, natively on loopback), deploys
// both chaincodes and seeds them, then for each workload (get: evaluate
// GetState; put: submit GetState+PutState of the worker's own key; range:
// evaluate a 100-key GetStateByRange read to the end) runs rounds in
// which each implementation gets one closed-loop run — -workers gateway
// workers for -warmup, then -duration measured — the first one
// alternating from round to round. It prints a markdown table of medians
// (tx/s, p50, p99, CPU µs per transaction of the chaincode server, the
// peer, the orderer and this client, from /proc), the ratios ours ÷
// anchor, and every run. No timing is asserted anywhere.
//
//	cd e2e && FABRIC_VERSION=2.5.16 go run ./cmd/peerbench [-rounds 3 -duration 5s -warmup 1s -workers 16]
//	make e2e-bench        # 2.5.16, then 3.1.5; PEERBENCH_FLAGS for more
//
// A command rather than a Go benchmark function: a run is a closed loop
// of fixed duration, not b.N iterations (testing.B would call it again
// with growing b.N to calibrate, and reports one ns/op per function, not
// medians over alternating rounds with ratios); the network is its own,
// shared with no test; its flags are ordinary flags; and the client's
// CPU, measured from /proc like the others, is that of a process doing
// nothing but the load. The e2e tests run the same code for a few
// seconds on their network (TestPeerBenchSmoke), so it cannot rot.
//
// Fabric binaries come as for the e2e tests: FABRIC_BIN, or the release
// of FABRIC_VERSION (default 2.5.16) unpacked from ../shared/fabric into
// FABRIC_CACHE. benchcc is built with go build unless -benchcc names a
// binary, so run it from inside the e2e module.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
	"github.com/ccserver/ccserver/e2e/internal/peerbench"
	"github.com/hyperledger/fabric-gateway/pkg/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	rounds := flag.Int("rounds", 3, "rounds per workload; each runs every implementation once")
	duration := flag.Duration("duration", 5*time.Second, "measured window of every run")
	warmup := flag.Duration("warmup", time.Second, "unmeasured closed loop before every window")
	workers := flag.Int("workers", 16, "closed-loop gateway workers")
	workloads := flag.String("workloads", strings.Join(peerbench.Workloads, ","), "workloads to run, comma-separated")
	dirFlag := flag.String("dir", "", "working directory (network, logs, packages); default a temporary one, removed after a successful run")
	keep := flag.Bool("keep", false, "keep the working directory after a successful run")
	benchccBin := flag.String("benchcc", "", "a built cmd/benchcc; default: go build it")
	out := flag.String("out", "", "also write the markdown report to this file")
	peerLog := flag.String("peer-logging", "", "FABRIC_LOGGING_SPEC of the peer (default the network's, info: a line per endorsement and per block, as Fabric ships)")
	flag.Parse()

	fabric, err := network.FromEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "peerbench: "+format+"\n", a...) }

	dir := *dirFlag
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ccserver-peerbench-"); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	defer func() {
		if err != nil || *keep {
			logf("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	ccBin := *benchccBin
	if ccBin == "" {
		ccBin = filepath.Join(dir, "bin", "benchcc")
		b := exec.CommandContext(ctx, "go", "build", "-o", ccBin, "github.com/ccserver/ccserver/e2e/cmd/benchcc")
		if o, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("go build benchcc (run peerbench inside the e2e module, or pass -benchcc): %w\n%s", err, o)
		}
	}

	var peerEnv []string
	if *peerLog != "" {
		peerEnv = append(peerEnv, "FABRIC_LOGGING_SPEC="+*peerLog)
	}
	net, err := network.Start(ctx, network.Options{Fabric: fabric, Dir: filepath.Join(dir, "fabric"), PeerEnv: peerEnv, Logf: logf})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			logf("last lines of the network's logs:\n%s", net.Tails(10))
		}
		if serr := net.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()

	user, err := net.User(net.Peers[0].Org)
	if err != nil {
		return err
	}
	gw, err := net.Peers[0].Gateway(user, client.WithEvaluateTimeout(30*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(30*time.Second), client.WithCommitStatusTimeout(time.Minute))
	if err != nil {
		return err
	}
	defer gw.Close()

	var ccs []*peerbench.Chaincode
	defer func() {
		for _, c := range ccs {
			c.Stop()
		}
	}()
	for _, impl := range peerbench.Impls {
		t0 := time.Now()
		c, err := peerbench.Deploy(ctx, net, gw, ccBin, filepath.Join(dir, "chaincode"), impl)
		if err != nil {
			return err
		}
		ccs = append(ccs, c)
		logf("%s deployed as %s, served by pid %d on %s, seeded, in %s", impl, c.Name, c.Proc.PID(), c.Addr, time.Since(t0).Round(time.Millisecond))
	}

	cfg := peerbench.Config{Rounds: *rounds, Duration: *duration, Warmup: *warmup, Workers: *workers, Logf: logf}
	for _, w := range strings.Split(*workloads, ",") {
		if w = strings.TrimSpace(w); w != "" {
			cfg.Workloads = append(cfg.Workloads, w)
		}
	}
	rep, err := peerbench.Bench(ctx, cfg, net, gw, ccs)
	if err != nil {
		return err
	}
	var b strings.Builder
	rep.WriteMarkdown(&b)
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	for _, c := range ccs {
		if done, exitErr := c.Proc.Exited(); done {
			return fmt.Errorf("%s's server exited during the run: %v", c.Impl, exitErr)
		}
	}
	return nil
}
