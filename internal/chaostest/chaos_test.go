package chaostest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
)

// long reports whether the long version runs (CCSERVER_CHAOS=1).
func long() bool { return os.Getenv("CCSERVER_CHAOS") == "1" }

// scale picks the short or the long figure.
func scale[T any](short, full T) T {
	if long() {
		return full
	}
	return short
}

type benchResult struct {
	Transactions  int64 `json:"transactions"`
	Errors        int64 `json:"errors"`
	StreamsLost   int64 `json:"streams_lost"`
	Reconnects    int64 `json:"reconnects"`
	LongestOutage int64 `json:"longest_outage_ns"`
}

// bench runs ccpeer bench against s in the background.
type benchRun struct {
	cmd *exec.Cmd
	out bytes.Buffer
	err bytes.Buffer
}

func startBench(t *testing.T, p *pki, s *server, d time.Duration, extra ...string) *benchRun {
	t.Helper()
	_, ccpeer := build(t)
	args := append([]string{"bench", "--address", s.addr, "--tls-root-cert", p.clientCA, "--client-cert", p.peerCert, "--client-key", p.peerKey,
		"--ccid", ccid, "--concurrency", "16", "--connections", "4", "--duration", d.String(), "--progress", "0", "--json",
		"--mix", "GetAllAssets=1"}, extra...)
	b := &benchRun{cmd: exec.Command(ccpeer, args...)}
	b.cmd.Dir = t.TempDir() // no .ccpeer/state.db: an empty state
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.err
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *benchRun) wait(t *testing.T) benchResult {
	t.Helper()
	_ = b.cmd.Wait() // a run with errors exits 1; the figures say why
	var r benchResult
	if err := json.Unmarshal(b.out.Bytes(), &r); err != nil {
		t.Fatalf("bench output: %v\n%s\n%s", err, b.out.String(), b.err.String())
	}
	return r
}

// settle waits until the server's goroutines are back to at most base+slack
// and reports them with the RSS. It waits on a condition, never on a time.
func settle(t *testing.T, s *server, base float64, slack float64) (goroutines float64, rss int64) {
	t.Helper()
	for range 200 {
		goroutines = s.metric("go_goroutines")
		if goroutines >= 0 && goroutines <= base+slack && s.metric("ccserver_connected_peers") == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rss, _ = s.rss()
	if goroutines > base+slack {
		t.Errorf("goroutines %v after the scenario, %v before: leaked", goroutines, base)
	}
	return goroutines, rss
}

func report(t *testing.T, name string, kv ...any) {
	t.Helper()
	t.Logf("FIGURES %s %v", name, kv)
}

func TestKillAndRestartUnderLoad(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p)
	b := startBench(t, p, s, scale(5*time.Second, 20*time.Second), "--reconnect", "30s")
	kills := scale(1, 3)
	for range kills {
		time.Sleep(1500 * time.Millisecond)
		s.kill()
		s.start()
	}
	r := b.wait(t)
	if r.Reconnects < r.StreamsLost || r.StreamsLost == 0 {
		t.Errorf("streams lost %d, reconnects %d: bench did not recover: %s", r.StreamsLost, r.Reconnects, b.err.String())
	}
	// Only transactions in flight at a kill may fail: at most the concurrency per kill.
	if r.Errors > int64(16*kills) {
		t.Errorf("%d failed transactions for %d kills with 16 in flight", r.Errors, kills)
	}
	base := s.metric("go_goroutines")
	g, rss := settle(t, s, base, 5)
	report(t, "kill-restart", "kills", kills, "tx", r.Transactions, "failed", r.Errors, "streams_lost", r.StreamsLost,
		"longest_outage", time.Duration(r.LongestOutage), "goroutines", g, "rss_MB", rss/1e6)
}

func TestStreamResetsMidTransaction(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p)
	base := s.metric("go_goroutines")
	rp := dialRaw(t, p, s.addr)
	defer rp.conn.Close()
	n := scale(50, 500)
	for range n {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Millisecond); cancel() }() // RST_STREAM from the peer side mid-transaction
		_ = rp.transact(ctx, 1024)
		cancel()
	}
	rp.conn.Close()
	g, rss := settle(t, s, base, 5)
	if v := s.metric("ccserver_transactions_in_flight"); v != 0 {
		t.Errorf("%v transactions still in flight", v)
	}
	report(t, "stream-resets", "resets", n, "goroutines_before", base, "goroutines", g, "rss_MB", rss/1e6)
}

