package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// tlsServer is a real TLS server built by tlsconfig on loopback; every
// accepted connection that completes the handshake gets "ok\n".
type tlsServer struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
}

func serveTLS(t *testing.T, cfg *tls.Config) *tlsServer {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: ln.Addr().String(), ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err == nil {
					_, _ = c.Write([]byte("ok\n"))
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// dial makes a full handshake (no session resumption, so the server's
// current certificate is always sent) and waits for the server's "ok",
// which comes only once the server accepted the client certificate.
func dial(addr string, roots *x509.CertPool, client *tls.Certificate) (*x509.Certificate, error) {
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second}, Config: cfg}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("reading the server's answer: %w", err)
	}
	if line != "ok\n" {
		return nil, fmt.Errorf("server answered %q", line)
	}
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

func rootPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	certs, err := pki.ReadCertificates(file)
	if err != nil {
		t.Fatal(err)
	}
	return poolOf(certs)
}

func loadPair(t *testing.T, dir string) *tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, pki.CertFile), filepath.Join(dir, pki.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestRenewDaemonUnderRunningServer: a TLS server reads the issued
// directory through tlsconfig.NewFileIdentity (tls.crt/tls.key resolve
// through the ..data symlink); `ccpki renew --daemon` replaces the
// certificate again and again underneath it. New connections get the new
// serials without a restart, and no connection attempt fails meanwhile.
func TestRenewDaemonUnderRunningServer(t *testing.T) {
	dir := t.TempDir()
	ca, srv := filepath.Join(dir, "ca"), filepath.Join(dir, "srv")
	mustCCPKI(t, "init", "--dir", ca)
	mustCCPKI(t, "issue", "--ca", ca, "--profile", "server", "--dns", "localhost", "--ip", "127.0.0.1", "--lifetime", "1h", "--out", srv)
	if fi, err := os.Lstat(filepath.Join(srv, "..data")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s/..data is not a symlink (%v): not the secret-volume layout", srv, err)
	}

	id, err := tlsconfig.NewFileIdentity(filepath.Join(srv, pki.CertFile), filepath.Join(srv, pki.KeyFile), tlsconfig.WithPollInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	cfg, err := tlsconfig.ServerConfig(id, tlsconfig.WithInsecureNoClientAuth())
	if err != nil {
		t.Fatal(err)
	}
	server := serveTLS(t, cfg)
	roots := rootPool(t, filepath.Join(ca, pki.BundleFile))
	first, err := dial(server.addr, roots, nil)
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}

	// A 1-minute certificate renewed when 99% of its lifetime (backdating
	// included) is left: due at once, every time, so the daemon renews
	// every --min-backoff.
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"renew", "--ca", ca, "--dir", srv, "--daemon", "--lifetime", "1m",
			"--renew-before", "0.99", "--min-backoff", "100ms"}, &out, &out)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("renew --daemon exited %d after cancel:\n%s", code, out.String())
			}
		}
	}
	defer stop()

	seen := map[string]bool{first.SerialNumber.String(): true}
	dials := 0
	waitFor(t, "three renewed certificates served", func() bool {
		dials++
		leaf, err := dial(server.addr, roots, nil)
		if err != nil {
			t.Fatalf("connection %d failed while the daemon renewed: %v\ndaemon output:\n%s", dials, err, out.String())
		}
		seen[leaf.SerialNumber.String()] = true
		return len(seen) >= 4
	})
	stop()
	if n := strings.Count(out.String(), "renewed "+srv); n < 3 {
		t.Errorf("daemon reported %d renewals, want at least 3:\n%s", n, out.String())
	}
	// The server still serves what is on disk now.
	kp, err := pki.ReadCertManager(srv, pki.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the last renewal served", func() bool {
		leaf, err := dial(server.addr, roots, nil)
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Equal(kp.Certificate)
	})
	t.Logf("%d connections, %d distinct serials, none failed", dials, len(seen))
}

// TestRevokeRefusesClientAtNextHandshake: a tlsconfig server requires
// client certificates and checks the CA's crl.pem (tlsconfig.NewFileCRL);
// after `ccpki revoke` the revoked peer is refused at its next handshake
// while another peer of the same CA still gets in.
func TestRevokeRefusesClientAtNextHandshake(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	srv, peer0, peer1 := filepath.Join(dir, "srv"), filepath.Join(dir, "peer0"), filepath.Join(dir, "peer1")
	mustCCPKI(t, "init", "--dir", ca)
	mustCCPKI(t, "issue", "--ca", ca, "--profile", "server", "--dns", "localhost", "--out", srv)
	mustCCPKI(t, "issue", "--ca", ca, "--profile", "client", "--cn", "peer0", "--out", peer0)
	mustCCPKI(t, "issue", "--ca", ca, "--profile", "client", "--cn", "peer1", "--out", peer1)
	mustCCPKI(t, "crl", "--ca", ca)

	// The server trusts ca.crt and reads crl.pem as ccpki wrote them.
	bundle := filepath.Join(ca, pki.BundleFile)
	poll := tlsconfig.WithPollInterval(50 * time.Millisecond)
	trust, err := tlsconfig.NewFileTrust(bundle, poll)
	if err != nil {
		t.Fatal(err)
	}
	defer trust.Close()
	crl, err := tlsconfig.NewFileCRL(filepath.Join(ca, pki.CRLFile), trust, poll)
	if err != nil {
		t.Fatal(err)
	}
	defer crl.Close()
	id, err := tlsconfig.NewFileIdentity(filepath.Join(srv, pki.CertFile), filepath.Join(srv, pki.KeyFile), poll)
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	cfg, err := tlsconfig.ServerConfig(id, tlsconfig.WithClientTrust(trust), tlsconfig.WithCRL(crl), tlsconfig.WithoutSessionTickets())
	if err != nil {
		t.Fatal(err)
	}
	server := serveTLS(t, cfg)
	roots := rootPool(t, filepath.Join(ca, pki.BundleFile))
	c0, c1 := loadPair(t, peer0), loadPair(t, peer1)
	for _, c := range []*tls.Certificate{c0, c1} {
		if _, err := dial(server.addr, roots, c); err != nil {
			t.Fatalf("before revocation: %v", err)
		}
	}

	got := mustCCPKI(t, "revoke", "--ca", ca, "--cert", peer0, "--reason", "key-compromise")
	if !strings.Contains(got, "CRL written to "+filepath.Join(ca, pki.CRLFile)) {
		t.Errorf("revoke output:\n%s", got)
	}
	waitFor(t, "the revoked peer refused", func() bool {
		_, err := dial(server.addr, roots, c0)
		return err != nil
	})
	if _, err := dial(server.addr, roots, c1); err != nil {
		t.Fatalf("the unrevoked peer was refused too: %v", err)
	}
}
