// Package testpki mints throw-away certificate authorities and leaf
// certificates at test run time, so no test depends on long-lived fixtures
// or committed private keys.
//
// Every function takes a testing.TB and fails the test on error; the
// material lives only in memory unless WriteFiles is called.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority that signs leaves and CRLs for tests.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	// Parent is the issuing CA when this CA is an intermediate.
	Parent *CA
}

// Leaf is an issued end-entity certificate with its key.
type Leaf struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
	// ChainPEM is the leaf followed by any intermediates (not the root).
	ChainPEM []byte
	// CA is the issuer.
	CA *CA
}

// Options shape a certificate. Zero values give sensible defaults: valid
// from one minute ago for one hour, ECDSA P-256.
type Options struct {
	CommonName   string
	Organization []string
	OrgUnit      []string
	DNSNames     []string
	IPAddresses  []net.IP
	URIs         []*url.URL
	NotBefore    time.Time
	NotAfter     time.Time
	ExtKeyUsage  []x509.ExtKeyUsage
	KeyUsage     x509.KeyUsage
	Key          crypto.Signer // a fixed key, e.g. to re-issue with the same SPKI
	SerialNumber *big.Int
}

// Option changes Options.
type Option func(*Options)

// WithCommonName sets the subject CN.
func WithCommonName(cn string) Option { return func(o *Options) { o.CommonName = cn } }

// WithOrganization sets the subject O (Fabric puts the MSP id here in some setups).
func WithOrganization(org ...string) Option { return func(o *Options) { o.Organization = org } }

// WithOrgUnit sets the subject OU.
func WithOrgUnit(ou ...string) Option { return func(o *Options) { o.OrgUnit = ou } }

// WithDNS sets DNS SANs.
func WithDNS(names ...string) Option { return func(o *Options) { o.DNSNames = names } }

// WithIP sets IP SANs.
func WithIP(ips ...net.IP) Option { return func(o *Options) { o.IPAddresses = ips } }

// WithURI sets URI SANs; it panics on an unparsable URI (test input).
func WithURI(uris ...string) Option {
	return func(o *Options) {
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				panic(err)
			}
			o.URIs = append(o.URIs, u)
		}
	}
}

// WithValidity sets NotBefore and NotAfter.
func WithValidity(notBefore, notAfter time.Time) Option {
	return func(o *Options) { o.NotBefore, o.NotAfter = notBefore, notAfter }
}

// WithExtKeyUsage replaces the extended key usages.
func WithExtKeyUsage(u ...x509.ExtKeyUsage) Option { return func(o *Options) { o.ExtKeyUsage = u } }

// WithKey signs a certificate for an existing key.
func WithKey(k crypto.Signer) Option { return func(o *Options) { o.Key = k } }

// WithSerial fixes the serial number.
func WithSerial(n int64) Option { return func(o *Options) { o.SerialNumber = big.NewInt(n) } }

func build(opts []Option) Options {
	o := Options{}
	for _, f := range opts {
		f(&o)
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Minute)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(time.Hour)
	}
	return o
}

// NewKey returns a fresh ECDSA P-256 key.
func NewKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: generate key: %v", err)
	}
	return k
}

// NewCSR returns a certificate request, and its key, for the subject and
// names in opts (CommonName, Organization, OrgUnit, DNSNames,
// IPAddresses, URIs; Key for a fixed key), as a CA client sends it.
func NewCSR(t testing.TB, opts ...Option) (*x509.CertificateRequest, crypto.Signer) {
	t.Helper()
	o := build(opts)
	key := o.Key
	if key == nil {
		key = NewKey(t)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: o.CommonName, Organization: o.Organization, OrganizationalUnit: o.OrgUnit},
		DNSNames: o.DNSNames, IPAddresses: o.IPAddresses, URIs: o.URIs,
	}, key)
	if err != nil {
		t.Fatalf("testpki: create CSR: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("testpki: parse CSR: %v", err)
	}
	return csr, key
}