func TestReconnectStorm(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p, "--max-connections", "256")
	base := s.metric("go_goroutines")
	peers := 200
	rounds := scale(2, 10)
	start := time.Now()
	var failed int
	for range rounds {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range peers {
			wg.Go(func() {
				rp := dialRaw(t, p, s.addr)
				defer rp.conn.Close()
				if err := rp.transact(context.Background(), 16); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	took := time.Since(start)
	g, rss := settle(t, s, base, 5)
	if failed > 0 {
		t.Errorf("%d of %d storm transactions failed", failed, peers*rounds)
	}
	report(t, "reconnect-storm", "peers", peers, "rounds", rounds, "failed", failed, "took", took.Round(time.Millisecond),
		"log_lines", s.log.lines(""), "goroutines", g, "rss_MB", rss/1e6)
}

func TestCRLFlippedEverySecond(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p)
	other := p.ca.Client(t, testpki.WithCommonName("peer1.org1.example.com"))
	base := s.metric("go_goroutines")
	d := scale(4*time.Second, 20*time.Second)
	b := startBench(t, p, s, d)
	for i := range int(d / time.Second) {
		time.Sleep(time.Second)
		if i%2 == 0 {
			p.writeCRL(t, other) // revokes another peer: ours must stay admitted
		} else {
			p.writeCRL(t)
		}
	}
	r := b.wait(t)
	if r.Errors != 0 || r.StreamsLost != 0 {
		t.Errorf("%d failed, %d streams lost while the CRL flipped (our peer is never revoked): %s", r.Errors, r.StreamsLost, b.err.String())
	}
	g, rss := settle(t, s, base, 5)
	report(t, "crl-flip", "tx", r.Transactions, "failed", r.Errors, "crl_rotations", s.metric("ccserver_tls_rotations_total", `source="crl"`),
		"goroutines", g, "rss_MB", rss/1e6)
}

func TestCertDirGarbageAndBack(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p)
	base := s.metric("go_goroutines")
	cert, _ := os.ReadFile(p.serverCert)
	key, _ := os.ReadFile(p.serverKey)
	b := startBench(t, p, s, scale(4*time.Second, 15*time.Second))
	rounds := scale(1, 5)
	for range rounds {
		time.Sleep(time.Second)
		writeAtomic(t, p.serverCert, []byte("garbage"), 0o644)
		writeAtomic(t, p.serverKey, []byte("garbage"), 0o600)
		time.Sleep(time.Second)
		writeAtomic(t, p.serverCert, cert, 0o644)
		writeAtomic(t, p.serverKey, key, 0o600)
	}
	r := b.wait(t)
	if r.Errors != 0 {
		t.Errorf("%d transactions failed while the certificate files were garbage (the last good pair must stay in use)", r.Errors)
	}
	// New handshakes still work after the files came back.
	rp := dialRaw(t, p, s.addr)
	if err := rp.transact(context.Background(), 16); err != nil {
		t.Errorf("after the files came back: %v", err)
	}
	rp.conn.Close()
	g, rss := settle(t, s, base, 5)
	report(t, "cert-garbage", "rounds", rounds, "tx", r.Transactions, "failed", r.Errors,
		"reload_failures", s.metric("ccserver_tls_reload_failures_total"), "goroutines", g, "rss_MB", rss/1e6)
}

// TestUnauthenticatedFloodLogLines: handshakes without a certificate at
// a steady rate; every one is counted, the log stays bounded.
func TestUnauthenticatedFloodLogLines(t *testing.T) {
	p := newPKI(t)
	s := startServer(t, p)
	d := scale(3*time.Second, 20*time.Second)
	rate := 500
	before := len(bytes.Split([]byte(s.log.String()), []byte("\n")))
	sent := flood(t, s.addr, p, rate, d)
	for range 200 {
		if s.metric("ccserver_tls_handshake_failures_total", `reason="no-cert"`) >= float64(sent) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop() // SIGTERM: the sampler writes its pending summaries
	lines := len(bytes.Split([]byte(s.log.String()), []byte("\n"))) - before
	report(t, "no-cert-flood", "seconds", d.Seconds(), "rate", rate, "handshakes", sent, "log_lines", lines)
	if lines > 200 {
		t.Errorf("%d log lines for %d refused handshakes", lines, sent)
	}
}

func writeAtomic(t *testing.T, path string, data []byte, perm os.FileMode) {
	t.Helper()
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
