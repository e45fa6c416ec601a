package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/signer"
)

// Issue signs req.CSR under the named profile of the CA's signing policy.
func (l *Local) Issue(_ context.Context, req *Request) (*Issued, error) {
	if req == nil || req.CSR == nil {
		return nil, errors.New("issue: the request has no CSR")
	}
	profile, err := l.profile(req.Profile)
	if err != nil {
		return nil, err
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = profile.Expiry
	}
	if lifetime <= 0 {
		return nil, fmt.Errorf("issue: lifetime %v must be positive", lifetime)
	}
	now := l.now()
	notAfter := now.Add(lifetime)
	if notAfter.After(l.cert.NotAfter) {
		return nil, fmt.Errorf("issue: a %v certificate would end after the CA certificate %q (expires %s): %w; shorten Request.Lifetime or renew the CA",
			lifetime, l.cert.Subject.CommonName, l.cert.NotAfter.UTC().Format(time.RFC3339), ErrOutlivesCA)
	}
	if !profile.NotAfter.IsZero() {
		notAfter = profile.NotAfter
	}
	tmpl, err := l.template(profile, req.CSR, now.Add(-backdate), notAfter)
	if err != nil {
		return nil, fmt.Errorf("issue with profile %q: %w", req.Profile, err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, l.cert, tmpl.PublicKey, l.key)
	if err != nil {
		return nil, fmt.Errorf("issue with profile %q: %w", req.Profile, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	return &Issued{Certificate: cert, Intermediates: l.intermediates, Roots: []*x509.Certificate{l.root}}, nil
}

// template is the certificate cfssl's local signer would make for csr
// under p: cfssl's own helpers read the request and apply the profile
// (usages, expiry, CA constraint, CRL/OCSP/issuer URLs, policies), and the
// checks in between are those of its Sign. Sign itself is not called: it
// reports every signature through cfssl's process-wide logger (stderr by
// default), which a library must leave to the program that owns it.
// Profiles that need more of Sign (CT logs, linting, serials from the
// client) are refused by checkSigning.
func (l *Local) template(p *config.SigningProfile, csr *x509.CertificateRequest, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	tmpl, err := signer.ParseCertificateRequest(l.signer, p, csr.Raw)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	if w := p.CSRWhitelist; w != nil {
		// Only the fields the profile lets through come from the request.
		full := tmpl
		tmpl = &x509.Certificate{}
		if w.Subject {
			tmpl.Subject = full.Subject
		}
		if w.PublicKeyAlgorithm {
			tmpl.PublicKeyAlgorithm = full.PublicKeyAlgorithm
		}
		if w.PublicKey {
			tmpl.PublicKey = full.PublicKey
		}
		if w.SignatureAlgorithm {
			tmpl.SignatureAlgorithm = full.SignatureAlgorithm
		}
		if w.DNSNames {
			tmpl.DNSNames = full.DNSNames
		}
		if w.IPAddresses {
			tmpl.IPAddresses = full.IPAddresses
		}
		if w.EmailAddresses {
			tmpl.EmailAddresses = full.EmailAddresses
		}
		if w.URIs {
			tmpl.URIs = full.URIs
		}
	}
	if tmpl.IsCA {
		switch {
		case !p.CAConstraint.IsCA:
			return nil, errors.New("the request asks for a CA certificate and the profile has no ca_constraint allowing it")
		case l.cert.MaxPathLen > 0 && tmpl.MaxPathLen >= l.cert.MaxPathLen,
			l.cert.MaxPathLen == 0 && l.cert.MaxPathLenZero:
			return nil, fmt.Errorf("the request asks for a CA certificate the signing CA's path length (%d) does not allow", l.cert.MaxPathLen)
		}
	}
	if re := p.NameWhitelist; re != nil {
		var names []string
		if cn := tmpl.Subject.CommonName; cn != "" {
			names = append(names, cn)
		}
		names = append(append(names, tmpl.DNSNames...), tmpl.EmailAddresses...)
		for _, u := range tmpl.URIs {
			names = append(names, u.String())
		}
		for _, n := range names {
			if re.FindStringIndex(n) == nil {
				return nil, fmt.Errorf("name %q is not allowed by the profile's name_whitelist", n)
			}
		}
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, err
	}
	def := l.policy.Default
	if def == nil {
		def = &config.SigningProfile{}
	}
	if err := signer.FillTemplate(tmpl, def, p, notBefore, notAfter); err != nil {
		return nil, err
	}
	return tmpl, nil
}

// Renew issues a fresh certificate for req; the local CA needs no proof of
// the current certificate because whoever can read the CA key is trusted.
// A renewal must name its profile: the policy's default profile could
// quietly drop a usage the current certificate has.
func (l *Local) Renew(ctx context.Context, _ *x509.Certificate, _ crypto.Signer, req *Request) (*Issued, error) {
	if req != nil && req.Profile == "" {
		return nil, fmt.Errorf("%w: a renewal names its profile (Request.Profile); the signing policy has: %s", ErrUnknownProfile, profileNames(l.policy))
	}
	return l.Issue(ctx, req)
}
