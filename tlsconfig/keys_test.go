package tlsconfig_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
	"github.com/ccserver/ccserver/tlsconfig"
)

func rsaKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyEncoding writes a key the way some real tool does.
type keyEncoding struct {
	name   string
	rsa    bool
	encode func(t testing.TB, k crypto.Signer) []byte
}

func marshalPKCS8(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func marshalSEC1(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

var keyEncodings = []keyEncoding{
	{name: "Fabric tlsgen (PKCS#8 labelled EC PRIVATE KEY)", encode: func(t testing.TB, k crypto.Signer) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: marshalPKCS8(t, k)})
	}},
	{name: "MSP keystore priv_sk (PKCS#8 PRIVATE KEY)", encode: func(t testing.TB, k crypto.Signer) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: marshalPKCS8(t, k)})
	}},
	{name: "openssl ecparam -genkey (EC PARAMETERS, SEC 1)", encode: func(t testing.TB, k crypto.Signer) []byte {
		params, err := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
		if err != nil {
			t.Fatal(err)
		}
		return append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: params}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: marshalSEC1(t, k)})...)
	}},
	{name: "SEC 1 with an unencrypted header", encode: func(t testing.TB, k crypto.Signer) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Comment": "node1"}, Bytes: marshalSEC1(t, k)})
	}},
	{name: "raw DER PKCS#8", encode: marshalPKCS8},
	{name: "PKCS#1 RSA PRIVATE KEY", rsa: true, encode: func(t testing.TB, k crypto.Signer) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey))})
	}},
}

// TestKeyEncodingsHandshake runs a real mTLS handshake for each key
// encoding, with the key as the server's file identity and as the client's
// static identity (the shim's client mode).
func TestKeyEncodingsHandshake(t *testing.T) {
	ca := testpki.NewCA(t)
	rsaK := rsaKey(t)
	for _, enc := range keyEncodings {
		t.Run(enc.name, func(t *testing.T) {
			key, clientKey := testpki.NewKey(t), testpki.NewKey(t)
			if enc.rsa {
				key, clientKey = rsaK, rsaK
			}
			server := ca.Server(t, testpki.WithKey(key))
			client := ca.Client(t, testpki.WithKey(clientKey))

			dir := t.TempDir()
			certFile, keyFile, _ := server.WriteFiles(t, dir)
			writeAtomic(t, keyFile, enc.encode(t, key), 0o600)
			fid, err := tlsconfig.NewFileIdentity(certFile, keyFile)
			if err != nil {
				t.Fatalf("file identity: %v", err)
			}
			defer fid.Close()
			srv, err := tlsconfig.ServerConfig(fid, tlsconfig.WithClientTrust(mustStaticTrust(t, ca.CertPEM)))
			if err != nil {
				t.Fatal(err)
			}

			sid, err := tlsconfig.StaticIdentity(client.ChainPEM, enc.encode(t, clientKey))
			if err != nil {
				t.Fatalf("static identity: %v", err)
			}
			cli, err := tlsconfig.ClientConfig(mustStaticTrust(t, ca.CertPEM), tlsconfig.WithServerName("localhost"), tlsconfig.WithClientIdentity(sid))
			if err != nil {
				t.Fatal(err)
			}
			r := handshake(t, srv, cli)
			if r.serverErr != nil || r.clientErr != nil {
				t.Fatalf("server: %v; client: %v", r.serverErr, r.clientErr)
			}
			if got := r.client.PeerCertificates[0].SerialNumber; got.Cmp(server.Cert.SerialNumber) != 0 {
				t.Fatalf("served serial %x", got)
			}
		})
	}
}

// TestEncryptedKeyRefused: an encrypted key file is refused at start with
// a FileError that says how to decrypt it, and the error wraps both
// ErrNoKey and x509util.ErrEncryptedKey.
func TestEncryptedKeyRefused(t *testing.T) {
	leaf := testpki.NewCA(t).Server(t)
	for name, block := range map[string]*pem.Block{
		"PKCS#8": {Type: "ENCRYPTED PRIVATE KEY", Bytes: encryptedPKCS8Shape(t)},
		"legacy": {Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: make([]byte, 128)},
	} {
		t.Run(name, func(t *testing.T) {
			certFile, keyFile, _ := leaf.WriteFiles(t, t.TempDir())
			writeAtomic(t, keyFile, pem.EncodeToMemory(block), 0o600)
			_, err := tlsconfig.NewFileIdentity(certFile, keyFile)
			if !errors.Is(err, tlsconfig.ErrNoKey) || !errors.Is(err, x509util.ErrEncryptedKey) {
				t.Fatalf("err = %v", err)
			}
			var fe *tlsconfig.FileError
			if !errors.As(err, &fe) || filepath.Base(fe.File) != "tls.key" || !strings.Contains(fe.Fix, "openssl pkey") {
				t.Fatalf("err = %v: want a FileError for tls.key whose fix says how to decrypt", err)
			}
		})
	}
}

// encryptedPKCS8Shape is the outer structure of an EncryptedPrivateKeyInfo
// (PBES2), enough for the parser to recognise it.
func encryptedPKCS8Shape(t testing.TB) []byte {
	t.Helper()
	type algo struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	der, err := asn1.Marshal(struct {
		Algo algo
		Data []byte
	}{algo{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}}, make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	return der
}
