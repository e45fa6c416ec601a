package pki

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ccserver/ccserver/internal/fsutil"
	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeFile writes body to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newCA(t *testing.T, opts InitOptions) *Local {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	if _, err := InitCA(dir, opts); err != nil {
		t.Fatal(err)
	}
	ca, err := OpenLocal(dir, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t *testing.T, ca Backend, profile string, spec CSRSpec) (*Issued, *KeyPair) {
	t.Helper()
	key, err := GenerateKey(spec.KeyType)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := NewCSR(key, spec)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue(context.Background(), &Request{CSR: csr, Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	return iss, &KeyPair{Certificate: iss.Certificate, Intermediates: iss.Intermediates, Key: key, Roots: iss.Roots}
}

func tlsCert(kp *KeyPair) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{kp.Certificate.Raw}, PrivateKey: kp.Key, Leaf: kp.Certificate}
	for _, i := range kp.Intermediates {
		c.Certificate = append(c.Certificate, i.Raw)
	}
	return c
}

// A server and a client certificate from each key type complete a real
// mutual TLS handshake over loopback.
func TestIssuedCertificatesHandshake(t *testing.T) {
	for _, kt := range []KeyType{KeyECDSAP256, KeyECDSAP384, KeyEd25519, KeyRSA3072} {
		t.Run(string(kt), func(t *testing.T) {
			ca := newCA(t, InitOptions{KeyType: kt})
			if ca.cert == ca.root || !ca.cert.MaxPathLenZero {
				t.Fatal("want an intermediate with path length 0")
			}
			_, server := issue(t, ca, "server", CSRSpec{Subject: pkix.Name{CommonName: "localhost"}, Hosts: []string{"localhost", "127.0.0.1"}, KeyType: kt})
			_, client := issue(t, ca, "client", CSRSpec{Subject: pkix.Name{CommonName: "peer0"}, KeyType: kt})
			if got := server.Certificate.NotAfter.Sub(server.Certificate.NotBefore); got != builtinLifetime+backdate {
				t.Errorf("server lifetime %v", got)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca.root)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
				Certificates: []tls.Certificate{tlsCert(server)}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				err = c.(*tls.Conn).Handshake()
				if err == nil && len(c.(*tls.Conn).ConnectionState().PeerCertificates) == 0 {
					err = errors.New("no client certificate")
				}
				done <- err
			}()
			conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{tlsCert(client)}})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = conn.Read(make([]byte, 1)) // TLS 1.3: learn whether the server accepted us
			conn.Close()
			if err := <-done; err != nil {
				t.Fatalf("server side: %v", err)
			}
		})
	}
}

func TestInitRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	first, err := InitCA(dir, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{rootKeyFile, intermediateKeyFile} {
		fi, _ := os.Stat(filepath.Join(dir, name))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, fi.Mode().Perm())
		}
	}
	if _, err := InitCA(dir, InitOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v", err)
	}
	second, err := InitCA(dir, InitOptions{Force: true, NoIntermediate: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.Root.Equal(first.Root) || second.Intermediate != nil {
		t.Fatal("force did not replace the CA")
	}
	if _, err := os.Stat(filepath.Join(dir, intermediateKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale intermediate key left behind")
	}
	ca, err := OpenLocal(dir, LocalOptions{})
	if err != nil || !ca.cert.Equal(ca.root) {
		t.Fatalf("root-signing CA: %v", err)
	}
}

func TestOpenLocalRefusesReadableKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitCA(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, intermediateKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenLocal(dir, LocalOptions{})
	if !errors.Is(err, fsutil.ErrInsecurePermissions) {
		t.Fatalf("err = %v", err)
	}
	if _, err := OpenLocal(dir, LocalOptions{AllowInsecureKeyFile: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLocal(t.TempDir(), LocalOptions{}); !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "InitCA") {
		t.Fatalf("empty dir: %v", err)
	}
}

func TestIssueErrors(t *testing.T) {
	ca := newCA(t, InitOptions{IntermediateLifetime: 24 * time.Hour, RootLifetime: 48 * time.Hour})
	key, _ := GenerateKey(KeyECDSAP256)
	csr, _ := NewCSR(key, CSRSpec{Subject: pkix.Name{CommonName: "x"}})
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"unknown profile", Request{CSR: csr, Profile: "nope"}, "server"},
		{"outlives CA", Request{CSR: csr, Profile: "server", Lifetime: 72 * time.Hour}, "outlive"},
	} {
		if _, err := ca.Issue(context.Background(), &tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want mention of %q", tc.name, err, tc.want)
		}
	}
}

func TestSigningConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	good := write("good.json", `{"signing":{"profiles":{"ccaas-server":{"usages":["signing","server auth"],"expiry":"2h"}}}}`)
	policy, err := LoadSigningConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	cadir := filepath.Join(dir, "ca")
	if _, err := InitCA(cadir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	ca, err := OpenLocal(cadir, LocalOptions{SigningPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := issue(t, ca, "ccaas-server", CSRSpec{Hosts: []string{"cc.example"}})
	if got := iss.Certificate.NotAfter.Sub(iss.Certificate.NotBefore); got != 2*time.Hour+backdate {
		t.Errorf("lifetime %v, want the profile's 2h", got)
	}
	if len(iss.Certificate.ExtKeyUsage) != 1 || iss.Certificate.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("usages %v", usages(iss.Certificate))
	}
	for _, tc := range []struct{ body, want string }{
		{`{"signing":`, "not valid JSON"},
		{`{}`, `no "signing"`},
		{`{"signing":{"profiles":{"a":{"usages":["server auth"],"expiry":"soon"}}}}`, "expiry"},
		{`{"signing":{"profiles":{"a":{"usages":["flying"],"expiry":"1h"}}}}`, "flying"},
	} {
		p := write("bad.json", tc.body)
		_, err := LoadSigningConfig(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want file name and %q", tc.body, err, tc.want)
		}
	}
}

func TestParseCSRJSON(t *testing.T) {
	spec, err := parseCSRJSON([]byte(`{"CN":"cc","hosts":["cc.svc","10.0.0.1","spiffe://x/y"],"names":[{"O":"Org1","OU":"peer"}],"key":{"algo":"ecdsa","size":384}}`))
	if err != nil {
		t.Fatal(err)
	}
	if spec.KeyType != KeyECDSAP384 || spec.Subject.Organization[0] != "Org1" || len(spec.Hosts) != 3 {
		t.Fatalf("spec = %+v", spec)
	}
	key, _ := GenerateKey(spec.KeyType)
	csr, err := NewCSR(key, *spec)
	if err != nil || len(csr.DNSNames) != 1 || len(csr.IPAddresses) != 1 || len(csr.URIs) != 1 {
		t.Fatalf("csr = %+v, %v", csr, err)
	}
	for _, bad := range []string{`{"CN":`, `{"CN":"x","hostz":[]}`, `{"CN":"x","key":{"algo":"dsa"}}`, `{}`} {
		if _, err := parseCSRJSON([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := NewCSR(key, CSRSpec{Hosts: []string{"localhost:9999"}}); err == nil {
		t.Error("host:port accepted as a DNS name")
	}
}

func TestRevokeAndCRL(t *testing.T) {
	ca := newCA(t, InitOptions{})
	_, client := issue(t, ca, "client", CSRSpec{Subject: pkix.Name{CommonName: "peer0"}})
	_, other := issue(t, ca, "client", CSRSpec{Subject: pkix.Name{CommonName: "peer1"}})
	chain := append([]*x509.Certificate{client.Certificate}, client.Intermediates...)
	opts := VerifyOptions{Roots: []*x509.Certificate{ca.root}, Role: RoleClient}
	if err := Verify(chain, opts); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(context.Background(), client.Certificate, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(context.Background(), client.Certificate, ReasonKeyCompromise); err != nil {
		t.Fatal("second revoke:", err)
	}
	path, err := ca.WriteCRL(context.Background(), "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	crl, err := x509util.ParseCRL(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].ReasonCode != int(ReasonKeyCompromise) {
		t.Fatalf("CRL entries %+v", crl.RevokedCertificateEntries)
	}
	if time.Until(crl.NextUpdate) > time.Hour || crl.Number.Int64() != 1 {
		t.Fatalf("nextUpdate %v number %v", crl.NextUpdate, crl.Number)
	}
	opts.CRL = crl
	if err := Verify(chain, opts); !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked cert verified: %v", err)
	}
	if err := Verify(append([]*x509.Certificate{other.Certificate}, other.Intermediates...), opts); err != nil {
		t.Fatalf("unrevoked cert: %v", err)
	}
	stranger := testpki.NewCA(t).Client(t)
	if err := ca.Revoke(context.Background(), stranger.Cert, ReasonUnspecified); !errors.Is(err, errNotIssuedHere) {
		t.Fatalf("foreign cert: %v", err)
	}
	for _, s := range []string{"key-compromise", "keyCompromise", "1"} {
		if r, err := ParseRevocationReason(s); err != nil || r != ReasonKeyCompromise {
			t.Errorf("%s: %v %v", s, r, err)
		}
	}
}

func TestVerifyRoles(t *testing.T) {
	ca := newCA(t, InitOptions{})
	_, server := issue(t, ca, "server", CSRSpec{Hosts: []string{"cc.example", "127.0.0.1"}})
	_, client := issue(t, ca, "client", CSRSpec{Subject: pkix.Name{CommonName: "peer0"}})
	roots := []*x509.Certificate{ca.root}
	chain := func(kp *KeyPair) []*x509.Certificate {
		return append([]*x509.Certificate{kp.Certificate}, kp.Intermediates...)
	}
	for _, tc := range []struct {
		name string
		kp   *KeyPair
		opts VerifyOptions
		ok   bool
	}{
		{"server ok dns", server, VerifyOptions{Role: RoleServer, Address: "cc.example:9999"}, true},
		{"server ok ip", server, VerifyOptions{Role: RoleServer, Address: "127.0.0.1:9999"}, true},
		{"server wrong host", server, VerifyOptions{Role: RoleServer, Address: "other:9999"}, false},
		{"client as server", client, VerifyOptions{Role: RoleServer, Address: "cc.example:9999"}, false},
		{"server as client", server, VerifyOptions{Role: RoleClient}, false},
		{"client ok", client, VerifyOptions{Role: RoleClient}, true},
		{"wrong roots", client, VerifyOptions{Role: RoleClient, Roots: []*x509.Certificate{testpki.NewCA(t).Cert}}, false},
		{"expired", client, VerifyOptions{Role: RoleClient, Now: func() time.Time { return time.Now().Add(60 * 24 * time.Hour) }}, false},
	} {
		if tc.opts.Roots == nil {
			tc.opts.Roots = roots
		}
		err := Verify(chain(tc.kp), tc.opts)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrVerify)) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	var b bytes.Buffer
	if err := Describe(&b, server.Certificate, DescribeOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DNS:cc.example", "IP:127.0.0.1", "serverAuth", "29d23h", SPKIPin(server.Certificate)} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Describe lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPin(t *testing.T) {
	leaf := testpki.NewCA(t).Server(t)
	pin := SPKIPin(leaf.Cert)
	if pin != testpki.SPKIPin(leaf.Cert) {
		t.Fatalf("pin %s differs from testpki's", pin)
	}
	b64, err := ParsePin(pin)
	if err != nil {
		t.Fatal(err)
	}
	hexForm := strings.ToUpper(bytesHex(b64))
	if h, err := ParsePin(hexForm); err != nil || !bytes.Equal(h, b64) {
		t.Fatalf("hex form: %v", err)
	}
	var pairs []string
	for i := 0; i < len(hexForm); i += 2 {
		pairs = append(pairs, hexForm[i:i+2])
	}
	if h, err := ParsePin(strings.Join(pairs, ":")); err != nil || !bytes.Equal(h, b64) {
		t.Fatalf("hex with colons, as ccserver --pin takes it: %v", err)
	}
	for _, bad := range []string{"", "sha256/xx", "sha1/" + pin[7:], strings.Repeat("g", 64)} {
		if _, err := ParsePin(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestParseErrorsNeverQuoteKeys(t *testing.T) {
	leaf := testpki.NewCA(t).Server(t)
	if _, err := ParseCertificatesPEM(leaf.KeyPEM); err == nil || strings.Contains(err.Error(), string(leaf.KeyPEM[30:60])) {
		t.Fatalf("err = %v", err)
	}
	broken := bytes.Replace(leaf.KeyPEM, []byte("\n"), []byte("\nAAAA"), 3)
	if _, err := x509util.ParsePrivateKey(broken); err == nil {
		t.Fatal("broken key accepted")
	}
	if _, err := ParseCertificatesPEM([]byte("   ")); err == nil {
		t.Fatal("empty file accepted")
	}
}

func FuzzParseCertificatesPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte(""))
	f.Add(testpki.NewCA(f).CertPEM)
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificatesPEM(data)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
	})
}

func FuzzParseCSRJSON(f *testing.F) {
	f.Add([]byte(`{"CN":"cc","hosts":["a","1.2.3.4"],"key":{"algo":"rsa","size":2048}}`))
	f.Add([]byte(`{"names":[{"O":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := parseCSRJSON(data)
		if err == nil && spec.KeyType == "" {
			t.Fatal("no key type")
		}
	})
}

func FuzzParsePin(f *testing.F) {
	f.Add("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	f.Add(strings.Repeat("ab", 32))
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := ParsePin(s); err == nil && len(b) != 32 {
			t.Fatal("wrong length")
		}
	})
}

var _ = net.IPv4

// TestInitDefaultNamesDiffer: two CAs made with the defaults never share a
// subject (CRLs and chains are matched by issuer name), and a given name
// is kept as it is.
func TestInitDefaultNamesDiffer(t *testing.T) {
	a, err := InitCA(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := InitCA(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range []*CAInfo{a, b} {
		cn := ca.Root.Subject.CommonName
		if !strings.HasPrefix(cn, "ccpki root CA ") || len(cn) != len("ccpki root CA ")+8 {
			t.Fatalf("default root CN %q, want \"ccpki root CA <8 hex digits>\"", cn)
		}
		if got := ca.Intermediate.Subject.CommonName; got != cn+" intermediate" {
			t.Fatalf("intermediate CN %q under root %q", got, cn)
		}
	}
	if a.Root.Subject.CommonName == b.Root.Subject.CommonName {
		t.Fatalf("two default CAs share the name %q", a.Root.Subject.CommonName)
	}
	named, err := InitCA(t.TempDir(), InitOptions{CommonName: "Org1 chaincode CA"})
	if err != nil {
		t.Fatal(err)
	}
	if cn := named.Root.Subject.CommonName; cn != "Org1 chaincode CA" {
		t.Fatalf("given CN became %q", cn)
	}
}
