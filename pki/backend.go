package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Backend is a certificate authority that signs CSRs: the local file CA
// (Local), a remote cfssl server (package cfsslremote) or a remote step-ca
// (package stepca). Every backend signs a request the caller made, so
// private keys never leave the machine that uses them.
type Backend interface {
	// Issue signs a new certificate for req.CSR.
	Issue(ctx context.Context, req *Request) (*Issued, error)
	// Renew signs a replacement for current. Backends that authenticate
	// renewal with the current certificate (step-ca) use currentKey for
	// the mTLS connection; others treat Renew as a fresh Issue of req.
	Renew(ctx context.Context, current *x509.Certificate, currentKey crypto.Signer, req *Request) (*Issued, error)
	// Revoke marks cert revoked so the next CRL names it.
	Revoke(ctx context.Context, cert *x509.Certificate, reason RevocationReason) error
}

// Request is what a backend needs to sign a certificate.
type Request struct {
	// CSR is the parsed certificate request (CSR.Raw holds the DER).
	CSR *x509.CertificateRequest
	// Profile is "server", "client" or, for cfssl users, the name of a
	// signing profile in their ca-config.json.
	Profile string
	// Lifetime is the requested validity; zero means the profile default.
	Lifetime time.Duration
}

// Issued is a signed certificate with what a TLS endpoint needs around it.
type Issued struct {
	Certificate *x509.Certificate
	// Intermediates are the certificates between the leaf and the root,
	// leaf-first; served with the leaf in tls.crt.
	Intermediates []*x509.Certificate
	// Roots are the trust anchors, written to ca.crt.
	Roots []*x509.Certificate
}

// RevocationReason is an RFC 5280 CRLReason code.
type RevocationReason int

// The RFC 5280 reason codes the backends accept.
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonCACompromise         RevocationReason = 2
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
)

// reasonNames are RFC 5280's names of the reasons, in code order; cfssl's
// revoke endpoint takes exactly these.
var reasonNames = []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation"}

// String is the reason's RFC 5280 name, e.g. "keyCompromise".
func (r RevocationReason) String() string {
	if r.valid() {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

func (r RevocationReason) valid() bool { return r >= 0 && int(r) < len(reasonNames) }

// ParseRevocationReason accepts the RFC 5280 names in any case, with or
// without dashes ("key-compromise", "keyCompromise"), or the numeric code.
func ParseRevocationReason(s string) (RevocationReason, error) {
	norm := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(strings.TrimSpace(s)))
	for i, name := range reasonNames {
		if norm == strings.ToLower(name) || s == strconv.Itoa(i) {
			return RevocationReason(i), nil
		}
	}
	return 0, fmt.Errorf("unknown revocation reason %q; use unspecified, key-compromise, ca-compromise, affiliation-changed, superseded or cessation-of-operation", s)
}
