package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"

	"github.com/cloudflare/cfssl/csr"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// CSRSpec is what goes into a certificate request: the subject, the hosts
// (DNS names, IP addresses, URIs, e-mail addresses, split automatically)
// and the key type.
type CSRSpec struct {
	Subject pkix.Name
	Hosts   []string
	KeyType KeyType
}

// NewCSR makes a certificate request for spec signed by key.
func NewCSR(key crypto.Signer, spec CSRSpec) (*x509.CertificateRequest, error) {
	tmpl := &x509.CertificateRequest{Subject: spec.Subject}
	for _, h := range spec.Hosts {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			continue
		case net.ParseIP(h) != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(h))
		case strings.Contains(h, "://"):
			u, err := url.Parse(h)
			if err != nil {
				return nil, fmt.Errorf("host %q: %w", h, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		case strings.Contains(h, "@"):
			a, err := mail.ParseAddress(h)
			if err != nil {
				return nil, fmt.Errorf("host %q: %w", h, err)
			}
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, a.Address)
		default:
			if err := checkDNSName(h); err != nil {
				return nil, err
			}
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate request: %w", err)
	}
	return x509.ParseCertificateRequest(der)
}

func checkDNSName(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if strings.ContainsAny(name, " :/\\*") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("host %q is not a valid DNS name (for host:port give only the host)", h)
	}
	return nil
}

// specFromCertificate rebuilds the request that produced cert, for renewal.
func specFromCertificate(cert *x509.Certificate) CSRSpec {
	spec := CSRSpec{Subject: cert.Subject}
	spec.Subject.ExtraNames = nil
	spec.Subject.Names = nil
	spec.Hosts = append(spec.Hosts, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		spec.Hosts = append(spec.Hosts, ip.String())
	}
	for _, u := range cert.URIs {
		spec.Hosts = append(spec.Hosts, u.String())
	}
	spec.Hosts = append(spec.Hosts, cert.EmailAddresses...)
	if kt, err := keyTypeOf(cert.PublicKey); err == nil {
		spec.KeyType = kt
	}
	return spec
}

// LoadCSRJSON reads a cfssl csr.json (CN, names, hosts, key). Unknown
// fields are refused so a typo does not silently drop a SAN.
func LoadCSRJSON(path string) (*CSRSpec, error) {
	data, err := fsutil.ReadFile(path, maxPEMFile)
	if err != nil {
		return nil, err
	}
	spec, err := parseCSRJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// parseCSRJSON parses the cfssl csr.json format.
func parseCSRJSON(data []byte) (*CSRSpec, error) {
	var req csr.CertificateRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("not a valid cfssl csr.json: %w", err)
	}
	if req.CA != nil {
		return nil, errors.New(`csr.json has a "ca" section; it describes a leaf here (a CA comes from InitCA)`)
	}
	spec := &CSRSpec{Subject: pkix.Name{CommonName: req.CN, SerialNumber: req.SerialNumber}, Hosts: req.Hosts, KeyType: DefaultKeyType}
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = append(*dst, v)
		}
	}
	for _, n := range req.Names {
		add(&spec.Subject.Country, n.C)
		add(&spec.Subject.Province, n.ST)
		add(&spec.Subject.Locality, n.L)
		add(&spec.Subject.Organization, n.O)
		add(&spec.Subject.OrganizationalUnit, n.OU)
	}
	if req.KeyRequest != nil {
		kt, err := keyTypeFromCFSSL(req.KeyRequest.A, req.KeyRequest.S)
		if err != nil {
			return nil, err
		}
		spec.KeyType = kt
	}
	if spec.Subject.CommonName == "" && len(spec.Hosts) == 0 {
		return nil, errors.New(`csr.json names nothing: give "CN" or "hosts"`)
	}
	return spec, nil
}

func keyTypeFromCFSSL(algo string, size int) (KeyType, error) {
	switch strings.ToLower(algo) {
	case "ecdsa", "":
		switch size {
		case 0, 256:
			return KeyECDSAP256, nil
		case 384:
			return KeyECDSAP384, nil
		}
	case "ed25519":
		return KeyEd25519, nil
	case "rsa":
		switch size {
		case 2048:
			return KeyRSA2048, nil
		case 0, 3072:
			return KeyRSA3072, nil
		case 4096:
			return KeyRSA4096, nil
		}
	}
	return "", fmt.Errorf(`key {"algo": %q, "size": %d} is not supported; use ecdsa 256/384, ed25519, or rsa 2048/3072/4096`, algo, size)
}
