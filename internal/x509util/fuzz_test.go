package x509util_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ccserver/ccserver/internal/testpki"
	"github.com/ccserver/ccserver/internal/x509util"
)

// FuzzParsePrivateKey: no panic; an accepted key can sign; a refusal is
// classified by a sentinel and never repeats key material.
func FuzzParsePrivateKey(f *testing.F) {
	k := mustKeys(f)
	ecPKCS8, ecSEC1 := pkcs8(f, k.ec), sec1(f, k.ec)
	leaf := testpki.NewCA(f).Server(f, testpki.WithKey(k.ec))
	for _, seed := range [][]byte{
		pemOf("EC PRIVATE KEY", ecPKCS8),
		pemOf("EC PRIVATE KEY", ecSEC1),
		pemOf("PRIVATE KEY", pkcs8(f, k.ed)),
		pemOf("RSA PRIVATE KEY", pkcs8(f, k.rsa)),
		cat(leaf.ChainPEM, pemOf("PRIVATE KEY", ecPKCS8)),
		pemOf("ENCRYPTED PRIVATE KEY", encryptedPKCS8(f)),
		pemOf("RSA PRIVATE KEY", []byte{1, 2, 3}, "Proc-Type", "4,ENCRYPTED"),
		ecSEC1,
		ecPKCS8,
		encryptedPKCS8(f),
		[]byte("-----BEGIN " + "EC PRIVATE KEY-----\nAAAA\n"), // split: no key header in committed text
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := x509util.ParsePrivateKey(data)
		if err == nil {
			if key == nil || key.Public() == nil {
				t.Fatal("no error and no usable key")
			}
			return
		}
		if key != nil {
			t.Fatal("a key and an error")
		}
		if !isOneOf(err, x509util.ErrNoKey, x509util.ErrEncryptedKey, x509util.ErrMalformedKey, x509util.ErrUnsupportedKey) {
			t.Fatalf("unclassified error %v", err)
		}
		assertNoKeyMaterial(t, err, data)
	})
}

// FuzzParseCertificates: an accepted bundle is never empty.
func FuzzParseCertificates(f *testing.F) {
	ca := testpki.NewCA(f)
	l := ca.Intermediate(f).Server(f)
	f.Add(l.ChainPEM)
	f.Add(l.ChainPEM[:len(l.ChainPEM)-50])
	f.Add(cat(l.KeyPEM, l.CertPEM))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := x509util.ParseCertificates(data)
		switch {
		case err == nil && len(certs) == 0:
			t.Fatal("no error and no certificates")
		case err != nil && !isOneOf(err, x509util.ErrNoCertificate, x509util.ErrMalformedCertificate):
			t.Fatalf("unclassified error %v", err)
		}
	})
}

// FuzzParseCRLs: an accepted input yields at least one CRL.
func FuzzParseCRLs(f *testing.F) {
	ca := testpki.NewCA(f)
	now := time.Now()
	der := ca.CRL(f, now, now.Add(time.Hour))
	f.Add(der)
	f.Add(pemOf("X509 CRL", der))
	f.Add(cat(pemOf("X509 CRL", der), ca.CertPEM))
	f.Add(der[:len(der)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		crls, err := x509util.ParseCRLs(data)
		switch {
		case err == nil && (len(crls) == 0 || crls[0] == nil):
			t.Fatal("no error and no CRL")
		case err != nil && !isOneOf(err, x509util.ErrNoCRL, x509util.ErrMalformedCRL):
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func isOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
