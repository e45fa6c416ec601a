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
	"fmt"
	"strings"

	"github.com/ccserver/ccserver/internal/x509util"
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

// keyTypes lists the accepted key types, for errors.
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

// keyTypeOf tells the type of an existing public key, so a renewal can make
// a new key of the same kind.
func keyTypeOf(pub crypto.PublicKey) (KeyType, error) {
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

// ParseCertificatesPEM reads every CERTIFICATE block in data, in order,
// skipping text and other blocks (a key in a combined file). A file with no
// certificate, or a truncated or broken certificate block, is an error.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	return x509util.ParseCertificates(data)
}

// EncodeCertificatesPEM concatenates certificates as PEM blocks.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// keyMatches tells whether key is the private half of cert's public key.
func keyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	return key != nil && SamePublicKey(key.Public(), cert.PublicKey)
}

// SamePublicKey tells whether a and b are the same public key, e.g. a
// CSR's key and the key of the certificate a CA returned for it.
func SamePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ak, ok := a.(equaler)
	return ok && b != nil && ak.Equal(b)
}
