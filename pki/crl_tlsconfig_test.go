package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ccserver/ccserver/tlsconfig"
)

// TestCRLWithTLSConfigServer runs the deployment the docs describe with
// the default CA (root + intermediate): a tlsconfig server trusting ca.crt
// (the root alone) and checking the CA's crl.pem refuses a revoked client
// at its next handshake and admits another. Both with root.key in the CA
// directory (crl.pem then also holds the root's CRL) and with the root key
// offline (crl.pem holds the intermediate's CRL only).
func TestCRLWithTLSConfigServer(t *testing.T) {
	for _, rootOffline := range []bool{false, true} {
		name := "root key present"
		if rootOffline {
			name = "root key offline"
		}
		t.Run(name, func(t *testing.T) {
			ca := newCA(t, InitOptions{})
			if ca.cert.Equal(ca.root) {
				t.Fatal("want the default CA with an intermediate")
			}
			if rootOffline {
				if err := os.Remove(filepath.Join(ca.dir, rootKeyFile)); err != nil {
					t.Fatal(err)
				}
			}
			_, server := issue(t, ca, "server", CSRSpec{Subject: pkix.Name{CommonName: "localhost"}, Hosts: []string{"localhost", "127.0.0.1"}})
			_, peer0 := issue(t, ca, "client", CSRSpec{Subject: pkix.Name{CommonName: "peer0"}})
			_, peer1 := issue(t, ca, "client", CSRSpec{Subject: pkix.Name{CommonName: "peer1"}})
			crlFile, err := ca.WriteCRL(context.Background(), "", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			crls := countCRLs(t, crlFile)
			if want := map[bool]int{false: 2, true: 1}[rootOffline]; crls != want {
				t.Fatalf("crl.pem holds %d CRLs, want %d", crls, want)
			}

			addr := serveWithCRL(t, filepath.Join(ca.dir, BundleFile), crlFile, server)
			roots := x509.NewCertPool()
			roots.AddCert(ca.root)
			for _, p := range []*KeyPair{peer0, peer1} {
				if err := dialOnce(addr, roots, p); err != nil {
					t.Fatalf("%s before revocation: %v", p.Certificate.Subject.CommonName, err)
				}
			}

			if err := ca.Revoke(context.Background(), peer0.Certificate, ReasonKeyCompromise); err != nil {
				t.Fatal(err)
			}
			if _, err := ca.WriteCRL(context.Background(), "", time.Hour); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for dialOnce(addr, roots, peer0) == nil {
				if time.Now().After(deadline) {
					t.Fatal("the revoked client is still admitted 30s after the new crl.pem")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := dialOnce(addr, roots, peer1); err != nil {
				t.Fatalf("the unrevoked client was refused: %v", err)
			}
		})
	}
}

func countCRLs(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		if b.Type == "X509 CRL" {
			n++
		}
	}
	return n
}

// serveWithCRL runs a tlsconfig server (hot-reloading files) until the
// test ends and returns its address.
func serveWithCRL(t *testing.T, bundleFile, crlFile string, server *KeyPair) string {
	t.Helper()
	poll := tlsconfig.WithPollInterval(50 * time.Millisecond)
	trust, err := tlsconfig.NewFileTrust(bundleFile, poll)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trust.Close() })
	crl, err := tlsconfig.NewFileCRL(crlFile, trust, poll)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crl.Close() })
	dir := t.TempDir()
	if err := LayoutFlat.Write(dir, &Issued{Certificate: server.Certificate, Intermediates: server.Intermediates}, server.Key); err != nil {
		t.Fatal(err)
	}
	id, err := tlsconfig.NewFileIdentity(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), poll)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { id.Close() })
	cfg, err := tlsconfig.ServerConfig(id,
		tlsconfig.WithClientTrust(trust), tlsconfig.WithCRL(crl), tlsconfig.WithoutSessionTickets())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			tc := tls.Server(c, cfg)
			if tc.Handshake() == nil {
				_, _ = tc.Write([]byte("k"))
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// dialOnce connects as client and reads the server's byte; in TLS 1.3 a
// refusal shows only on that read.
func dialOnce(addr string, roots *x509.CertPool, client *KeyPair) error {
	d := &net.Dialer{Timeout: 30 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{tlsCert(client)}})
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if b[0] != 'k' {
		return errors.New("unexpected byte from the server")
	}
	return nil
}
