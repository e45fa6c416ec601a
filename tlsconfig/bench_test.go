package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// BenchmarkHandshake compares a full mTLS handshake over loopback through
// ServerConfig with a plain crypto/tls server holding the same keys.
// Compare with: go test -run '^$' -bench Handshake -count 6 ./tlsconfig
func BenchmarkHandshake(b *testing.B) {
	ca := testpki.NewCA(b)
	serverLeaf, clientLeaf := ca.Server(b), ca.Client(b)
	ours, err := tlsconfig.ServerConfig(mustStaticIdentity(b, serverLeaf), tlsconfig.WithClientTrust(mustStaticTrust(b, ca.CertPEM)))
	if err != nil {
		b.Fatal(err)
	}
	plain := &tls.Config{Certificates: []tls.Certificate{serverLeaf.TLSCertificate(b)}, ClientCAs: ca.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	client := plainClient(ca, clientLeaf, b)
	for _, bc := range []struct {
		name string
		cfg  *tls.Config
	}{{"ours", ours}, {"plain", plain}} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					tc := tls.Server(c, bc.cfg)
					if tc.Handshake() == nil {
						_, _ = tc.Write([]byte("k"))
					}
					c.Close()
				}
			}()
			for b.Loop() {
				c, err := tls.Dial("tcp", ln.Addr().String(), client)
				if err != nil {
					b.Fatal(err)
				}
				var one [1]byte
				if _, err := io.ReadFull(c, one[:]); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			ln.Close()
			<-done
		})
	}
}

// BenchmarkRotationLatency measures the time from an atomic ..data swap to
// the first new connection served the new certificate, with directory
// watching only (the poll interval is an hour).
func BenchmarkRotationLatency(b *testing.B) {
	g := startGRPC(b)
	defer g.stop()
	cfg := g.clientConfig(b)
	var total, worst time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		next := g.ca.Server(b)
		b.StartTimer()
		start := time.Now()
		g.k.publish(b, leafFiles(next))
		for {
			s, err := servedSerial(g.addr, cfg)
			if err == nil && s.Cmp(next.Cert.SerialNumber) == 0 {
				break
			}
			if time.Since(start) > waitFor {
				b.Fatalf("new certificate not served after %s", waitFor)
			}
			time.Sleep(2 * time.Millisecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
		n++
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms-to-serve")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-worst")
}

// BenchmarkCRLCheckChain is the CRL work of one handshake for a peer whose
// leaf comes from an intermediate outside the bundle (root only): the
// intermediate's CRL signature is checked once, then served from cache.
// Run: go test -run '^$' -bench CRLCheckChain ./tlsconfig
func BenchmarkCRLCheckChain(b *testing.B) {
	ca := testpki.NewCA(b)
	inter := ca.Intermediate(b)
	now := time.Now()
	serials := make([]*big.Int, 1000)
	for i := range serials {
		serials[i] = big.NewInt(int64(i + 1000))
	}
	file := filepath.Join(b.TempDir(), "crl.pem")
	writeAtomic(b, file, pemCRL(ca.CRL(b, now, now.Add(time.Hour)), inter.CRL(b, now, now.Add(time.Hour), serials...)), 0o644)
	crl, err := tlsconfig.NewFileCRL(file, mustStaticTrust(b, ca.CertPEM), tlsconfig.WithPollInterval(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer crl.Close()
	chain := []*x509.Certificate{inter.Client(b).Cert, inter.Cert, ca.Cert}
	for b.Loop() {
		if err := crl.CheckChain(chain); err != nil {
			b.Fatal(err)
		}
	}
}
