package stepca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.step.sm/crypto/jose"
	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/pki"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const goodFP = "d9d0978692f1c7cc791f5c343ce98771900721405e834cd27b9502cc719f5097"

func TestNewRejectsBadConfig(t *testing.T) {
	ok := Config{URL: "https://ca.example.com:9000", RootFingerprint: goodFP, Provisioner: "ccpki", ProvisionerPassword: []byte("pw")}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"empty URL", func(c *Config) { c.URL = "" }, "URL is empty"},
		{"relative URL", func(c *Config) { c.URL = "ca.example.com" }, "not an absolute URL"},
		{"plain http", func(c *Config) { c.URL = "http://ca.example.com" }, "must use https"},
		{"short fingerprint", func(c *Config) { c.RootFingerprint = "abcd" }, "not a SHA-256 fingerprint"},
		{"SPKI pin instead of fingerprint", func(c *Config) { c.RootFingerprint = "sha256/2dCXhpLxx8x5H1w0POmHcZAHIUBeg0zSe5UCzHGfUJc=" }, "SPKI pin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("New(valid config): %v", err)
	}
}

// Renewing needs no provisioner credentials, so New accepts a config
// without them; Issue and Revoke say what is missing before any network
// call (the URL here does not resolve).
func TestProvisionerNeededToIssueAndRevoke(t *testing.T) {
	csrKey := testpki.NewKey(t)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"cc.example"}}, csrKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	leaf := testpki.NewCA(t).Server(t)
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no provisioner", Config{ProvisionerPassword: []byte("pw")}, "provisioner name is empty"},
		{"no credentials", Config{Provisioner: "ccpki"}, "neither a provisioner password nor a provisioner key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.URL, tt.cfg.RootFingerprint = "https://ca.invalid:9000", goodFP
			c, err := New(tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if _, err := c.Issue(context.Background(), &pki.Request{CSR: csr}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Issue: err = %v, want it to mention %q", err, tt.want)
			}
			if err := c.Revoke(context.Background(), leaf.Cert, pki.ReasonUnspecified); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Revoke: err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseFingerprint(t *testing.T) {
	for _, in := range []string{goodFP, strings.ToUpper(goodFP), " " + goodFP + "\n"} {
		b, err := ParseFingerprint(in)
		if err != nil || len(b) != 32 {
			t.Errorf("ParseFingerprint(%q) = %x, %v", in, b, err)
		}
	}
	for _, in := range []string{"", goodFP[:62], goodFP + "00", "zz" + goodFP[2:]} {
		if _, err := ParseFingerprint(in); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", in)
		}
	}
}

func FuzzParseFingerprint(f *testing.F) {
	f.Add(goodFP)
	f.Add("D9:D0:97:86:92:F1:C7:CC:79:1F:5C:34:3C:E9:87:71:90:07:21:40:5E:83:4C:D2:7B:95:02:CC:71:9F:50:97")
	f.Add("sha256/2dCXhpLxx8x5H1w0POmHcZAHIUBeg0zSe5UCzHGfUJc=")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseFingerprint(s)
		if err == nil && len(b) != 32 {
			t.Fatalf("accepted %q as %d bytes", s, len(b))
		}
		if err == nil {
			clean := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
			if hex.EncodeToString(b) != clean {
				t.Fatalf("ParseFingerprint(%q) = %x, which is not the input", s, b)
			}
		}
	})
}

// faultyCA is a TLS server that answers like step-ca for the root and
// otherwise as handler says, to check how the client treats broken answers
// a real step-ca never gives.
func faultyCA(t *testing.T, sign http.HandlerFunc) (*httptest.Server, *testpki.CA) {
	t.Helper()
	root := testpki.NewCA(t)
	leaf := root.Server(t, testpki.WithIP(net.IPv4(127, 0, 0, 1)))
	mux := http.NewServeMux()
	mux.HandleFunc("/root/", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"ca": string(root.CertPEM)})
	})
	mux.HandleFunc("/1.0/sign", sign)
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate(t)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, root
}

