package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/ccaas"
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

// TestCCaaSTemplatedPackage installs one package for every peer: ccpki
// writes templates into connection.json, the peer's ccaas builder fills
// them from the peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, the peer
// dials the result. ccpeer, given the same config, dials the same server.
func TestCCaaSTemplatedPackage(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 3*time.Minute)
	p := newPKI(t, filepath.Join(workDir, "templated"))
	port, err := network.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	template := fmt.Sprintf("{{.ccserver_host}}:%d", port)
	file, id := p.pack(t, "templated_1.0", template, "--dial-timeout", "3s")
	startServer(t, "ccserver", p, fmt.Sprintf("127.0.0.1:%d", port), id)
	if err := fabnet.Deploy(ctx, network.Chaincode{Name: "templated", Package: file, PackageID: id}); err != nil {
		t.Fatal(err)
	}
	c := userGateway(t).Contract("templated")
	if _, err := c.SubmitTransaction("CreateAsset", "t1", "teal", "1", "Tim", "10"); err != nil {
		t.Fatal(errorText(err))
	}
	if got, err := c.EvaluateTransaction("ReadAsset", "t1"); err != nil || !strings.Contains(string(got), `"Tim"`) {
		t.Fatalf("ReadAsset t1 = %s, %v", got, errorText(err))
	}

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, conn, err := ccaas.ReadPackage(f)
	if err != nil || conn.Address != template {
		t.Fatalf("package holds %+v, %v; want the address template %q", conn, err, template)
	}
	b, err := conn.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	connFile := filepath.Join(p.Dir, "connection.json")
	if err := os.WriteFile(connFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.TrimPrefix(builderConfig, "CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG=")
	if out := run(t, "ccpeer", "probe", "--connection", connFile, "--builder-config", cfg, "--ccid", id); !strings.Contains(out, "ccid: "+id) {
		t.Fatalf("ccpeer probe:\n%s", out)
	}
}
