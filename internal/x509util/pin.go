package x509util

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrMalformedPin: a pin is in none of the forms ParsePin accepts.
var ErrMalformedPin = errors.New("malformed pin")

// PinPrefix starts the canonical pin form.
const PinPrefix = "sha256/"

// SPKIPin returns the SHA-256 of a certificate's SubjectPublicKeyInfo.
// Pinning the key rather than the certificate lets a CA or leaf be
// re-issued with the same key without changing the pin.
func SPKIPin(c *x509.Certificate) [sha256.Size]byte {
	return sha256.Sum256(c.RawSubjectPublicKeyInfo)
}

// FormatPin gives the canonical form: "sha256/" and the standard base64 of
// the digest (what `ccpki pin` prints and ccserver --pin takes).
func FormatPin(sum [sha256.Size]byte) string {
	return PinPrefix + base64.StdEncoding.EncodeToString(sum[:])
}

// ParsePin accepts, with surrounding white space:
//
//   - "sha256/" followed by the standard base64 of the 32-byte digest
//     (44 characters, padded), the canonical form;
//   - 64 hexadecimal digits, either case;
//   - 32 pairs of hexadecimal digits separated by colons, as openssl
//     prints a fingerprint.
//
// Colons are all or nothing: one between every pair, or none. Errors wrap
// ErrMalformedPin.
func ParsePin(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	in := strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(in, PinPrefix); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(b) != len(sum) {
			return sum, fmt.Errorf("%w: want %s followed by the standard base64 of 32 bytes (44 characters)", ErrMalformedPin, PinPrefix)
		}
		copy(sum[:], b)
		return sum, nil
	}
	h := in
	if strings.Contains(in, ":") {
		h = pairsWithColons(in, len(sum))
	}
	if len(h) == 2*len(sum) {
		if b, err := hex.DecodeString(h); err == nil {
			copy(sum[:], b)
			return sum, nil
		}
	}
	return sum, fmt.Errorf("%w: want %s<base64>, or 64 hex digits (colons between every pair allowed) of the SHA-256 of the certificate's SubjectPublicKeyInfo", ErrMalformedPin, PinPrefix)
}

// pairsWithColons returns s without its colons if it is n pairs of
// characters with a colon between every two pairs, else "".
func pairsWithColons(s string, n int) string {
	if len(s) != 3*n-1 {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i += 3 {
		if i+2 < len(s) && s[i+2] != ':' {
			return ""
		}
		b.WriteString(s[i : i+2])
	}
	return b.String()
}
