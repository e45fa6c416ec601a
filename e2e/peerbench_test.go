package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/peerbench"
)

// TestPeerBenchSmoke runs the end-to-end benchmark (cmd/peerbench, make
// e2e-bench) for a moment on this binary's network: both chaincode
// servers deploy, every workload runs on both with transactions and no
// errors, CPU is read for every process, and the report has a row for
// each. It checks that the benchmark works, not what it measures.
func TestPeerBenchSmoke(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 3*time.Minute)
	gw := userGateway(t)
	var ccs []*peerbench.Chaincode
	for _, impl := range peerbench.Impls {
		c, err := peerbench.Deploy(ctx, fabnet, gw, bin("benchcc"), filepath.Join(workDir, "peerbench"), impl)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Stop() })
		ccs = append(ccs, c)
	}
	rep, err := peerbench.Bench(ctx, peerbench.Config{Rounds: 1, Duration: time.Second, Warmup: 200 * time.Millisecond, Workers: 4, Logf: t.Logf}, fabnet, gw, ccs)
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	rep.WriteMarkdown(&md)
	t.Logf("\n%s", md.String())

	if got, want := len(rep.Runs), len(peerbench.Workloads)*len(peerbench.Impls); got != want {
		t.Fatalf("%d runs, want %d", got, want)
	}
	for _, r := range rep.Runs {
		if r.Tx == 0 || r.Errors != 0 {
			t.Errorf("%s %s: %d transactions, %d errors (first: %s)", r.Workload, r.Impl, r.Tx, r.Errors, r.FirstError)
		}
		for _, p := range []string{peerbench.ProcChaincode, peerbench.ProcPeer, peerbench.ProcClient} {
			if r.CPU[p] <= 0 {
				t.Errorf("%s %s: no CPU measured for the %s", r.Workload, r.Impl, p)
			}
		}
	}
	for _, w := range peerbench.Workloads {
		for _, impl := range peerbench.Impls {
			if !strings.Contains(md.String(), "| "+w+" | "+impl+" | ") {
				t.Errorf("no median row for %s %s", w, impl)
			}
		}
		if !strings.Contains(md.String(), "| "+w+" | 1 | ") {
			t.Errorf("no run rows for %s", w)
		}
	}
}
