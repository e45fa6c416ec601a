package x509util

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"
)

// ParseCertificates returns every CERTIFICATE block of data, in order.
// Text and blocks of other types before, between and after them (a key in
// a combined file, "TRUSTED CERTIFICATE", comments) are skipped. A
// CERTIFICATE block that is truncated or does not parse is an error, so a
// half-written chain never reads as a shorter one. Errors wrap
// ErrNoCertificate or ErrMalformedCertificate and never quote the input.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	blocks, tail := pemBlocks(data)
	var certs []*x509.Certificate
	var sawKey bool
	var others []string
	for _, b := range blocks {
		if err := corruptCert(b.skipped, len(certs)+1); err != nil {
			return nil, err
		}
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate %d: %w", ErrMalformedCertificate, len(certs)+1, err)
			}
			certs = append(certs, c)
		case isKeyLabel(b.Type):
			sawKey = true
		default:
			others = append(others, label(b.Type))
		}
	}
	if err := corruptCert(tail, len(certs)+1); err != nil {
		return nil, err
	}
	if len(certs) > 0 {
		return certs, nil
	}
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return nil, fmt.Errorf("%w: the input is empty", ErrNoCertificate)
	case sawKey:
		return nil, fmt.Errorf("%w: the input is a private key, not a certificate; is this the key file?", ErrNoCertificate)
	case len(others) > 0:
		return nil, fmt.Errorf("%w: only PEM blocks of type %s, want CERTIFICATE", ErrNoCertificate, strings.Join(others, ", "))
	}
	return nil, fmt.Errorf("%w (want PEM CERTIFICATE blocks)", ErrNoCertificate)
}

// corruptCert reports a CERTIFICATE block pem.Decode stepped over; n is
// its position among the certificates.
func corruptCert(labels []string, n int) error {
	for _, l := range labels {
		if l == "CERTIFICATE" {
			return fmt.Errorf("%w: certificate %d: the PEM block is truncated or corrupt", ErrMalformedCertificate, n)
		}
	}
	return nil
}