func plainJWK(t *testing.T) []byte {
	t.Helper()
	k, err := jose.GenerateJWK("EC", "P-256", "ES256", "sig", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCSR(t *testing.T) *x509.CertificateRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "cc.example.test"}, DNSNames: []string{"cc.example.test"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestMalformedAnswers(t *testing.T) {
	other := testpki.NewCA(t)
	otherLeaf := other.Server(t)
	tests := []struct {
		name   string
		status int
		body   string
		wantIs error
		want   string
	}{
		{"not JSON", http.StatusCreated, "<html>proxy error</html>", nil, "malformed JSON"},
		{"crt not PEM", http.StatusCreated, `{"crt":"garbage","ca":"","certChain":[]}`, nil, "crt is not a PEM certificate"},
		{"certificate for another key", http.StatusCreated, mustJSON(t, map[string]any{"crt": string(otherLeaf.CertPEM), "ca": string(other.CertPEM)}), nil, "not for the requested key"},
		{"server error", http.StatusInternalServerError, `{"status":500,"message":"The certificate authority encountered an Internal Server Error."}`, nil, "Internal Server Error"},
		{"gateway down", http.StatusBadGateway, "bad gateway", pki.ErrUnavailable, "502"},
		{"refused token", http.StatusUnauthorized, `{"status":401,"message":"The request lacked necessary authorization"}`, pki.ErrUnauthorized, "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, root := faultyCA(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c, err := New(Config{URL: srv.URL, RootFingerprint: Fingerprint(root.Cert), Provisioner: "ccpki", ProvisionerKey: plainJWK(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = c.Issue(ctx, &pki.Request{CSR: testCSR(t)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Issue: err = %v, want it to mention %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
		})
	}
}

// TestRootPinning: a server whose root does not match the fingerprint, or
// whose TLS certificate does not chain to the root it serves, is refused.
func TestRootPinning(t *testing.T) {
	srv, root := faultyCA(t, func(http.ResponseWriter, *http.Request) { t.Error("sign reached on an unpinned server") })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The server answers /root/<anything> with its root: a fingerprint for
	// another certificate must not be satisfied by it.
	other := testpki.NewCA(t)
	c, err := New(Config{URL: srv.URL, RootFingerprint: Fingerprint(other.Cert), Provisioner: "p", ProvisionerPassword: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Root(ctx); err == nil || !strings.Contains(err.Error(), "not the configured") {
		t.Fatalf("Root with a foreign fingerprint: err = %v", err)
	}

	c, err = New(Config{URL: srv.URL, RootFingerprint: Fingerprint(root.Cert), Provisioner: "p", ProvisionerPassword: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Root(ctx)
	if err != nil || !got.Equal(root.Cert) {
		t.Fatalf("Root = %v, %v; want the pinned root", got, err)
	}
}

// TestRootPinningImpostor: a server that hands out the right root (it is
// public) but presents a TLS certificate from another CA is not the CA.
func TestRootPinningImpostor(t *testing.T) {
	realRoot := testpki.NewCA(t)
	impostor := testpki.NewCA(t)
	leaf := impostor.Server(t, testpki.WithIP(net.IPv4(127, 0, 0, 1)))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"ca": string(realRoot.CertPEM)})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate(t)}}
	srv.StartTLS()
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, RootFingerprint: Fingerprint(realRoot.Cert), Provisioner: "p", ProvisionerPassword: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Root(ctx); err == nil || !strings.Contains(err.Error(), "does not verify to the pinned root") {
		t.Fatalf("Root from an impostor: err = %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPrintingHidesSecrets(t *testing.T) {
	c, err := New(Config{URL: "https://ca.example.com", RootFingerprint: goodFP, Provisioner: "ccpki", ProvisionerPassword: []byte("s3cret-pw")})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v", c, c, c)} {
		if strings.Contains(s, "s3cret-pw") || strings.Contains(s, "115 51 99") {
			t.Fatalf("printing the client shows the password: %s", s)
		}
	}
}
