package stepca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/stepca"
	"github.com/ccserver/ccserver/pkitest/testca"
)

func TestMain(m *testing.M) { testca.Main(m) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newCSR(t *testing.T, cn string, dns []string, ips []net.IP) (*x509.CertificateRequest, crypto.Signer) {
	t.Helper()
	return testpki.NewCSR(t, testpki.WithCommonName(cn), testpki.WithDNS(dns...), testpki.WithIP(ips...))
}

// verify checks that iss chains to the CA root as a TLS server certificate
// for name.
func verify(t *testing.T, s *testca.StepCA, iss *pki.Issued, name string) {
	t.Helper()
	if len(iss.Roots) != 1 || !iss.Roots[0].Equal(s.Root) {
		t.Fatalf("Roots = %d certificates, want the step-ca root", len(iss.Roots))
	}
	if len(iss.Intermediates) != 1 {
		t.Fatalf("Intermediates = %d certificates, want the step-ca intermediate", len(iss.Intermediates))
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(iss.Roots[0])
	inter.AddCert(iss.Intermediates[0])
	if _, err := iss.Certificate.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("issued certificate does not verify for %s: %v", name, err)
	}
}

// TestLifecycle walks one certificate through issue, renew (same key),
// rekey (new key), revoke, and the refusal to renew a revoked certificate.
func TestLifecycle(t *testing.T) {
	s := testca.StartStepCA(t)
	ctx := testContext(t)
	c := s.Client(t, nil)

	csr, key := newCSR(t, "cc.example.test", []string{"cc.example.test"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	iss, err := c.Issue(ctx, &pki.Request{CSR: csr, Profile: "server", Lifetime: time.Hour})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	verify(t, s, iss, "cc.example.test")
	if got := iss.Certificate.NotAfter.Sub(iss.Certificate.NotBefore); got < 59*time.Minute || got > 62*time.Minute {
		t.Errorf("lifetime = %s, want about the requested hour", got)
	}
	if len(iss.Certificate.IPAddresses) != 1 || !iss.Certificate.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("IP SANs = %v, want [127.0.0.1]", iss.Certificate.IPAddresses)
	}

	renewed, err := c.Renew(ctx, iss.Certificate, key, nil)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	verify(t, s, renewed, "cc.example.test")
	if renewed.Certificate.SerialNumber.Cmp(iss.Certificate.SerialNumber) == 0 {
		t.Error("renewal returned the same serial")
	}
	if !renewed.Certificate.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("renewal without a CSR changed the key")
	}

	csr2, key2 := newCSR(t, "cc.example.test", []string{"cc.example.test"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	rekeyed, err := c.Renew(ctx, renewed.Certificate, key, &pki.Request{CSR: csr2})
	if err != nil {
		t.Fatalf("Renew with a new key: %v", err)
	}
	verify(t, s, rekeyed, "cc.example.test")
	if !rekeyed.Certificate.PublicKey.(*ecdsa.PublicKey).Equal(key2.Public()) {
		t.Error("rekey did not certify the new key")
	}

	if err := c.Revoke(ctx, rekeyed.Certificate, pki.ReasonSuperseded); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	_, err = c.Renew(ctx, rekeyed.Certificate, key2, nil)
	if !errors.Is(err, pki.ErrUnauthorized) {
		t.Fatalf("Renew of a revoked certificate: err = %v, want ErrUnauthorized", err)
	}
	// step-ca hides why (the CA log says "certificate has been revoked");
	// the status and endpoint must still be in the error.
	if !strings.Contains(err.Error(), "/1.0/renew") || !strings.Contains(err.Error(), "401") {
		t.Errorf("error %q does not name the refused renewal", err)
	}

	// The certificate itself can revoke itself over mutual TLS.
	if err := c.RevokeWithKey(ctx, renewed.Certificate, key, pki.ReasonKeyCompromise); err != nil {
		t.Fatalf("RevokeWithKey: %v", err)
	}
	if _, err := c.Renew(ctx, renewed.Certificate, key, nil); !errors.Is(err, pki.ErrUnauthorized) {
		t.Fatalf("Renew after RevokeWithKey: err = %v, want ErrUnauthorized", err)
	}
}

func TestRefused(t *testing.T) {
	s := testca.StartStepCA(t)
	csr, _ := newCSR(t, "cc.example.test", []string{"cc.example.test"}, nil)

	// A key with the provisioner's key id but not its private key: the
	// token's signature does not verify at the CA.
	forged, err := jose.GenerateJWK("EC", "P-256", "ES256", "sig", s.KeyID, 0)
	if err != nil {
		t.Fatal(err)
	}
	forgedJSON, err := json.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		mutate  func(*stepca.Config)
		req     *pki.Request
		wantIs  error
		wantMsg string
	}{
		{"wrong password", func(c *stepca.Config) { c.ProvisionerPassword = []byte("wrong password") },
			&pki.Request{CSR: csr}, pki.ErrUnauthorized, "password"},
		{"forged token", func(c *stepca.Config) { c.ProvisionerKey = forgedJSON; c.ProvisionerPassword = nil },
			&pki.Request{CSR: csr}, pki.ErrUnauthorized, "401"},
		{"unknown provisioner", func(c *stepca.Config) { c.Provisioner = "nobody" },
			&pki.Request{CSR: csr}, nil, `no JWK provisioner named "nobody"`},
		{"wrong fingerprint", func(c *stepca.Config) { c.RootFingerprint = strings.Repeat("ab", 32) },
			&pki.Request{CSR: csr}, nil, "no root with fingerprint"},
		{"unsupported profile", nil,
			&pki.Request{CSR: csr, Profile: "codesigning"}, nil, `profile "codesigning"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.Client(t, tt.mutate)
			_, err := c.Issue(testContext(t), tt.req)
			if err == nil {
				t.Fatal("Issue succeeded, want a refusal")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), string(s.Password)) {
				t.Errorf("error leaks the provisioner password: %q", err)
			}
		})
	}
}

// TestUnavailable: a CA that went away after the client bootstrapped, and
// one that never answered, both give ErrUnavailable so a renewer retries.
func TestUnavailable(t *testing.T) {
	s := testca.StartStepCA(t)
	ctx := testContext(t)
	c := s.Client(t, nil)
	csr, key := newCSR(t, "cc.example.test", []string{"cc.example.test"}, nil)
	iss, err := c.Issue(ctx, &pki.Request{CSR: csr})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	s.Stop()

	if _, err := c.Renew(ctx, iss.Certificate, key, nil); !errors.Is(err, pki.ErrUnavailable) {
		t.Errorf("Renew with the CA down: err = %v, want ErrUnavailable", err)
	}
	if _, err := c.Issue(ctx, &pki.Request{CSR: csr}); !errors.Is(err, pki.ErrUnavailable) {
		t.Errorf("Issue with the CA down: err = %v, want ErrUnavailable", err)
	}
	fresh := s.Client(t, nil)
	if _, err := fresh.Issue(ctx, &pki.Request{CSR: csr}); !errors.Is(err, pki.ErrUnavailable) {
		t.Errorf("first Issue with the CA down: err = %v, want ErrUnavailable", err)
	}
}