func serial(t testing.TB, o Options) *big.Int {
	if o.SerialNumber != nil {
		return o.SerialNumber
	}
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("testpki: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

// NewCA makes a self-signed root CA.
func NewCA(t testing.TB, opts ...Option) *CA {
	t.Helper()
	return makeCA(t, nil, append([]Option{WithCommonName("testpki root CA")}, opts...))
}

// Intermediate makes a CA signed by ca (path length 0).
func (ca *CA) Intermediate(t testing.TB, opts ...Option) *CA {
	t.Helper()
	return makeCA(t, ca, append([]Option{WithCommonName("testpki intermediate CA")}, opts...))
}

// makeCA makes a root (parent nil) or an intermediate under parent.
func makeCA(t testing.TB, parent *CA, opts []Option) *CA {
	t.Helper()
	o := build(opts)
	key := o.Key
	if key == nil {
		key = NewKey(t)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t, o),
		Subject:               pkix.Name{CommonName: o.CommonName, Organization: o.Organization, OrganizationalUnit: o.OrgUnit},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        parent != nil,
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatalf("testpki: create CA: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, CertPEM: pemCert(der), Parent: parent}
}

// Issue signs a leaf. Without WithExtKeyUsage it carries both serverAuth
// and clientAuth; Server and Client give single-purpose leaves.
func (ca *CA) Issue(t testing.TB, opts ...Option) *Leaf {
	t.Helper()
	o := build(append([]Option{WithCommonName("testpki leaf"),
		WithExtKeyUsage(x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)}, opts...))
	key := o.Key
	if key == nil {
		key = NewKey(t)
	}
	ku := o.KeyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t, o),
		Subject:      pkix.Name{CommonName: o.CommonName, Organization: o.Organization, OrganizationalUnit: o.OrgUnit},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     ku,
		ExtKeyUsage:  o.ExtKeyUsage,
		DNSNames:     o.DNSNames,
		IPAddresses:  o.IPAddresses,
		URIs:         o.URIs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("testpki: issue leaf: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal key: %v", err)
	}
	chain := pemCert(der)
	for p := ca; p != nil && p.Parent != nil; p = p.Parent {
		chain = append(chain, p.CertPEM...)
	}
	return &Leaf{
		Cert:     cert,
		Key:      key,
		CertPEM:  pemCert(der),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		ChainPEM: chain,
		CA:       ca,
	}
}

// Server issues a serverAuth leaf for localhost and 127.0.0.1 (plus opts).
func (ca *CA) Server(t testing.TB, opts ...Option) *Leaf {
	t.Helper()
	base := []Option{WithCommonName("localhost"), WithDNS("localhost"),
		WithIP(net.IPv4(127, 0, 0, 1), net.IPv6loopback),
		WithExtKeyUsage(x509.ExtKeyUsageServerAuth)}
	return ca.Issue(t, append(base, opts...)...)
}

// Client issues a clientAuth leaf, as a Fabric peer presents.
func (ca *CA) Client(t testing.TB, opts ...Option) *Leaf {
	t.Helper()
	base := []Option{WithCommonName("peer0.org1.example.com"),
		WithExtKeyUsage(x509.ExtKeyUsageClientAuth)}
	return ca.Issue(t, append(base, opts...)...)
}

// Pool returns a cert pool holding the root of this CA's chain.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root().Cert)
	return p
}

// Root walks up to the self-signed root.
func (ca *CA) Root() *CA {
	for ca.Parent != nil {
		ca = ca.Parent
	}
	return ca
}

// CRL signs a revocation list naming the given serials.
func (ca *CA) CRL(t testing.TB, thisUpdate, nextUpdate time.Time, revoked ...*big.Int) []byte {
	t.Helper()
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(time.Now().UnixNano()),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatalf("testpki: create CRL: %v", err)
	}
	return der
}

// TLSCertificate returns the leaf (with chain) as a tls.Certificate.
func (l *Leaf) TLSCertificate(t testing.TB) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(l.ChainPEM, l.KeyPEM)
	if err != nil {
		t.Fatalf("testpki: key pair: %v", err)
	}
	return c
}

// WriteFiles writes tls.crt (chain), tls.key (0600) and ca.crt into dir,
// the cert-manager layout.
func (l *Leaf) WriteFiles(t testing.TB, dir string) (certFile, keyFile, caFile string) {
	t.Helper()
	certFile, keyFile, caFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{certFile, l.ChainPEM, 0o644}, {keyFile, l.KeyPEM, 0o600}, {caFile, l.CA.Root().CertPEM, 0o644}} {
		if err := os.WriteFile(f.path, f.data, f.perm); err != nil {
			t.Fatalf("testpki: write %s: %v", f.path, err)
		}
		if err := os.Chmod(f.path, f.perm); err != nil {
			t.Fatalf("testpki: chmod %s: %v", f.path, err)
		}
	}
	return certFile, keyFile, caFile
}

// SPKIPin is the base64 SHA-256 of a certificate's SubjectPublicKeyInfo,
// the form pins take ("sha256/<base64>").
func SPKIPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
