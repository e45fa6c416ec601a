package tlsconfig

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/ccserver/ccserver/internal/fsutil"
)

// Sentinel errors for the cases callers branch on. Errors returned by this
// package wrap them, so test with errors.Is.
var (
	// ErrNoCertificate: a PEM input holds no usable CERTIFICATE block (none,
	// or one that is truncated or malformed).
	ErrNoCertificate = errors.New("no certificate found")
	// ErrNoKey: a key input holds no usable private key.
	ErrNoKey = errors.New("no usable private key found")
	// ErrKeyMismatch: the private key does not belong to the leaf certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrExpired: the certificate's NotAfter has passed.
	ErrExpired = errors.New("certificate has expired")
	// ErrNotYetValid: the certificate's NotBefore lies in the future.
	ErrNotYetValid = errors.New("certificate is not valid yet")
	// ErrKeyPermissions: the key file can be read or written by group or
	// others. It is the value internal/fsutil's one key-permission check
	// returns, so pki and tlsconfig refusals match the same errors.Is.
	ErrKeyPermissions = fsutil.ErrInsecurePermissions
	// ErrNoServerAuth: a server leaf lists extended key usages but not serverAuth.
	ErrNoServerAuth = errors.New("certificate lacks the serverAuth extended key usage")
	// ErrNoIdentity: a pushed identity was used before its first Set.
	ErrNoIdentity = errors.New("no identity has been set yet")
	// ErrNoClientTrust: ServerConfig got neither WithClientTrust nor
	// WithInsecureNoClientAuth.
	ErrNoClientTrust = errors.New("no client trust configured")
	// ErrBadOption: a setting (spec field or option) is malformed,
	// contradicts another or does not apply. ErrMissing and ErrConflict
	// match it too.
	ErrBadOption = errors.New("invalid option")
	// ErrMissing: a spec lacks a required setting (a FieldError names it).
	ErrMissing = fmt.Errorf("%w: required setting missing", ErrBadOption)
	// ErrConflict: spec fields exclude each other, or one needs another
	// that is not set (a FieldError names the field to change).
	ErrConflict = fmt.Errorf("%w: settings conflict", ErrBadOption)
	// ErrPinMismatch: no certificate of the peer's chain matches a pin.
	ErrPinMismatch = errors.New("no certificate in the peer's chain matches a pin")
	// ErrIdentityRule: the peer's leaf matches none of the identity rules.
	ErrIdentityRule = errors.New("peer identity matches no rule")
	// ErrNotAuthorized: the Authorizer hook refused the peer.
	ErrNotAuthorized = errors.New("peer refused by the authorizer")
	// ErrRevoked: a certificate of the peer's chain is listed in a CRL.
	ErrRevoked = errors.New("certificate is revoked")
	// ErrCRLStale: the CRL covering a link of the peer's chain is past its
	// nextUpdate, missing where one is required, or does not verify
	// (revocation status unknown).
	ErrCRLStale = errors.New("revocation status unknown: CRL missing or past nextUpdate")
	// ErrCRLSignature: a CRL does not verify against the certificate of
	// the CA it names as issuer (in the trust bundle at load, or in the
	// peer's verified chain at handshake).
	ErrCRLSignature = errors.New("CRL signature does not verify against its issuer's certificate")
	// ErrNotCA: a client CA bundle holds a certificate that is not a CA
	// (ServerSpec.InsecureClientCALeaf accepts it).
	ErrNotCA = errors.New("certificate in the CA bundle is not a CA certificate")
	// ErrClosed: the source was closed.
	ErrClosed = errors.New("source is closed")
)

// FileError says which file (or in-memory input) was bad and how to fix it.
type FileError struct {
	File string // path, or a label such as "static certificate"
	Err  error
	Fix  string // what the operator should do
}

func (e *FileError) Error() string {
	s := fmt.Sprintf("tlsconfig: %s: %v", e.File, e.Err)
	if e.Fix != "" {
		s += " (fix: " + e.Fix + ")"
	}
	return s
}

func (e *FileError) Unwrap() error { return e.Err }

// classedError is err, which also matches classes with errors.Is, without
// repeating their text: the parsers' own messages already say it.
type classedError struct {
	classes []error
	err     error
}

func classed(err error, classes ...error) error { return &classedError{classes: classes, err: err} }

func (e *classedError) Error() string   { return e.err.Error() }
func (e *classedError) Unwrap() []error { return append([]error{e.err}, e.classes...) }

func fileErr(file string, err error, fix string, args ...any) error {
	return &FileError{File: file, Err: err, Fix: fmt.Sprintf(fix, args...)}
}

// Reason classifies why a handshake was rejected, for logs and metrics labels.
type Reason string

// Rejection reasons.
const (
	ReasonNoCertificate Reason = "no-cert"
	ReasonUnknownCA     Reason = "unknown-ca"
	ReasonExpired       Reason = "expired" // also not yet valid
	ReasonKeyUsage      Reason = "key-usage"
	ReasonRevoked       Reason = "revoked" // also revocation status unknown (fail closed)
	ReasonPin           Reason = "pin"
	ReasonIdentityRule  Reason = "identity-rule" // also a server name mismatch
	ReasonAuthorizer    Reason = "authorizer"    // the Authorizer hook refused
	ReasonOther         Reason = "other"
)

// HandshakeError is what VerifyConnection returns when it refuses a peer.
type HandshakeError struct {
	Reason Reason
	Err    error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("tlsconfig: peer rejected (%s): %v", e.Reason, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// classify maps a chain verification error to a Reason.
func classify(err error) Reason {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	switch {
	case errors.As(err, &ua):
		return ReasonUnknownCA
	case errors.As(err, &he):
		return ReasonIdentityRule
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			return ReasonExpired
		case x509.IncompatibleUsage:
			return ReasonKeyUsage
		}
		return ReasonUnknownCA
	case errors.Is(err, ErrRevoked), errors.Is(err, ErrCRLStale):
		return ReasonRevoked
	case errors.Is(err, ErrPinMismatch):
		return ReasonPin
	case errors.Is(err, ErrIdentityRule):
		return ReasonIdentityRule
	case errors.Is(err, ErrNotAuthorized):
		return ReasonAuthorizer
	}
	return ReasonOther
}
