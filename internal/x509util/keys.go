package x509util

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"strings"
)

// decryptHint is how to fix an encrypted key; the services read keys
// unattended, so there is no password to ask for.
const decryptHint = "decrypt it first, e.g. openssl pkey -in KEY -out KEY.plain, and use the plain key (file mode 0600)"

// ParsePrivateKey returns the first private key in data.
//
// data may be PEM: any block whose type ends in "PRIVATE KEY" is tried as
// PKCS#8, SEC 1 and PKCS#1 whatever its label says (the label only decides
// the order), because real tools mislabel keys: Fabric's tlsgen writes
// PKCS#8 under "EC PRIVATE KEY". Certificates, "EC PARAMETERS", other
// blocks and text around the key are skipped, and so are PEM headers of
// unencrypted blocks. Without any PEM, data is tried as a DER key in the
// same three encodings.
//
// Encrypted keys (PKCS#8 "ENCRYPTED PRIVATE KEY", legacy Proc-Type
// 4,ENCRYPTED) are refused with ErrEncryptedKey. Errors wrap ErrNoKey,
// ErrEncryptedKey, ErrMalformedKey or ErrUnsupportedKey and never contain
// key bytes.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the input is empty", ErrNoKey)
	}
	blocks, tail := pemBlocks(data)
	if len(blocks) == 0 {
		if hasBegin(data) {
			if err := corruptKey(tail); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: no PEM block decodes (truncated or corrupt file?)", ErrNoKey)
		}
		return parseDERKey(data)
	}
	var others []string
	for _, b := range blocks {
		if err := corruptKey(b.skipped); err != nil {
			return nil, err
		}
		if !isKeyLabel(b.Type) {
			others = append(others, label(b.Type))
			continue
		}
		return parseKeyBlock(b.Block)
	}
	if err := corruptKey(tail); err != nil {
		return nil, err
	}
	hint := ""
	for _, t := range others {
		if t == "CERTIFICATE" {
			hint = "; is this the certificate file?"
			break
		}
	}
	return nil, fmt.Errorf("%w: no PEM private key block, only %s%s", ErrNoKey, strings.Join(others, ", "), hint)
}

func isKeyLabel(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }

// corruptKey reports a key block that pem.Decode could not read: taking a
// later key instead, or saying there is none, would mislead.
func corruptKey(labels []string) error {
	for _, l := range labels {
		if isKeyLabel(l) {
			return fmt.Errorf("%w: the %s PEM block is truncated or corrupt", ErrMalformedKey, label(l))
		}
	}
	return nil
}

type keyParser func([]byte) (any, error)

func parsePKCS8(der []byte) (any, error) { return x509.ParsePKCS8PrivateKey(der) }

func parseSEC1(der []byte) (any, error) {
	k, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return k, nil
}

func parsePKCS1(der []byte) (any, error) {
	k, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// parsersFor orders the three encodings by what the label suggests.
func parsersFor(pemType string) []keyParser {
	switch {
	case strings.HasPrefix(pemType, "EC "):
		return []keyParser{parseSEC1, parsePKCS8, parsePKCS1}
	case strings.HasPrefix(pemType, "RSA "):
		return []keyParser{parsePKCS1, parsePKCS8, parseSEC1}
	}
	return []keyParser{parsePKCS8, parseSEC1, parsePKCS1}
}

func parseKeyBlock(b *pem.Block) (crypto.Signer, error) {
	name := label(b.Type)
	switch {
	case b.Type == "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w (PKCS#8 ENCRYPTED PRIVATE KEY): %s", ErrEncryptedKey, decryptHint)
	case legacyEncrypted(b.Headers):
		return nil, fmt.Errorf("%w (%s block with Proc-Type 4,ENCRYPTED): %s", ErrEncryptedKey, name, decryptHint)
	case b.Type == "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("%w: an OpenSSH-format key; TLS needs a PKCS#8, SEC 1 or PKCS#1 key", ErrUnsupportedKey)
	}
	for _, p := range parsersFor(b.Type) {
		if k, err := p(b.Bytes); err == nil {
			return signer(k)
		}
	}
	if err := diagnose(b.Bytes); err != nil {
		return nil, fmt.Errorf("the %s PEM block: %w", name, err)
	}
	return nil, fmt.Errorf("%w: the %s PEM block is not a PKCS#8, SEC 1 or PKCS#1 key", ErrMalformedKey, name)
}

