package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"time"
)

// Backend is a certificate authority that ccpki can ask for certificates:
// the local file CA, a remote cfssl server, or a remote step-ca. Every
// backend signs a CSR the caller made, so private keys never leave the
// machine that uses them.
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

// The RFC 5280 reason codes ccpki accepts.
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonCACompromise         RevocationReason = 2
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
)

// ErrUnauthorized is returned (wrapped) when a CA refuses the caller's
// credentials: a wrong cfssl auth key, a bad step-ca token or password.
var ErrUnauthorized = errors.New("the CA refused the credentials")

// ErrUnavailable is returned (wrapped) when the CA cannot be reached; a
// renewer keeps the current certificate and retries.
var ErrUnavailable = errors.New("the CA is unreachable")
