package x509util_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKeys are minted once per test binary: RSA generation is slow.
type testKeys struct {
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
	ed  ed25519.PrivateKey
}

var keysOnce = sync.OnceValues(func() (testKeys, error) {
	var k testKeys
	var err error
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return k, err
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return k, err
	}
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	return k, err
})

func mustKeys(t testing.TB) testKeys {
	t.Helper()
	k, err := keysOnce()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func sec1(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte, headers ...string) []byte {
	b := &pem.Block{Type: typ, Bytes: der}
	if len(headers) > 0 {
		b.Headers = map[string]string{}
		for i := 0; i+1 < len(headers); i += 2 {
			b.Headers[headers[i]] = headers[i+1]
		}
	}
	return pem.EncodeToMemory(b)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func mustASN1(t testing.TB, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// encryptedPKCS8 is the outer shape of an EncryptedPrivateKeyInfo (PBES2);
// the parser must recognise it without a password.
func encryptedPKCS8(t testing.TB) []byte {
	t.Helper()
	return mustASN1(t, struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13},
		Parameters: asn1.RawValue{FullBytes: mustASN1(t, []int{1})}}, bytes.Repeat([]byte{0xa5}, 64)})
}

func TestParsePrivateKey(t *testing.T) {
	k := mustKeys(t)
	ca := testpki.NewCA(t)
	leaf := ca.Intermediate(t).Server(t, testpki.WithKey(k.ec))
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pemOf("EC PARAMETERS", mustASN1(t, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}))
	ecPKCS8 := pkcs8(t, k.ec)
	ecSEC1 := sec1(t, k.ec)
	rsaPKCS1 := x509.MarshalPKCS1PrivateKey(k.rsa)
	type pkcs8Info struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	dsaPKCS8 := mustASN1(t, pkcs8Info{Algo: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}}, PrivateKey: []byte{2, 1, 5}})
	k1SEC1 := mustASN1(t, struct {
		Version    int
		PrivateKey []byte
		Curve      asn1.ObjectIdentifier `asn1:"explicit,tag:0"`
	}{1, bytes.Repeat([]byte{7}, 32), asn1.ObjectIdentifier{1, 3, 132, 0, 10}})
	legacyHeaders := []string{"Proc-Type", "4,ENCRYPTED", "DEK-Info", "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}
	ecPEM := pemOf("EC PRIVATE KEY", ecSEC1)

	for _, tc := range []struct {
		name    string
		in      []byte
		want    crypto.Signer // nil: want an error
		wantErr error
		wantMsg string // in the error
	}{
		// The encodings, labelled rightly and wrongly.
		{name: "Fabric tlsgen: PKCS#8 under EC PRIVATE KEY", in: pemOf("EC PRIVATE KEY", ecPKCS8), want: k.ec},
		{name: "SEC 1 under EC PRIVATE KEY", in: ecPEM, want: k.ec},
		{name: "PKCS#8 EC under PRIVATE KEY (MSP keystore priv_sk)", in: pemOf("PRIVATE KEY", ecPKCS8), want: k.ec},
		{name: "PKCS#8 RSA under PRIVATE KEY", in: pemOf("PRIVATE KEY", pkcs8(t, k.rsa)), want: k.rsa},
		{name: "PKCS#1 under RSA PRIVATE KEY", in: pemOf("RSA PRIVATE KEY", rsaPKCS1), want: k.rsa},
		{name: "PKCS#1 DER under PRIVATE KEY", in: pemOf("PRIVATE KEY", rsaPKCS1), want: k.rsa},
		{name: "PKCS#8 under RSA PRIVATE KEY", in: pemOf("RSA PRIVATE KEY", pkcs8(t, k.rsa)), want: k.rsa},
		{name: "SEC 1 under PRIVATE KEY", in: pemOf("PRIVATE KEY", ecSEC1), want: k.ec},
		{name: "Ed25519 PKCS#8", in: pemOf("PRIVATE KEY", pkcs8(t, k.ed)), want: k.ed},
		// What surrounds the key.
		{name: "key after a certificate chain", in: cat(leaf.ChainPEM, pemOf("PRIVATE KEY", ecPKCS8)), want: k.ec},
		{name: "EC PARAMETERS before the key (openssl ecparam -genkey)", in: cat(ecParams, ecPEM), want: k.ec},
		{name: "text before the PEM (openssl pkcs12 bag attributes)", in: cat([]byte("Bag Attributes\n    localKeyID: 01 02 03\nKey Attributes: <No Attributes>\n"), pemOf("PRIVATE KEY", ecPKCS8)), want: k.ec},
		{name: "unencrypted block with headers", in: pemOf("EC PRIVATE KEY", ecSEC1, "Comment", "made by hand"), want: k.ec},
		{name: "CRLF line endings", in: bytes.ReplaceAll(pemOf("EC PRIVATE KEY", ecPKCS8), []byte("\n"), []byte("\r\n")), want: k.ec},
		{name: "first of two keys", in: cat(ecPEM, pemOf("RSA PRIVATE KEY", rsaPKCS1)), want: k.ec},
		// Raw DER.
		{name: "raw DER PKCS#8", in: ecPKCS8, want: k.ec},
		{name: "raw DER SEC 1", in: ecSEC1, want: k.ec},
		{name: "raw DER PKCS#1", in: rsaPKCS1, want: k.rsa},
		{name: "raw DER Ed25519 PKCS#8", in: pkcs8(t, k.ed), want: k.ed},
		// Encrypted keys.
		{name: "encrypted PKCS#8", in: pemOf("ENCRYPTED PRIVATE KEY", encryptedPKCS8(t)), wantErr: x509util.ErrEncryptedKey, wantMsg: "openssl pkey -in KEY -out KEY.plain"},
		{name: "encrypted PKCS#8 under PRIVATE KEY", in: pemOf("PRIVATE KEY", encryptedPKCS8(t)), wantErr: x509util.ErrEncryptedKey, wantMsg: "decrypt it first"},
		{name: "encrypted PKCS#8 raw DER", in: encryptedPKCS8(t), wantErr: x509util.ErrEncryptedKey, wantMsg: "decrypt it first"},
		{name: "legacy encrypted RSA PEM", in: pemOf("RSA PRIVATE KEY", bytes.Repeat([]byte{0x5a}, 608), legacyHeaders...), wantErr: x509util.ErrEncryptedKey, wantMsg: "Proc-Type 4,ENCRYPTED"},
		{name: "legacy encrypted EC PEM", in: cat(ecParams, pemOf("EC PRIVATE KEY", bytes.Repeat([]byte{0x5a}, 128), legacyHeaders...)), wantErr: x509util.ErrEncryptedKey, wantMsg: "openssl pkey"},
		// Unsupported kinds.
		{name: "X25519 cannot sign", in: pemOf("PRIVATE KEY", pkcs8(t, x25519)), wantErr: x509util.ErrUnsupportedKey, wantMsg: "cannot sign"},
		{name: "DSA PKCS#8", in: pemOf("PRIVATE KEY", dsaPKCS8), wantErr: x509util.ErrUnsupportedKey, wantMsg: "DSA"},
		{name: "secp256k1 SEC 1", in: pemOf("EC PRIVATE KEY", k1SEC1), wantErr: x509util.ErrUnsupportedKey, wantMsg: "secp256k1"},
		{name: "OpenSSH format", in: pemOf("OPENSSH PRIVATE KEY", []byte("openssh-key-v1\x00rest")), wantErr: x509util.ErrUnsupportedKey, wantMsg: "OpenSSH"},
		// Broken and absent keys.
		{name: "garbage in a key block", in: pemOf("PRIVATE KEY", []byte{0, 0, 0}), wantErr: x509util.ErrMalformedKey, wantMsg: "PRIVATE KEY PEM block"},
		{name: "garbage text", in: []byte("this is not a key\n"), wantErr: x509util.ErrNoKey, wantMsg: "neither PEM nor a DER"},
		{name: "garbage bytes", in: []byte{0x30, 0x03, 0x02, 0x01, 0x00, 0xff, 0xfe}, wantErr: x509util.ErrNoKey},
		{name: "empty", in: nil, wantErr: x509util.ErrNoKey, wantMsg: "empty"},
		{name: "whitespace", in: []byte(" \n\t\n"), wantErr: x509util.ErrNoKey, wantMsg: "empty"},
		{name: "truncated PEM key", in: ecPEM[:len(ecPEM)/2], wantErr: x509util.ErrMalformedKey, wantMsg: "truncated"},
		{name: "corrupt key before a good one", in: cat(ecPEM[:len(ecPEM)-30], []byte("\n"), pemOf("RSA PRIVATE KEY", rsaPKCS1)), wantErr: x509util.ErrMalformedKey, wantMsg: "EC PRIVATE KEY PEM block is truncated"},
		{name: "certificate file", in: leaf.ChainPEM, wantErr: x509util.ErrNoKey, wantMsg: "certificate file"},
		{name: "DER certificate", in: leaf.Cert.Raw, wantErr: x509util.ErrNoKey, wantMsg: "DER certificate"},
		{name: "EC PARAMETERS alone", in: ecParams, wantErr: x509util.ErrNoKey, wantMsg: "EC PARAMETERS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := x509util.ParsePrivateKey(tc.in)
			if tc.want != nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want.Public()) {
					t.Fatalf("parsed a different key (%T)", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, got %T", got)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %q, want it to mention %q", err, tc.wantMsg)
			}
			assertNoKeyMaterial(t, err, tc.in)
		})
	}
}

