package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
)

// TestReadKeyEncodings: every key file ccpki takes (--client-key, CA keys,
// renew's tls.key) is read in the encodings Fabric's tools write, and an
// encrypted key is refused with the way to fix it.
func TestReadKeyEncodings(t *testing.T) {
	key := testpki.NewKey(t).(*ecdsa.PrivateKey)
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	params, err := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte, h map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: h, Bytes: der})
	}
	for _, tc := range []struct {
		name    string
		file    string
		data    []byte
		wantErr error
	}{
		{name: "MSP keystore priv_sk (cryptogen, fabric-ca)", file: "msp/keystore/priv_sk", data: enc("PRIVATE KEY", p8, nil)},
		{name: "Fabric tlsgen (PKCS#8 as EC PRIVATE KEY)", file: "tls.key", data: enc("EC PRIVATE KEY", p8, nil)},
		{name: "SEC 1 after EC PARAMETERS", file: "tls.key", data: append(enc("EC PARAMETERS", params, nil), enc("EC PRIVATE KEY", sec1, nil)...)},
		{name: "unencrypted block with a header", file: "tls.key", data: enc("EC PRIVATE KEY", sec1, map[string]string{"Comment": "peer0"})},
		{name: "legacy encrypted", file: "tls.key", data: enc("EC PRIVATE KEY", make([]byte, 128), map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}),
			wantErr: x509util.ErrEncryptedKey},
		{name: "a certificate instead of a key", file: "tls.key", data: testpki.NewCA(t).CertPEM, wantErr: x509util.ErrNoKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadKey(path, ReadOptions{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want %v naming %s", err, tc.wantErr, path)
				}
				if errors.Is(err, x509util.ErrEncryptedKey) && !strings.Contains(err.Error(), "openssl pkey") {
					t.Fatalf("err = %v: want the way to decrypt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !keyMatches(&x509.Certificate{PublicKey: &key.PublicKey}, got) {
				t.Fatal("read a different key")
			}
		})
	}
}

// TestParseCertificatesAndCRLSkipOtherBlocks: a combined cert+key file and
// openssl's text output around the PEM read as the certificates alone; a
// truncated chain does not read as a shorter one.
func TestParseCertificatesAndCRLSkipOtherBlocks(t *testing.T) {
	ca := testpki.NewCA(t)
	inter := ca.Intermediate(t)
	leaf := inter.Server(t)
	combined := append(append([]byte("subject=CN = testpki leaf\n"), leaf.ChainPEM...), leaf.KeyPEM...)
	certs, err := ParseCertificatesPEM(combined)
	if err != nil || len(certs) != 2 || !certs[0].Equal(leaf.Cert) || !certs[1].Equal(inter.Cert) {
		t.Fatalf("combined file: %d certificates, %v", len(certs), err)
	}
	if _, err := ParseCertificatesPEM(leaf.ChainPEM[:len(leaf.ChainPEM)-30]); !errors.Is(err, x509util.ErrMalformedCertificate) {
		t.Fatalf("truncated chain: %v", err)
	}
	now := time.Now()
	der := ca.CRL(t, now, now.Add(time.Hour))
	text := append([]byte("Certificate Revocation List (CRL):\n"), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})...)
	for name, in := range map[string][]byte{"DER": der, "PEM after text": text} {
		if crl, err := x509util.ParseCRL(in); err != nil || crl.Issuer.String() != ca.Cert.Subject.String() {
			t.Fatalf("%s CRL: %v", name, err)
		}
	}
}
