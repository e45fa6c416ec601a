package tlsconfig

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// parseCertsPEM returns every CERTIFICATE block of data, in order.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	return certs, nil
}

// parseKeyPEM returns the first private key of data. Errors never quote
// the input, since it is secret.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, ErrNoKey
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: the key is encrypted; decrypt it first", ErrNoKey)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: malformed %s block", ErrNoKey, b.Type)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: unsupported key type %T", ErrNoKey, k)
		}
		return s, nil
	}
}

type publicKeyEqualer interface{ Equal(crypto.PublicKey) bool }

// checkValidity refuses a leaf outside its validity window.
func checkValidity(leaf *x509.Certificate, now time.Time) error {
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("%w: NotBefore is %s", ErrNotYetValid, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: NotAfter was %s", ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// buildIdentity parses a certificate chain and key and checks that they
// belong together and that the leaf is valid now. certName and keyName
// label the inputs in errors.
func buildIdentity(certPEM, keyPEM []byte, certName, keyName string, now time.Time) (*tls.Certificate, error) {
	chain, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, fileErr(certName, err, "put the PEM certificate chain, leaf first, in %s", certName)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fileErr(keyName, err, "put the PEM private key (PKCS#8, SEC1 or PKCS#1) for the certificate in %s", keyName)
	}
	leaf := chain[0]
	if pk, ok := key.Public().(publicKeyEqualer); !ok || !pk.Equal(leaf.PublicKey) {
		return nil, fileErr(keyName, ErrKeyMismatch, "%s and %s must be issued together; replace both from the same issuance", certName, keyName)
	}
	if err := checkValidity(leaf, now); err != nil {
		fix := "renew the certificate (ccpki renew) and replace " + certName
		if errors.Is(err, ErrNotYetValid) {
			fix = "check the system clock, or wait until the certificate's NotBefore"
		}
		return nil, fileErr(certName, err, "%s", fix)
	}
	c := &tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true // no EKU extension: any use
	}
	for _, u := range c.ExtKeyUsage {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}
