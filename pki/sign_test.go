package pki

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"log"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudflare/cfssl/config"
	cflog "github.com/cloudflare/cfssl/log"
)

// TestCFSSLLogsNothing: with cfssl's process-wide logger as a program
// that never heard of it has it (level info, into the standard logger),
// loading policies, opening the CA, issuing, renewing, refusing a profile
// and signing a CRL print nothing, and pki leaves cfssl's level alone.
func TestCFSSLLogsNothing(t *testing.T) {
	if cflog.Level != cflog.LevelInfo {
		t.Fatalf("cfssl's log level is %d at the start, want its default %d: something set it", cflog.Level, cflog.LevelInfo)
	}
	var out bytes.Buffer
	log.SetOutput(&out)
	defer log.SetOutput(os.Stderr)

	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	// A remote profile makes cfssl warn while parsing; it is refused first.
	if _, err := LoadSigningConfig(write("remote.json", `{"signing":{"default":{"remote":"ca","usages":["signing"],"expiry":"1h"}},"remotes":{"ca":"127.0.0.1:1"}}`)); err == nil {
		t.Fatal("remote profile accepted")
	}
	policy, err := LoadSigningConfig(write("ok.json", `{"signing":{"profiles":{"server":{"usages":["signing","server auth"],"expiry":"2h"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, InitOptions{})
	_, kp := issue(t, ca, "server", CSRSpec{Hosts: []string{"cc.example"}})
	if _, err := ca.Renew(context.Background(), kp.Certificate, kp.Key, &Request{CSR: newTestCSR(t, "cc.example"), Profile: "server"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(context.Background(), &Request{CSR: newTestCSR(t, "x"), Profile: "nope"}); err == nil {
		t.Fatal("unknown profile accepted")
	}
	if err := ca.Revoke(context.Background(), kp.Certificate, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.WriteCRL(context.Background(), "", 0); err != nil {
		t.Fatal(err)
	}
	other, err := OpenLocal(ca.dir, LocalOptions{SigningPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	issue(t, other, "server", CSRSpec{Hosts: []string{"cc.example"}})

	if out.Len() > 0 {
		t.Fatalf("pki made cfssl log:\n%s", out.String())
	}
	if cflog.Level != cflog.LevelInfo {
		t.Fatalf("cfssl's log level is %d after use, want it untouched", cflog.Level)
	}
}

func newTestCSR(t *testing.T, name string) *x509.CertificateRequest {
	t.Helper()
	key, err := GenerateKey(DefaultKeyType)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := NewCSR(key, CSRSpec{Subject: pkix.Name{CommonName: name}, Hosts: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// TestProfilePolicies: the parts of a cfssl profile that cfssl's Sign
// checks itself hold here too: the CSR whitelist, the name whitelist and
// the CA constraint; what the local CA cannot do is refused up front.
func TestProfilePolicies(t *testing.T) {
	ca := newCA(t, InitOptions{})
	base := func() *config.SigningProfile {
		return &config.SigningProfile{Usage: []string{"digital signature", "server auth"}, Expiry: builtinLifetime}
	}
	named := func(p *config.SigningProfile) *Local {
		t.Helper()
		l, err := OpenLocal(ca.dir, LocalOptions{SigningPolicy: &config.Signing{Default: base(), Profiles: map[string]*config.SigningProfile{"p": p}}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	t.Run("csr whitelist", func(t *testing.T) {
		p := base()
		p.CSRWhitelist = &config.CSRWhitelist{PublicKey: true, PublicKeyAlgorithm: true, DNSNames: true}
		iss, err := named(p).Issue(context.Background(), &Request{CSR: newTestCSR(t, "cc.example"), Profile: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if iss.Certificate.Subject.CommonName != "" || len(iss.Certificate.DNSNames) != 1 {
			t.Fatalf("subject %q, DNS %v: want the subject dropped and the DNS name kept", iss.Certificate.Subject, iss.Certificate.DNSNames)
		}
	})
	t.Run("name whitelist", func(t *testing.T) {
		p := base()
		p.NameWhitelist = regexp.MustCompile(`\.example$`)
		l := named(p)
		if _, err := l.Issue(context.Background(), &Request{CSR: newTestCSR(t, "cc.example"), Profile: "p"}); err != nil {
			t.Fatal(err)
		}
		_, err := l.Issue(context.Background(), &Request{CSR: newTestCSR(t, "cc.other"), Profile: "p"})
		if err == nil || !strings.Contains(err.Error(), "name_whitelist") {
			t.Fatalf("a name outside the whitelist: err = %v", err)
		}
	})
	t.Run("CA certificate", func(t *testing.T) {
		// A request that asks for a CA (basic constraints, cA true).
		key, _ := GenerateKey(DefaultKeyType)
		bc, err := asn1.Marshal(struct{ IsCA bool }{true})
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject:         pkix.Name{CommonName: "sub CA"},
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc}},
		}, key)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := named(base()).Issue(context.Background(), &Request{CSR: csr, Profile: "p"}); err == nil || !strings.Contains(err.Error(), "ca_constraint") {
			t.Fatalf("a CA request under a leaf profile: err = %v", err)
		}
		p := base()
		p.CAConstraint.IsCA = true
		// The intermediate has path length 0: it may not sign a CA.
		if _, err := named(p).Issue(context.Background(), &Request{CSR: csr, Profile: "p"}); err == nil || !strings.Contains(err.Error(), "path length") {
			t.Fatalf("a CA under a path-length-0 intermediate: err = %v", err)
		}
	})
	for name, mutate := range map[string]func(*config.SigningProfile){
		"lint":           func(p *config.SigningProfile) { p.LintErrLevel = 1 },
		"client serials": func(p *config.SigningProfile) { p.ClientProvidesSerialNumbers = true },
		"CT logs":        func(p *config.SigningProfile) { p.CTLogServers = []string{"https://ct.example"} },
	} {
		p := base()
		mutate(p)
		_, err := OpenLocal(ca.dir, LocalOptions{SigningPolicy: &config.Signing{Default: base(), Profiles: map[string]*config.SigningProfile{"p": p}}})
		if err == nil || !strings.Contains(err.Error(), "LocalOptions.SigningPolicy") {
			t.Errorf("%s: err = %v, want a refusal naming LocalOptions.SigningPolicy", name, err)
		}
	}
}
