package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccserver/ccserver/e2e/internal/network"
)

// TestTLSUnderThePeer runs ccserver's TLS life cycle under a real peer with
// a gateway client submitting all along: server renewal with no failed
// transaction, kill -9 and restart, the client CA rotated on a live server
// while the channel moves to a package with the peer's new certificate, and
// the peer's certificate revoked.
func TestTLSUnderThePeer(t *testing.T) {
	needFabric(t)
	parent := t
	ctx := testContext(t, 6*time.Minute)
	dir := filepath.Join(workDir, "tlscc")
	p := newPKI(t, dir)
	run(t, "ccpki", "crl", "--ca", p.CA)
	clientCA := filepath.Join(dir, "client-ca.pem")
	writeAtomic(t, clientCA, filepath.Join(p.CA, "ca.crt"))
	portA, _ := network.FreePort()
	addrA := fmt.Sprintf("127.0.0.1:%d", portA)
	pkgA, idA := p.pack(t, "tlscc_1.0", addrA, "--dial-timeout", "3s")
	pin := strings.TrimSpace(run(t, "ccpki", "pin", filepath.Join(p.CA, "ca.crt")))
	a := startServer(t, "ccserver", p, addrA, idA, "--pin", pin, "--crl", filepath.Join(p.CA, "crl.pem"))
	a.args = replaceFlag(a.args, "--client-ca", clientCA)
	a.Proc.Stop(5 * time.Second)
	a.restart()
	if err := fabnet.Deploy(ctx, network.Chaincode{Name: "tlscc", Package: pkgA, PackageID: idA}); err != nil {
		t.Fatal(err)
	}
	c := userGateway(t).Contract("tlscc")
	if _, err := c.SubmitTransaction("InitLedger"); err != nil {
		t.Fatal(errorText(err))
	}

	t.Run("renewal under load", func(t *testing.T) {
		l := startLoad(t, c, 4, "renew")
		l.waitOK(t, 10, 30*time.Second)
		before := certSerial(t, filepath.Join(p.Server, "tls.crt"))
		run(t, "ccpki", "renew", "--ca", p.CA, "--dir", p.Server, "--force")
		after := certSerial(t, filepath.Join(p.Server, "tls.crt"))
		if before.Cmp(after) == 0 {
			t.Fatal("ccpki renew --force kept the serial")
		}
		waitFor(t, 10*time.Second, "the server to serve the renewed certificate to new connections", func() bool {
			s, err := probeTLS(addrA, filepath.Join(p.CA, "ca.crt"), filepath.Join(p.Peer, "tls.crt"), filepath.Join(p.Peer, "tls.key"))
			return err == nil && s.Cmp(after) == 0
		})
		l.waitOK(t, 10, 30*time.Second)
		l.halt()
		if ok, failed := l.counts(); failed != 0 {
			t.Fatalf("%d of %d transactions failed across the renewal: %v", failed, ok+failed, l.errors())
		}
		if !strings.Contains(a.Proc.Log(), "TLS material rotated") {
			t.Fatal("ccserver did not log the rotation")
		}
	})

	t.Run("kill -9 and restart", func(t *testing.T) {
		a.Proc.Kill()
		a.restart()
		if _, err := c.SubmitTransaction("CreateAsset", "after-kill", "red", "1", "x", "1"); err != nil {
			t.Fatalf("first invoke after restart: %s", errorText(err))
		}
	})

	// Blue/green to a package with the peer's certificate from a new CA:
	// server B starts trusting only the old CA, the new CA is added while it
	// runs, the channel moves to B's package, then the old CA is removed.
	p2 := ccaasPKI{Dir: filepath.Join(dir, "ca2"), CA: filepath.Join(dir, "ca2", "ca"), Server: p.Server, Peer: filepath.Join(dir, "ca2", "peer")}
	var b *ccServer
	var addrB string
	t.Run("client CA rotation", func(t *testing.T) {
		run(t, "ccpki", "init", "--dir", p2.CA, "--cn", "Org1 chaincode CA 2")
		run(t, "ccpki", "crl", "--ca", p2.CA)
		run(t, "ccpki", "issue", "--profile", "client", "--ca", p2.CA, "--cn", "peer0.org1.example.com", "--org", "Org1MSP", "--out", p2.Peer)
		bundleB := filepath.Join(dir, "client-ca-b.pem")
		writeAtomic(t, bundleB, filepath.Join(p.CA, "ca.crt"))
		crlsB := filepath.Join(dir, "crls-b.pem")
		writeAtomic(t, crlsB, filepath.Join(p.CA, "crl.pem"), filepath.Join(p2.CA, "crl.pem"))
		portB, _ := network.FreePort()
		addrB = fmt.Sprintf("127.0.0.1:%d", portB)
		// The package carries the server's CA (unchanged) and the peer's new client certificate.
		pkgB, idB := (ccaasPKI{Dir: p2.Dir, CA: p.CA, Peer: p2.Peer}).pack(t, "tlscc_2.0", addrB, "--dial-timeout", "3s")
		b = startServer(parent, "ccserver", ccaasPKI{Dir: p2.Dir, CA: p.CA, Server: p.Server}, addrB, idB, "--crl", crlsB)
		b.args = replaceFlag(b.args, "--client-ca", bundleB)
		b.Proc.Stop(5 * time.Second)
		b.restart()
		peer2 := func() error {
			_, err := probeTLS(addrB, filepath.Join(p.CA, "ca.crt"), filepath.Join(p2.Peer, "tls.crt"), filepath.Join(p2.Peer, "tls.key"))
			return err
		}
		if peer2() == nil {
			t.Fatal("server B admitted a client of the new CA before trusting it")
		}
		writeAtomic(t, bundleB, filepath.Join(p.CA, "ca.crt"), filepath.Join(p2.CA, "ca.crt"))
		waitFor(t, 10*time.Second, "server B to trust the new CA", func() bool { return peer2() == nil })

		l := startLoad(t, c, 2, "move")
		if err := fabnet.Deploy(ctx, network.Chaincode{Name: "tlscc", Version: "2.0", Sequence: 2, Package: pkgB, PackageID: idB}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the peer to move to server B", func() bool {
			return strings.Contains(b.metrics(), "ccserver_connected_peers 1")
		})
		l.waitOK(t, 5, 30*time.Second)
		l.halt()
		moved, failedMove := l.counts()
		t.Logf("while the definition moved: %d submitted, %d failed (%v)", moved, failedMove, l.errors())

		writeAtomic(t, bundleB, filepath.Join(p2.CA, "ca.crt"))
		oldPeer := func() error {
			_, err := probeTLS(addrB, filepath.Join(p.CA, "ca.crt"), filepath.Join(p.Peer, "tls.crt"), filepath.Join(p.Peer, "tls.key"))
			return err
		}
		waitFor(t, 10*time.Second, "server B to refuse the old CA's client", func() bool { return oldPeer() != nil })
		if _, err := c.SubmitTransaction("CreateAsset", "after-rotation", "red", "1", "x", "1"); err != nil {
			t.Fatalf("invoke after the old CA was removed: %s", errorText(err))
		}
		a.Proc.Stop(10 * time.Second)
	})

	t.Run("peer certificate revoked", func(t *testing.T) {
		if b == nil {
			t.Skip("needs the rotation step")
		}
		run(t, "ccpki", "revoke", "--ca", p2.CA, "--cert", p2.Peer)
		run(t, "ccpki", "crl", "--ca", p2.CA)
		writeAtomic(t, filepath.Join(dir, "crls-b.pem"), filepath.Join(p.CA, "crl.pem"), filepath.Join(p2.CA, "crl.pem"))
		waitFor(t, 15*time.Second, "server B to close the revoked peer's stream", func() bool {
			return strings.Contains(b.metrics(), "ccserver_connected_peers 0")
		})
		_, err := c.SubmitTransaction("CreateAsset", "after-revoke", "red", "1", "x", "1")
		if err == nil {
			t.Fatal("an invoke succeeded through a peer whose certificate is revoked")
		}
		t.Logf("invoke through the revoked peer: %s", errorText(err))
		waitFor(t, 10*time.Second, "ccserver to log the refused handshake", func() bool {
			log := b.Proc.Log()
			return strings.Contains(log, "TLS handshake rejected") && strings.Contains(log, "revoked")
		})
	})
	_ = syscall.SIGTERM
}

// replaceFlag returns args with flag's value set to value.
func replaceFlag(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = value
			return out
		}
	}
	return append(out, flag, value)
}
