package cfsslremote_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/testcfssl"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
	"github.com/ccserver/ccserver/pki/cfsslremote"
)

func TestMain(m *testing.M) {
	testcfssl.QuietLogs() // cfssl's server logs every request at info level
	goleak.VerifyTestMain(m)
}

const authKey = testcfssl.AuthKey

// startCFSSL is a real cfssl API server (cfssl's own sign and info
// handlers over a local signer) for ca on loopback TLS, signing with
// testcfssl.Config.
func startCFSSL(t *testing.T, ca *testpki.CA) *testcfssl.Server {
	t.Helper()
	return testcfssl.Start(t, testcfssl.Options{CA: ca})
}

func client(t *testing.T, s *testcfssl.Server, mutate func(*cfsslremote.Config)) *cfsslremote.Client {
	t.Helper()
	cfg := cfsslremote.Config{
		URL:       s.URL,
		AuthKey:   []byte(authKey + "\n"),
		Profile:   "server",
		TLSConfig: s.TLSConfig(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := cfsslremote.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCSR(t *testing.T, cn string, dns ...string) (*x509.CertificateRequest, crypto.Signer) {
	t.Helper()
	return testpki.NewCSR(t, testpki.WithCommonName(cn), testpki.WithDNS(dns...), testpki.WithIP(net.IPv4(127, 0, 0, 1)))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestIssueProfiles(t *testing.T) {
	root := testpki.NewCA(t, testpki.WithCommonName("cfssl test root"))
	srv := startCFSSL(t, root)
	c := client(t, srv, nil)

	tests := []struct {
		profile string
		wantEKU x509.ExtKeyUsage
	}{
		{"", x509.ExtKeyUsageServerAuth}, // Config.Profile ("server")
		{"server", x509.ExtKeyUsageServerAuth},
		{"client", x509.ExtKeyUsageClientAuth},
	}
	for _, tt := range tests {
		t.Run("profile="+tt.profile, func(t *testing.T) {
			csr, key := newCSR(t, "cc.example.test", "cc.example.test")
			iss, err := c.Issue(ctx(t), &pki.Request{CSR: csr, Profile: tt.profile})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if len(iss.Roots) != 1 || !iss.Roots[0].Equal(root.Cert) {
				t.Fatalf("Roots = %v, want the cfssl CA", iss.Roots)
			}
			if len(iss.Intermediates) != 0 {
				t.Errorf("Intermediates = %d, want none (the signer is the root)", len(iss.Intermediates))
			}
			if !iss.Certificate.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
				t.Error("certificate is not for the CSR's key")
			}
			if len(iss.Certificate.ExtKeyUsage) != 1 || iss.Certificate.ExtKeyUsage[0] != tt.wantEKU {
				t.Errorf("ExtKeyUsage = %v, want [%v]", iss.Certificate.ExtKeyUsage, tt.wantEKU)
			}
			if _, err := iss.Certificate.Verify(x509.VerifyOptions{DNSName: "cc.example.test", Roots: root.Pool(), KeyUsages: []x509.ExtKeyUsage{tt.wantEKU}}); err != nil {
				t.Errorf("certificate does not verify: %v", err)
			}
			if d := iss.Certificate.NotAfter.Sub(iss.Certificate.NotBefore); d > 2*time.Hour {
				t.Errorf("lifetime %s, want the profile's hour (plus backdating)", d)
			}
		})
	}

	// Renew is a fresh authsign of the new CSR.
	csr, key := newCSR(t, "cc.example.test", "cc.example.test")
	iss, err := c.Renew(ctx(t), nil, nil, &pki.Request{CSR: csr, Profile: "server"})
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if !iss.Certificate.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("renewed certificate is not for the new key")
	}
}

func TestIntermediateSigner(t *testing.T) {
	root := testpki.NewCA(t, testpki.WithCommonName("cfssl test root"))
	inter := root.Intermediate(t, testpki.WithCommonName("cfssl test intermediate"))
	srv := startCFSSL(t, inter)
	csr, _ := newCSR(t, "cc.example.test", "cc.example.test")

	if _, err := client(t, srv, nil).Issue(ctx(t), &pki.Request{CSR: csr}); err == nil || !strings.Contains(err.Error(), "intermediate") {
		t.Fatalf("Issue without roots from an intermediate signer: err = %v, want it to ask for the root", err)
	}
	c := client(t, srv, func(cfg *cfsslremote.Config) { cfg.Roots = []*x509.Certificate{root.Cert} })
	iss, err := c.Issue(ctx(t), &pki.Request{CSR: csr})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if len(iss.Intermediates) != 1 || !iss.Intermediates[0].Equal(inter.Cert) {
		t.Errorf("Intermediates = %v, want the cfssl signer", iss.Intermediates)
	}
	if len(iss.Roots) != 1 || !iss.Roots[0].Equal(root.Cert) {
		t.Errorf("Roots = %v, want the configured root", iss.Roots)
	}
}

func TestRefused(t *testing.T) {
	root := testpki.NewCA(t)
	srv := startCFSSL(t, root)
	other := testpki.NewCA(t)
	otherPool := x509.NewCertPool()
	otherPool.AddCert(other.Cert)
	csr, _ := newCSR(t, "cc.example.test", "cc.example.test")

	tests := []struct {
		name    string
		mutate  func(*cfsslremote.Config)
		profile string
		wantIs  error
		wantMsg string
	}{
		{"wrong auth key", func(c *cfsslremote.Config) { c.AuthKey = []byte(strings.Repeat("00", 32)) }, "", pki.ErrUnauthorized, "invalid token"},
		{"profile without auth key", nil, "open", nil, "no auth_key"},
		{"untrusted server certificate", func(c *cfsslremote.Config) { c.TLSConfig = &tls.Config{RootCAs: otherPool} }, "", nil, "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(t, srv, tt.mutate).Issue(ctx(t), &pki.Request{CSR: csr, Profile: tt.profile})
			if err == nil {
				t.Fatal("Issue succeeded, want a refusal")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if tt.wantIs == nil && (errors.Is(err, pki.ErrUnauthorized) || errors.Is(err, pki.ErrUnavailable)) {
				t.Errorf("err = %v, classified as retryable/credential failure, want a plain error", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
			}
			if strings.Contains(strings.ToLower(err.Error()), authKey) {
				t.Errorf("error leaks the auth key: %q", err)
			}
		})
	}
}

// TestProfileFallback: cfssl signs with its default profile when it has
// no profile of the requested name; the client notices when the role's
// usage is missing instead of handing out a server certificate as a
// client one.
func TestProfileFallback(t *testing.T) {
	cfg := strings.Replace(testcfssl.Config, `"client": {"expiry": "1h", "usages": ["signing", "key encipherment", "client auth"], "auth_key": "ccpki"},`, "", 1)
	if cfg == testcfssl.Config {
		t.Fatal("the client profile is not where the test expects it in testcfssl.Config")
	}
	srv := testcfssl.Start(t, testcfssl.Options{Config: cfg})
	csr, _ := newCSR(t, "peer0.org1.example.com")
	_, err := client(t, srv, nil).Issue(ctx(t), &pki.Request{CSR: csr, Profile: "client"})
	if err == nil || !strings.Contains(err.Error(), "client auth") {
		t.Fatalf("Issue with a missing client profile: err = %v, want it to name the missing client auth usage", err)
	}
}

func TestUnavailable(t *testing.T) {
	root := testpki.NewCA(t)
	srv := startCFSSL(t, root)
	c := client(t, srv, nil)
	csr, _ := newCSR(t, "cc.example.test", "cc.example.test")
	if _, err := c.Issue(ctx(t), &pki.Request{CSR: csr}); err != nil {
		t.Fatalf("Issue while up: %v", err)
	}
	srv.Close()
	_, err := c.Issue(ctx(t), &pki.Request{CSR: csr})
	if !errors.Is(err, pki.ErrUnavailable) {
		t.Fatalf("Issue with the server down: err = %v, want ErrUnavailable", err)
	}

	// A gateway in front answering 503.
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream down", http.StatusServiceUnavailable)
	}))
	defer gw.Close()
	c2, err := cfsslremote.New(cfsslremote.Config{URL: gw.URL, AuthKey: []byte(authKey), InsecurePlaintextHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Issue(ctx(t), &pki.Request{CSR: csr}); !errors.Is(err, pki.ErrUnavailable) {
		t.Fatalf("Issue through a 503 gateway: err = %v, want ErrUnavailable", err)
	}
}
