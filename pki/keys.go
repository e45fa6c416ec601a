package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KeyType names a key algorithm and size.
type KeyType string

// The key types ccpki makes. ECDSA P-256 is the default: every Fabric
// component accepts it and it is fast.
const (
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyECDSAP384 KeyType = "ecdsa-p384"
	KeyEd25519   KeyType = "ed25519"
	KeyRSA2048   KeyType = "rsa-2048"
	KeyRSA3072   KeyType = "rsa-3072"
	KeyRSA4096   KeyType = "rsa-4096"
)

// DefaultKeyType is used when no key type is chosen.
const DefaultKeyType = KeyECDSAP256

// KeyTypes lists the accepted key types, for help texts and errors.
var keyTypes = []KeyType{KeyECDSAP256, KeyECDSAP384, KeyEd25519, KeyRSA2048, KeyRSA3072, KeyRSA4096}

// ParseKeyType checks a user-given key type name; "" gives the default.
func ParseKeyType(s string) (KeyType, error) {
	if s == "" {
		return DefaultKeyType, nil
	}
	for _, k := range keyTypes {
		if strings.EqualFold(s, string(k)) {
			return k, nil
		}
	}
	names := make([]string, len(keyTypes))
	for i, k := range keyTypes {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown key type %q; use one of %s", s, strings.Join(names, ", "))
}

// GenerateKey makes a new private key of type kt.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case KeyECDSAP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	_, err := ParseKeyType(string(kt))
	return nil, err
}

// KeyTypeOf tells the type of an existing public key, so a renewal can make
// a new key of the same kind.
func KeyTypeOf(pub crypto.PublicKey) (KeyType, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeyECDSAP256, nil
		case elliptic.P384():
			return KeyECDSAP384, nil
		}
	case ed25519.PublicKey:
		return KeyEd25519, nil
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return KeyRSA2048, nil
		case 3072:
			return KeyRSA3072, nil
		case 4096:
			return KeyRSA4096, nil
		}
	}
	return "", fmt.Errorf("unsupported public key %T", pub)
}

// EncodeKeyPEM serialises a private key as an unencrypted PKCS#8 PEM block.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKeyPEM reads the first private key in data (PKCS#8, SEC 1 "EC
// PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"). Errors never quote the key.
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found (want a PEM block of type PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)")
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("PEM block %q is encrypted or has headers; give an unencrypted key", block.Type)
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted; ccpki needs an unencrypted key file (mode 0600)")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q is not a valid private key: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

// ParseCertificatesPEM reads every CERTIFICATE block in data, in order. A
// file with no certificate, a broken block or a private key where
// certificates are expected is an error.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: not a valid certificate: %w", n, err)
			}
			certs = append(certs, c)
		case strings.Contains(block.Type, "PRIVATE KEY"):
			return nil, fmt.Errorf("PEM block %d is a private key, not a certificate; is this the key file?", n)
		default:
			return nil, fmt.Errorf("PEM block %d has type %q, want CERTIFICATE", n, block.Type)
		}
	}
	if len(certs) == 0 {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, errors.New("file is empty; want PEM certificates")
		}
		return nil, errors.New("no PEM certificate found (want -----BEGIN CERTIFICATE-----)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the last PEM block is not PEM; is the file truncated?")
	}
	return certs, nil
}

// EncodeCertificatesPEM concatenates certificates as PEM blocks.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// KeyMatches tells whether key is the private half of cert's public key.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	return key != nil && SamePublicKey(key.Public(), cert.PublicKey)
}

// SamePublicKey tells whether a and b are the same public key, e.g. a
// CSR's key and the key of the certificate a CA returned for it.
func SamePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ak, ok := a.(equaler)
	return ok && b != nil && ak.Equal(b)
}
