package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
)

// TestFleet follows docs/operations.md against a 2-org network: one
// templated package for both peers, each with its own client certificate
// from its org's CA through its builder config; ccserver admits each org
// only through that org's CA (--allow-dir), an org added without a
// restart; an upgrade to a second package id under continuous load; the
// server's CA rotated with the peers restarted one at a time. Endorsement
// policy: OR('Org1MSP.peer','Org2MSP.peer'), so either org's peer endorses
// alone and one peer may restart while the other serves.
func TestFleet(t *testing.T) {
	needFabric(t)
	ctx := testContext(t, 8*time.Minute)
	dir := filepath.Join(workDir, "fleet")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }

	// PKI: the server's CA and certificate; each org's own client CA and its peer's certificate.
	run(t, "ccpki", "init", "--dir", f("server-ca"))
	run(t, "ccpki", "issue", "--profile", "server", "--ca", f("server-ca"), "--dns", "localhost", "--ip", "127.0.0.1", "--out", f("server"))
	orgs := []network.Org{{Name: "Org1", MSPID: "Org1MSP", Domain: "org1.example.com"}, {Name: "Org2", MSPID: "Org2MSP", Domain: "org2.example.com"}}
	env := map[string][]string{}
	for _, o := range orgs {
		run(t, "ccpki", "init", "--dir", f(o.MSPID+"-ca"))
		run(t, "ccpki", "issue", "--profile", "client", "--ca", f(o.MSPID+"-ca"), "--cn", "peer0."+o.Domain, "--org", o.MSPID, "--out", f(o.MSPID+"-peer"))
		cfg := f(o.MSPID + ".builder-config.json")
		run(t, "ccpki", "builder-config", "--client-cert", f(o.MSPID+"-peer"), "--client-key", f(o.MSPID+"-peer", "tls.key"),
			"--root-cert", f("server-ca", "ca.crt"), "--out", cfg)
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		env[o.MSPID] = []string{"CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG=" + strings.TrimSpace(string(b))}
	}
	t0 := time.Now()
	net, err := network.Start(ctx, network.Options{Fabric: fabric, Dir: f("fabric"), Orgs: orgs,
		PeerEnv: []string{"CORE_CHAINCODE_STARTUPTIMEOUT=45s"}, OrgEnv: env,
		Logf: func(format string, a ...any) { t.Logf(format, a...) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("network logs:\n%s", net.Tails(20))
		}
		net.Stop()
	})
	t.Logf("2-org network up in %s", time.Since(t0).Round(time.Millisecond))

	// Packages A and B: templated, one listener each.
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = network.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	pack := func(label string, port int) (string, string) {
		file := f(label + ".tar.gz")
		id := strings.TrimSpace(run(t, "ccpki", "package", "--label", label, "--address", fmt.Sprintf("127.0.0.1:%d", port),
			"--dial-timeout", "3s", "--templated", "--out", file))
		if out := run(t, "ccpki", "inspect", file); !strings.Contains(out, "client_cert:  template {{.client_cert}}") {
			t.Fatalf("ccpki inspect:\n%s", out)
		}
		return file, id
	}
	fileA, idA := pack("fleet_1.0", ports[0])
	fileB, idB := pack("fleet_2.0", ports[1])

	// ccserver: package A, Org1 allowed only.
	allowDir := f("allow")
	if err := os.MkdirAll(allowDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, f("Org1MSP-ca", "ca.crt"), filepath.Join(allowDir, "Org1MSP.pem"))
	pkgFile := f("packages")
	writePackages(t, pkgFile, [][2]string{{idA, fmt.Sprintf("127.0.0.1:%d", ports[0])}})
	mport, _ := network.FreePort()
	srv := &ccServer{t: t, program: "ccserver", Metrics: fmt.Sprintf("127.0.0.1:%d", mport), logPath: f("ccserver.log"),
		args: []string{"--packages", pkgFile, "--tls-cert", f("server", "tls.crt"), "--tls-key", f("server", "tls.key"),
			"--allow-dir", allowDir, "--metrics-address", fmt.Sprintf("127.0.0.1:%d", mport), "--log-level", "debug"}}
	srv.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ccserver log:\n%s", srv.Proc.Tail(60))
		}
		srv.Proc.Stop(10 * time.Second)
	})

	policy := "OR('Org1MSP.peer','Org2MSP.peer')"
	if err := net.Deploy(ctx, network.Chaincode{Name: "fleet", Package: fileA, PackageID: idA, SignaturePolicy: policy}); err != nil {
		t.Fatal(err)
	}
	gw := map[string]*network.Gateway{}
	for i, o := range orgs {
		id, err := net.User(o)
		if err != nil {
			t.Fatal(err)
		}
		g, err := net.Peers[i].Gateway(id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		gw[o.MSPID] = g
	}
	c1, c2 := gw["Org1MSP"].Contract("fleet"), gw["Org2MSP"].Contract("fleet")
	if _, err := c1.SubmitTransaction("CreateAsset", "f1", "red", "1", "Ann", "1"); err != nil {
		t.Fatal(errorText(err))
	}

	// Org2's peer is refused while only Org1 is allowed...
	if _, err := c2.EvaluateTransaction("ReadAsset", "f1"); err == nil {
		t.Fatal("Org2's peer was served while only Org1MSP is allowed")
	}
	waitMetricText(t, ctx, srv, `ccserver_tls_handshake_failures_total{reason="unknown-ca"}`)
	// ...and admitted once its CA is dropped into the allow list, without a restart.
	copyFile(t, f("Org2MSP-ca", "ca.crt"), filepath.Join(allowDir, "Org2MSP.pem"))
	admitted := time.Now()
	retry(t, ctx, "Org2's peer admitted", func() error { _, err := c2.EvaluateTransaction("ReadAsset", "f1"); return err })
	t.Logf("Org2 admitted %s after its CA file appeared (no restart)", time.Since(admitted).Round(time.Millisecond))
	waitMetricText(t, ctx, srv, fmt.Sprintf(`ccserver_package_connected_peers{ccid=%q,org="Org2MSP"} 1`, idA))
	waitMetricText(t, ctx, srv, fmt.Sprintf(`ccserver_package_connected_peers{ccid=%q,org="Org1MSP"} 1`, idA))

	// Upgrade A -> B under load: serve B, move the definition (sequence 2, both orgs), stop A.
	l := startLoadRetrying(t, c1, 4, "up", true)
	time.Sleep(time.Second)
	writePackages(t, pkgFile, [][2]string{{idA, fmt.Sprintf("127.0.0.1:%d", ports[0])}, {idB, fmt.Sprintf("127.0.0.1:%d", ports[1])}})
	srv.Proc.Signal(syscall.SIGHUP)
	waitReady(t, ctx, srv, idB)
	defB := network.Chaincode{Name: "fleet", Version: "2.0", Sequence: 2, Package: fileB, PackageID: idB, SignaturePolicy: policy}
	if err := net.Deploy(ctx, defB); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	waitMetricText(t, ctx, srv, fmt.Sprintf(`ccserver_package_transactions_total{ccid=%q,org="Org1MSP",status="ok"}`, idB))
	switchOver := time.Since(committed)
	writePackages(t, pkgFile, [][2]string{{idB, fmt.Sprintf("127.0.0.1:%d", ports[1])}})
	srv.Proc.Signal(syscall.SIGHUP)
	waitMetricText(t, ctx, srv, fmt.Sprintf(`ccserver_package_serving{ccid=%q} 0`, idA))
	time.Sleep(2 * time.Second)
	l.halt()
	ok, failed := l.counts()
	t.Logf("upgrade A->B: %d transactions, %d failed, %d resubmitted after MVCC_READ_CONFLICT (endorsed on sequence 1, committed after sequence 2); first transaction on B %s after the commit returned",
		ok, failed, l.retried.Load(), switchOver.Round(time.Millisecond))
	if failed != 0 {
		t.Fatalf("upgrade: %d of %d transactions failed: %v", failed, ok+failed, l.errors())
	}

	// Rotate the server's CA: both roots in every builder config, each peer
	// restarted (and its build of B dropped, so the builder renders the new
	// config) while the other org's gateway carries the load; then the
	// server certificate from the new CA, and each peer restarted again.
	run(t, "ccpki", "init", "--dir", f("server-ca2"))
	for i, o := range orgs {
		cfg := run(t, "ccpki", "builder-config", "--client-cert", f(o.MSPID+"-peer"), "--client-key", f(o.MSPID+"-peer", "tls.key"),
			"--root-cert", f("server-ca", "ca.crt"), "--root-cert", f("server-ca2", "ca.crt"), "--package", fileB, "--out", "-")
		net.Peers[i].Setenv("CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG", strings.TrimSpace(cfg))
	}
	restartAll := func(phase string) {
		for i, o := range orgs {
			other := c2
			if o.MSPID == "Org2MSP" {
				other = c1
			}
			l := startLoad(t, other, 4, phase+o.MSPID)
			time.Sleep(500 * time.Millisecond)
			if err := net.Peers[i].DropBuild(idB); err != nil {
				t.Fatal(err)
			}
			if err := net.Peers[i].Restart(ctx); err != nil {
				t.Fatal(err)
			}
			own := c1
			if o.MSPID == "Org2MSP" {
				own = c2
			}
			retry(t, ctx, o.MSPID+"'s peer serves again", func() error { _, err := own.EvaluateTransaction("ReadAsset", "f1"); return err })
			l.halt()
			ok, failed := l.counts()
			t.Logf("%s: %s restarted: %d transactions through the other org, %d failed", phase, net.Peers[i].Name, ok, failed)
			if failed != 0 {
				t.Fatalf("%s: %d transactions failed: %v", phase, failed, l.errors())
			}
		}
	}
	restartAll("roots")
	run(t, "ccpki", "issue", "--profile", "server", "--ca", f("server-ca2"), "--dns", "localhost", "--ip", "127.0.0.1", "--out", f("server"), "--force")
	waitLog(t, ctx, srv, "TLS material rotated")
	restartAll("leaf")
	if got := strings.TrimSpace(string(mustCLI(t, ctx, net.Peers[0], "lifecycle", "chaincode", "calculatepackageid", fileB))); got != idB {
		t.Fatalf("package id changed: %s, want %s", got, idB)
	}
	t.Logf("server CA rotated; package id still %s", idB)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func writePackages(t *testing.T, file string, entries [][2]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# package id, listen address\n")
	for _, e := range entries {
		b.WriteString(e[0] + " " + e[1] + "\n")
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

func retry(t *testing.T, ctx context.Context, what string, fn func() error) {
	t.Helper()
	var err error
	for {
		if err = fn(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, errorText(err))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitMetricText waits for a sample: "name{labels} value" exactly, or,
// without a value, "name{labels}" with a value above 0.
func waitMetricText(t *testing.T, ctx context.Context, s *ccServer, want string) {
	t.Helper()
	retry(t, ctx, "metric "+want, func() error {
		for _, line := range strings.Split(s.metrics(), "\n") {
			name, val, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			if line == want {
				return nil
			}
			if v, err := strconv.ParseFloat(val, 64); err == nil && name == want && v > 0 {
				return nil
			}
		}
		return fmt.Errorf("no sample %s", want)
	})
}

func waitReady(t *testing.T, ctx context.Context, s *ccServer, ccid string) {
	t.Helper()
	retry(t, ctx, "readyz "+ccid, func() error {
		if code, body := s.get(ctx, "/readyz?ccid="+ccid); code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

func waitLog(t *testing.T, ctx context.Context, s *ccServer, substr string) {
	t.Helper()
	if err := s.Proc.WaitLog(ctx, substr); err != nil {
		t.Fatalf("ccserver log %q: %v", substr, err)
	}
}

func mustCLI(t *testing.T, ctx context.Context, p *network.Peer, args ...string) []byte {
	t.Helper()
	out, err := p.CLI(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
