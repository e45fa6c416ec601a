package tlsconfig

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Pin is the SHA-256 of a certificate's SubjectPublicKeyInfo. Pinning the
// key rather than the certificate lets a CA or leaf be re-issued with the
// same key without changing the pin.
type Pin [sha256.Size]byte

// PinOf returns the pin of a certificate.
func PinOf(c *x509.Certificate) Pin { return sha256.Sum256(c.RawSubjectPublicKeyInfo) }

// String gives the canonical form "sha256/<standard base64>".
func (p Pin) String() string { return "sha256/" + base64.StdEncoding.EncodeToString(p[:]) }

// ParsePin accepts "sha256/<standard base64>" or 64 hexadecimal characters
// (colons between byte pairs allowed, as printed by openssl).
func ParsePin(s string) (Pin, error) {
	var p Pin
	in := strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(in, "sha256/"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(b) != len(p) {
			return p, fmt.Errorf("tlsconfig: pin %q: %w: want sha256/ followed by the standard base64 of 32 bytes (44 characters); `ccpki pin` prints it", s, ErrBadOption)
		}
		copy(p[:], b)
		return p, nil
	}
	h := strings.ReplaceAll(in, ":", "")
	if len(h) == 2*len(p) {
		if b, err := hex.DecodeString(h); err == nil {
			copy(p[:], b)
			return p, nil
		}
	}
	return p, fmt.Errorf("tlsconfig: pin %q: %w: want sha256/<base64> or 64 hex characters of the SHA-256 of the certificate's SubjectPublicKeyInfo", s, ErrBadOption)
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
