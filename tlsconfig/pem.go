package tlsconfig

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/ccserver/ccserver/internal/x509util"
)

// parseCertsPEM returns every CERTIFICATE block of data, in order, other
// blocks and text skipped. Every failure wraps ErrNoCertificate: a
// truncated or broken chain is as unusable as a missing one.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	certs, err := x509util.ParseCertificates(data)
	if err != nil {
		return nil, classed(err, ErrNoCertificate)
	}
	return certs, nil
}

// parseKeyPEM returns the first private key of data, in any encoding real
// tools write (x509util.ParsePrivateKey). Errors wrap ErrNoKey and never
// quote the input, since it is secret.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	k, err := x509util.ParsePrivateKey(data)
	if err != nil {
		return nil, classed(err, ErrNoKey)
	}
	return k, nil
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
	if errors.Is(err, x509util.ErrEncryptedKey) {
		return nil, fileErr(keyName, err, "decrypt the key (openssl pkey -in KEY -out KEY.plain) and put the plain key, mode 0600, in %s", keyName)
	}
	if err != nil {
		return nil, fileErr(keyName, err, "put the PEM private key (PKCS#8, SEC 1 or PKCS#1) for the certificate in %s", keyName)
	}
	leaf := chain[0]
	if pk, ok := key.Public().(publicKeyEqualer); !ok || !pk.Equal(leaf.PublicKey) {
		return nil, fileErr(keyName, ErrKeyMismatch, "%s and %s must be issued together; replace both from the same issuance", certName, keyName)
	}
	if err := checkValidity(leaf, now); err != nil {
		fix := "renew the certificate and replace " + certName
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
