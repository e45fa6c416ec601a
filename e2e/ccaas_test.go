package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
)

// TestCCaaS deploys ccserver's sample chaincode as a service from a ccpki
// package and drives it through the real peer's gateway.
func TestCCaaS(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 3*time.Minute)
	srv, _ := deployCCaaS(t, ctx, "basic", "ccserver", network.Chaincode{InitRequired: true})
	c := userGateway(t).Contract("basic")

	// --init-required: the peer refuses everything until Init has run.
	if _, err := c.SubmitTransaction("CreateAsset", "early", "red", "1", "x", "1"); err == nil || !strings.Contains(errorText(err), "not been initialized") {
		t.Fatalf("submit before Init: got %v, want the peer's 'not been initialized'", errorText(err))
	}
	if err := fabnet.InvokeCLI(ctx, "basic", true, "InitLedger"); err != nil {
		t.Fatal(err)
	}

	got, err := c.EvaluateTransaction("ReadAsset", "asset1")
	if err != nil {
		t.Fatal(errorText(err))
	}
	if !strings.Contains(string(got), `"Tomoko"`) {
		t.Fatalf("ReadAsset asset1 = %s, want Tomoko's asset (InitLedger ran as Init)", got)
	}
	if _, err := c.SubmitTransaction("CreateAsset", "asset7", "orange", "7", "Ana", "70"); err != nil {
		t.Fatal(errorText(err))
	}
	if _, err := c.SubmitTransaction("TransferAsset", "asset7", "Bo"); err != nil {
		t.Fatal(errorText(err))
	}
	got, err = c.EvaluateTransaction("ReadAsset", "asset7")
	if err != nil || !strings.Contains(string(got), `"Bo"`) {
		t.Fatalf("ReadAsset asset7 after transfer = %s, %v", got, errorText(err))
	}

	// Chaincode errors: status 500 and the chaincode's message reach the client.
	_, err = c.EvaluateTransaction("ReadAsset", "nosuch")
	if msg := errorText(err); !strings.Contains(msg, "chaincode response 500") || !strings.Contains(msg, "the asset nosuch does not exist") {
		t.Fatalf("evaluate of a missing asset: %q, want status 500 and the chaincode's message", msg)
	}
	_, err = c.SubmitTransaction("CreateAsset", "asset7", "orange", "7", "Ana", "70")
	if msg := errorText(err); !strings.Contains(msg, "chaincode response 500") || !strings.Contains(msg, "already exists") {
		t.Fatalf("submit of a duplicate asset: %q, want status 500 and the chaincode's message", msg)
	}
	_, err = c.EvaluateTransaction("NoSuchFunction")
	if msg := errorText(err); !strings.Contains(msg, "Function NoSuchFunction not found") {
		t.Fatalf("unknown function: %q", msg)
	}

	// The server saw the peer over mTLS and counted the transactions.
	if m := srv.metrics(); !strings.Contains(m, "ccserver_") {
		t.Fatalf("no ccserver metrics:\n%s", m)
	}
}
