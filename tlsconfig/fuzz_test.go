package tlsconfig_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/tlsconfig"
)

// FuzzStaticIdentity feeds arbitrary certificate and key bytes; parsing
// must never panic, and a failure must never echo the key input.
func FuzzStaticIdentity(f *testing.F) {
	ca := testpki.NewCA(f)
	l := ca.Server(f)
	f.Add(l.ChainPEM, l.KeyPEM)
	f.Add(l.ChainPEM[:len(l.ChainPEM)/2], l.KeyPEM)
	f.Add(l.ChainPEM, l.KeyPEM[:len(l.KeyPEM)-10])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"), []byte{})
	f.Add(ca.CertPEM, bytes.Replace(l.KeyPEM, []byte("PRIVATE KEY"), []byte("EC PRIVATE KEY"), 2))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		id, err := tlsconfig.StaticIdentity(certPEM, keyPEM)
		if err != nil {
			if len(keyPEM) >= 16 && bytes.Contains([]byte(err.Error()), keyPEM) {
				t.Fatalf("error quotes the key input: %v", err)
			}
			return
		}
		c, err := id.Identity()
		if err != nil || c.Leaf == nil || len(c.Certificate) == 0 {
			t.Fatalf("accepted identity is unusable: %v", err)
		}
	})
}

// FuzzStaticTrust feeds arbitrary bundles.
func FuzzStaticTrust(f *testing.F) {
	ca := testpki.NewCA(f)
	f.Add(ca.CertPEM)
	f.Add(append(append([]byte{}, ca.CertPEM...), ca.Intermediate(f).CertPEM...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := tlsconfig.StaticTrust(data)
		if err != nil {
			return
		}
		pool, certs, err := tr.Trust()
		if err != nil || pool == nil || len(certs) == 0 {
			t.Fatalf("accepted bundle is empty: %v", err)
		}
	})
}

// FuzzCRL feeds arbitrary CRL files (PEM or DER) to the loader.
func FuzzCRL(f *testing.F) {
	ca := testpki.NewCA(f)
	now := time.Now()
	der := ca.CRL(f, now, now.Add(time.Hour))
	f.Add(der)
	f.Add(pemCRL(der, ca.CRL(f, now, now.Add(time.Hour))))
	f.Add(der[:len(der)/2])
	f.Add([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"))
	inter := ca.Intermediate(f)
	f.Add(pemCRL(der, inter.CRL(f, now, now.Add(time.Hour))))
	f.Add(inter.CRL(f, now.Add(-time.Hour), now.Add(-time.Minute)))
	trust := mustStaticTrust(f, ca.CertPEM)
	dir := f.TempDir()
	leaf, viaInter := ca.Client(f), inter.Client(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "crl")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		crl, err := tlsconfig.NewFileCRL(file, trust, tlsconfig.WithPollInterval(time.Hour))
		if err != nil {
			return
		}
		defer crl.Close()
		_ = crl.CheckChain([]*x509.Certificate{leaf.Cert, ca.Cert})
		// Twice: the second check runs from the signature cache.
		for range 2 {
			_ = crl.CheckChain([]*x509.Certificate{viaInter.Cert, inter.Cert, ca.Cert})
		}
		_ = crl.IsRevoked(viaInter.Cert)
	})
}

// FuzzParseIdentityRule must never panic; an accepted rule is not empty
// and its text form reads back as the same rule.
func FuzzParseIdentityRule(f *testing.F) {
	f.Add("o=Org1MSP,ou=peer|admin")
	f.Add("dns=a.example,uri=spiffe://x/y")
	f.Add("o=,=x")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := tlsconfig.ParseIdentityRule(s)
		if err != nil {
			return
		}
		back, err := tlsconfig.ParseIdentityRule(r.String())
		if err != nil || back.String() != r.String() || r.String() == "" {
			t.Fatalf("rule %q: %v does not round-trip: %v", s, r, err)
		}
	})
}

// FuzzVersion must never panic and accepts only TLS 1.2 and 1.3.
func FuzzVersion(f *testing.F) {
	f.Add("1.3")
	f.Add("TLS 1.2")
	f.Fuzz(func(t *testing.T, s string) {
		var v tlsconfig.Version
		if v.UnmarshalText([]byte(s)) == nil && v != tlsconfig.VersionTLS12 && v != tlsconfig.VersionTLS13 {
			t.Fatalf("%q read as %v", s, v)
		}
	})
}
