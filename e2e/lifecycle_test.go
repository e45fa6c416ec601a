package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
)

// TestPinMismatch: a server pinned to another CA refuses the real peer,
// the invoke fails and the server's log says why.
func TestPinMismatch(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 2*time.Minute)
	other := filepath.Join(workDir, "pinned-other-ca")
	run(t, "ccpki", "init", "--dir", other, "--cn", "Some other CA")
	pin := strings.TrimSpace(run(t, "ccpki", "pin", filepath.Join(other, "ca.crt")))
	srv, _ := deployCCaaS(t, ctx, "pinned", "stubcc", network.Chaincode{}, "--pin", pin)
	_, err := userGateway(t).Contract("pinned").EvaluateTransaction("Get", "k")
	if err == nil {
		t.Fatal("the peer was admitted although its chain does not hold the pinned CA")
	}
	t.Logf("invoke: %s", errorText(err))
	waitFor(t, 10*time.Second, "the refusal in the server's log", func() bool {
		log := srv.Proc.Log()
		return strings.Contains(log, "TLS handshake rejected") && strings.Contains(log, "pin")
	})
	if m := srv.metrics(); !strings.Contains(m, "ccserver_tls_handshake_failures_total{") {
		t.Fatalf("no handshake failure counted:\n%s", m)
	}
}

// TestSIGTERMUnderLoad: transactions in flight when ccserver gets SIGTERM
// complete and commit, and the server exits 0.
func TestSIGTERMUnderLoad(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 2*time.Minute)
	srv, _ := deployCCaaS(t, ctx, "drain", "stubcc", network.Chaincode{})
	c := userGateway(t).Contract("drain")
	if _, err := c.SubmitTransaction("Put", "warm", "up"); err != nil {
		t.Fatal(errorText(err))
	}
	const inflight = 6
	var wg sync.WaitGroup
	errs := make([]error, inflight)
	for i := range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.SubmitTransaction("Sleep", "2000", fmt.Sprintf("slow%d", i))
		}()
	}
	waitFor(t, 20*time.Second, "the transactions to be in flight in the server", func() bool {
		return strings.Contains(srv.metrics(), fmt.Sprintf("ccserver_transactions_in_flight %d", inflight))
	})
	if err := srv.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := srv.Proc.Wait(wctx); err != nil {
		t.Fatalf("ccserver after SIGTERM: %v, want exit 0\n%s", err, srv.Proc.Tail(20))
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d in flight at SIGTERM: %s", i, errorText(err))
		}
	}
	if log := srv.Proc.Log(); !strings.Contains(log, "draining") || strings.Contains(log, "drain cut short") {
		t.Fatalf("ccserver did not drain cleanly:\n%s", srv.Proc.Tail(20))
	}
}
