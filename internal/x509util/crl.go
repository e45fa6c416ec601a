package x509util

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"
)

// ParseCRLs returns the CRLs of data: any number of PEM "X509 CRL" blocks
// (text and other blocks around them skipped), or one DER CRL. Signatures
// are not checked here; that needs the issuer. Errors wrap ErrNoCRL or
// ErrMalformedCRL.
func ParseCRLs(data []byte) ([]*x509.RevocationList, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the input is empty", ErrNoCRL)
	}
	blocks, tail := pemBlocks(data)
	if len(blocks) == 0 && !hasBegin(data) {
		rl, err := x509.ParseRevocationList(data)
		if err != nil {
			return nil, fmt.Errorf("%w: not PEM, and not a DER CRL: %w", ErrMalformedCRL, err)
		}
		return []*x509.RevocationList{rl}, nil
	}
	var out []*x509.RevocationList
	var others []string
	for _, b := range blocks {
		if err := corruptCRL(b.skipped, len(out)+1); err != nil {
			return nil, err
		}
		if b.Type != "X509 CRL" {
			others = append(others, label(b.Type))
			continue
		}
		rl, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: CRL %d: %w", ErrMalformedCRL, len(out)+1, err)
		}
		out = append(out, rl)
	}
	if err := corruptCRL(tail, len(out)+1); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if len(others) > 0 {
			return nil, fmt.Errorf("%w: only PEM blocks of type %s, want X509 CRL", ErrNoCRL, strings.Join(others, ", "))
		}
		return nil, fmt.Errorf("%w: no PEM block decodes (want PEM X509 CRL blocks or a DER CRL)", ErrNoCRL)
	}
	return out, nil
}

// ParseCRL returns the first CRL of data (PEM "X509 CRL" or DER); see
// ParseCRLs for inputs that hold several.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	crls, err := ParseCRLs(data)
	if err != nil {
		return nil, err
	}
	return crls[0], nil
}

func corruptCRL(labels []string, n int) error {
	for _, l := range labels {
		if l == "X509 CRL" {
			return fmt.Errorf("%w: CRL %d: the PEM block is truncated or corrupt", ErrMalformedCRL, n)
		}
	}
	return nil
}
