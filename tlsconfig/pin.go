package tlsconfig

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/ccserver/ccserver/internal/x509util"
)

// Pin is the SHA-256 of a certificate's SubjectPublicKeyInfo. Pinning the
// key rather than the certificate lets a CA or leaf be re-issued with the
// same key without changing the pin.
type Pin [sha256.Size]byte

// PinOf returns the pin of a certificate.
func PinOf(c *x509.Certificate) Pin { return x509util.SPKIPin(c) }

// String gives the canonical form "sha256/<standard base64>".
func (p Pin) String() string { return x509util.FormatPin(p) }

// ParsePin accepts "sha256/<standard base64>", or 64 hexadecimal digits
// with or without a colon between every pair (as openssl prints them).
// Errors wrap ErrBadOption.
func ParsePin(s string) (Pin, error) {
	p, err := x509util.ParsePin(s)
	if err != nil {
		return p, fmt.Errorf("tlsconfig: pin %q: %w", s, classed(err, ErrBadOption))
	}
	return p, nil
}

// pinSet answers whether any certificate of a chain is pinned.
type pinSet map[Pin]struct{}

func (ps pinSet) matchAny(chain []*x509.Certificate) bool {
	for _, c := range chain {
		if _, ok := ps[PinOf(c)]; ok {
			return true
		}
	}
	return false
}
