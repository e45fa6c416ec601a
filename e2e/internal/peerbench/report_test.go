package peerbench

import (
	"os"
	"strings"
	"testing"
	"time"
)

func run(workload, impl string, round int, tps float64, cc time.Duration) Run {
	return Run{Workload: workload, Impl: impl, Round: round, Tx: int64(tps * 5), TxPerSecond: tps, P50: time.Duration(tps) * time.Microsecond,
		P99: 2 * time.Duration(tps) * time.Microsecond, CPU: map[string]time.Duration{ProcChaincode: cc, ProcPeer: 10 * cc, ProcOrderer: cc, ProcClient: cc}}
}

// TestReport checks the medians (each figure on its own over the rounds)
// and that the markdown holds a median row, a ratio row and every run.
func TestReport(t *testing.T) {
	r := &Report{Config: Config{Workloads: []string{"get", "put"}, Rounds: 3, Duration: time.Second, Workers: 2}.withDefaults(), Fabric: "2.5.16"}
	r.Runs = []Run{
		run("get", Ours, 1, 100, 30*time.Microsecond), run("get", Anchor, 1, 50, 60*time.Microsecond),
		run("get", Anchor, 2, 70, 90*time.Microsecond), run("get", Ours, 2, 300, 10*time.Microsecond),
		run("get", Ours, 3, 200, 20*time.Microsecond), run("get", Anchor, 3, 60, 30*time.Microsecond),
		run("put", Anchor, 1, 10, 100*time.Microsecond), run("put", Ours, 1, 20, 50*time.Microsecond),
	}
	m := r.Medians()
	if got := m["get"][Ours]; got.TxPerSecond != 200 || got.CPU[ProcChaincode] != 20*time.Microsecond || got.Runs != 3 {
		t.Fatalf("get ours median %+v, want 200 tx/s and 20 µs over 3 runs", got)
	}
	if got := m["get"][Anchor]; got.TxPerSecond != 60 || got.CPU[ProcChaincode] != 60*time.Microsecond || got.P50 != 60*time.Microsecond {
		t.Fatalf("get anchor median %+v, want 60 tx/s, 60 µs, p50 60 µs", got)
	}
	var b strings.Builder
	r.WriteMarkdown(&b)
	md := b.String()
	for _, want := range []string{
		"| get | ours | 200 | 200 µs | 400 µs | 20.0 | 200.0 | – | 20.0 | 0 |",
		"| put | anchor | 10 | 10 µs | 20 µs | 100.0 | 1000.0 | 100.0 | 100.0 | 0 |",
		"| get | 3.33 | 3.33 | 3.33 | 0.33 | 0.33 | 0.33 | – |",
		"| put | 2.00 | 2.00 | 2.00 | 0.50 | 0.50 | 0.50 | 0.50 |",
		"| get | 2 | ours | 1500 | 300 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestCPUDelta: the threads' nanoseconds unless they fall short of the
// ticks by more than the rounding, which a thread that ended causes.
func TestCPUDelta(t *testing.T) {
	a := cpuSample{stat: 100 * time.Millisecond, exec: 101 * time.Millisecond, ok: true}
	b := cpuSample{stat: 150 * time.Millisecond, exec: 147500 * time.Microsecond, ok: true}
	if d, coarse := cpuDelta(a, b); d != 46500*time.Microsecond || coarse {
		t.Fatalf("delta %v coarse %v, want the threads' 46.5ms", d, coarse)
	}
	b.exec = 110 * time.Millisecond // 9 ms against 50 ms of ticks: a thread's time went missing
	if d, coarse := cpuDelta(a, b); d != 50*time.Millisecond || !coarse {
		t.Fatalf("delta %v coarse %v, want stat's 50ms", d, coarse)
	}
	b.ok = false
	if d, coarse := cpuDelta(a, b); d != 50*time.Millisecond || !coarse {
		t.Fatalf("delta %v coarse %v without threads, want stat's 50ms", d, coarse)
	}
	// This process can be read both ways.
	s, err := readCPU(os.Getpid())
	if err != nil || !s.ok {
		t.Fatalf("readCPU(self) = %+v, %v", s, err)
	}
}