// legacyEncrypted reports OpenSSL's pre-PKCS#8 encryption headers
// (RFC 1421: Proc-Type: 4,ENCRYPTED and DEK-Info).
func legacyEncrypted(h map[string]string) bool {
	for k, v := range h {
		switch {
		case strings.EqualFold(k, "Proc-Type") && strings.Contains(strings.ToUpper(v), "ENCRYPTED"):
			return true
		case strings.EqualFold(k, "DEK-Info"):
			return true
		}
	}
	return false
}

func parseDERKey(der []byte) (crypto.Signer, error) {
	for _, p := range parsersFor("") {
		if k, err := p(der); err == nil {
			return signer(k)
		}
	}
	if err := diagnose(der); err != nil {
		return nil, fmt.Errorf("the DER input: %w", err)
	}
	if _, err := x509.ParseCertificate(der); err == nil {
		return nil, fmt.Errorf("%w: the input is a DER certificate, not a private key", ErrNoKey)
	}
	return nil, fmt.Errorf("%w: the input is neither PEM nor a DER private key (PKCS#8, SEC 1 or PKCS#1)", ErrNoKey)
}

func signer(k any) (crypto.Signer, error) {
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: a %T cannot sign; TLS needs an ECDSA, RSA or Ed25519 key", ErrUnsupportedKey, k)
	}
	return s, nil
}

var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECDSA     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidX25519    = asn1.ObjectIdentifier{1, 3, 101, 110}
	knownCurves  = []asn1.ObjectIdentifier{{1, 3, 132, 0, 33}, {1, 2, 840, 10045, 3, 1, 7}, {1, 3, 132, 0, 34}, {1, 3, 132, 0, 35}}
	oidAlgoNames = map[string]string{
		"1.2.840.10040.4.1":     "DSA",
		"1.2.840.113549.1.1.10": "RSASSA-PSS",
		"1.3.101.111":           "X448",
		"1.3.101.113":           "Ed448",
		"1.2.156.10197.1.301":   "SM2",
	}
	oidCurveNames = map[string]string{"1.3.132.0.10": "secp256k1", "1.2.156.10197.1.301": "SM2"}
)

// diagnose explains, from the outer ASN.1 structure alone, why der is not a
// usable key: an encrypted PKCS#8 key, or an algorithm or curve crypto/x509
// does not support. It returns nil when it has nothing better than
// "malformed". Only OIDs, never key bytes, go into the message.
func diagnose(der []byte) error {
	var enc struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}
	if rest, err := asn1.Unmarshal(der, &enc); err == nil && len(rest) == 0 && len(enc.Algo.Algorithm) > 0 {
		return fmt.Errorf("%w (PKCS#8 EncryptedPrivateKeyInfo): %s", ErrEncryptedKey, decryptHint)
	}
	var p8 struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
		Attributes asn1.RawValue `asn1:"optional,tag:0"`
		PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
	}
	if rest, err := asn1.Unmarshal(der, &p8); err == nil && len(rest) == 0 {
		switch oid := p8.Algo.Algorithm; {
		case oid.Equal(oidECDSA):
			var curve asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(p8.Algo.Parameters.FullBytes, &curve); err == nil {
				return unknownCurve(curve)
			}
		case oid.Equal(oidRSA), oid.Equal(oidEd25519), oid.Equal(oidX25519):
		default:
			return fmt.Errorf("%w: a PKCS#8 key of algorithm %s; TLS here needs ECDSA, RSA or Ed25519", ErrUnsupportedKey, oidName(oid, oidAlgoNames))
		}
		return nil
	}
	var sec1 struct {
		Version    int
		PrivateKey []byte
		Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
		PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
	}
	if rest, err := asn1.Unmarshal(der, &sec1); err == nil && len(rest) == 0 && sec1.Version == 1 && len(sec1.Curve) > 0 {
		return unknownCurve(sec1.Curve)
	}
	return nil
}

func unknownCurve(curve asn1.ObjectIdentifier) error {
	for _, c := range knownCurves {
		if curve.Equal(c) {
			return nil
		}
	}
	return fmt.Errorf("%w: an EC key on curve %s; use P-256, P-384 or P-521", ErrUnsupportedKey, oidName(curve, oidCurveNames))
}

func oidName(oid asn1.ObjectIdentifier, names map[string]string) string {
	s := oid.String()
	if n, ok := names[s]; ok {
		return n + " (" + s + ")"
	}
	return s
}