// assertNoKeyMaterial fails if err repeats any PEM body, decoded block or
// (binary) raw input of in.
func assertNoKeyMaterial(t testing.TB, err error, in []byte) {
	t.Helper()
	msg := []byte(err.Error())
	if bytes.Contains(msg, []byte("-----BEGIN")) {
		t.Fatalf("error quotes PEM: %q", msg)
	}
	for rest := in; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		enc := base64.StdEncoding.EncodeToString(b.Bytes)
		if len(b.Bytes) >= 16 && (bytes.Contains(msg, b.Bytes) || strings.Contains(err.Error(), enc[:20])) {
			t.Fatalf("error quotes the key block: %q", msg)
		}
	}
	if len(in) >= 16 && bytes.Contains(msg, in[:16]) {
		t.Fatalf("error quotes the raw input: %q", msg)
	}
}

// TestParsePrivateKeyLabelIsOnlyAHint: every encoding is read under every
// label, as tls.X509KeyPair does (Fabric peers use it, so whatever they
// accept must work with us too).
func TestParsePrivateKeyLabelIsOnlyAHint(t *testing.T) {
	k := mustKeys(t)
	ders := map[string][]byte{
		"PKCS#8 EC": pkcs8(t, k.ec), "SEC 1": sec1(t, k.ec), "PKCS#1": x509.MarshalPKCS1PrivateKey(k.rsa),
		"PKCS#8 RSA": pkcs8(t, k.rsa), "PKCS#8 Ed25519": pkcs8(t, k.ed),
	}
	for name, der := range ders {
		for _, typ := range []string{"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"} {
			if _, err := x509util.ParsePrivateKey(pemOf(typ, der)); err != nil {
				t.Errorf("%s under %q: %v", name, typ, err)
			}
		}
	}
}
